using System.Collections.Frozen;
using System.Collections.Immutable;

namespace Istio.AppSwitch.Dataplane.Policy;

/// <summary>
/// The lookup structure of a set of refs, built once per change of the refs (a change of the services reuses
/// it): a dictionary of exact <c>IP:PORT</c> VIPs, and per address family one dictionary per CIDR prefix length
/// that some ref uses, longest first. A lookup costs one probe for the exact VIPs plus at most two per prefix
/// length in use (its exact port, then <c>*</c>): with 10,000 refs over a handful of prefix lengths, a handful of
/// hash probes, whatever the number of refs.
/// </summary>
internal sealed class RefIndex
{
    private RefIndex(
        ImmutableArray<ServiceRef> refs,
        RefRoute[] routes,
        FrozenDictionary<RouteKey, RefRoute[]> exact,
        PrefixTable[] v4,
        PrefixTable[] v6,
        FrozenDictionary<string, RefRoute> byName)
    {
        Refs = refs;
        Routes = routes;
        Exact = exact;
        V4 = v4;
        V6 = v6;
        ByName = byName;
    }

    public static RefIndex Empty { get; } = Build([]);

    /// <summary>The refs, ordered by name.</summary>
    public ImmutableArray<ServiceRef> Refs { get; }

    /// <summary>One route per ref; a route's <see cref="RefRoute.Slot"/> is its index here.</summary>
    public RefRoute[] Routes { get; }

    /// <summary>Refs with an exact <c>IP:PORT</c> VIP, by that VIP.</summary>
    public FrozenDictionary<RouteKey, RefRoute[]> Exact { get; }

    /// <summary>IPv4 CIDR (and <c>IP:*</c>) refs, one table per prefix length, longest prefix first.</summary>
    public PrefixTable[] V4 { get; }

    /// <summary>IPv6 CIDR (and <c>[IP]:*</c>) refs, one table per prefix length, longest prefix first.</summary>
    public PrefixTable[] V6 { get; }

    /// <summary>The routes by ref name.</summary>
    public FrozenDictionary<string, RefRoute> ByName { get; }

    public static RefIndex Build(ImmutableArray<ServiceRef> refs)
    {
        var routes = new RefRoute[refs.Length];
        var exact = new Dictionary<RouteKey, List<RefRoute>>();
        var v4 = new Dictionary<int, Dictionary<RouteKey, List<RefRoute>>>();
        var v6 = new Dictionary<int, Dictionary<RouteKey, List<RefRoute>>>();
        for (var i = 0; i < refs.Length; i++)
        {
            var reference = refs[i];
            var route = routes[i] = new RefRoute(reference, i);
            var key = RouteKey.FromVip(reference.Vip);
            Dictionary<RouteKey, List<RefRoute>> bucket;
            if (reference.Vip.IsExact)
            {
                bucket = exact;
            }
            else
            {
                var byLength = reference.Vip.Family == System.Net.Sockets.AddressFamily.InterNetwork ? v4 : v6;
                if (!byLength.TryGetValue(reference.Vip.PrefixLength, out bucket!))
                {
                    byLength[reference.Vip.PrefixLength] = bucket = [];
                }
            }
            if (!bucket.TryGetValue(key, out var list))
            {
                bucket[key] = list = [];
            }
            list.Add(route);
        }
        return new RefIndex(
            refs,
            routes,
            Freeze(exact),
            Tables(v4),
            Tables(v6),
            routes.ToFrozenDictionary(r => r.Ref.Name, StringComparer.Ordinal));
    }

    private static PrefixTable[] Tables(Dictionary<int, Dictionary<RouteKey, List<RefRoute>>> byLength) =>
        byLength.OrderByDescending(p => p.Key).Select(p => new PrefixTable(p.Key, Freeze(p.Value))).ToArray();

    /// <summary>
    /// Freezes the buckets, each ordered so that the first ref whose client selector matches is the one to use:
    /// the most specific client selector first, then by name (so that equal ones are decided the same way every time).
    /// </summary>
    private static FrozenDictionary<RouteKey, RefRoute[]> Freeze(Dictionary<RouteKey, List<RefRoute>> buckets) =>
        buckets.ToFrozenDictionary(
            p => p.Key,
            p => p.Value
                .OrderByDescending(r => r.Ref.Clients.Specificity)
                .ThenBy(r => r.Ref.Name, StringComparer.Ordinal)
                .ToArray());
}

/// <summary>A ref in the index, and the slot of its backends in a snapshot.</summary>
internal sealed class RefRoute(ServiceRef reference, int slot)
{
    public ServiceRef Ref { get; } = reference;

    public int Slot { get; } = slot;
}

/// <summary>The CIDR refs of one prefix length, by network address and port (<see cref="RouteKey.AnyPort"/> for <c>*</c>).</summary>
internal sealed class PrefixTable(int prefixLength, FrozenDictionary<RouteKey, RefRoute[]> routes)
{
    public int PrefixLength { get; } = prefixLength;

    public FrozenDictionary<RouteKey, RefRoute[]> Routes { get; } = routes;
}
