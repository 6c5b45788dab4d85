using System.Net.Sockets;

namespace Istio.AppSwitch.Dataplane.Policy;

/// <summary>
/// The lookup structure of a set of refs: exact <c>IP:PORT</c> VIPs in one map, and per address family one map per
/// CIDR prefix length that some ref uses, longest first. A lookup costs one probe for the exact VIPs plus at most
/// two per prefix length in use (its exact port, then <c>*</c>): with 10,000 refs over a handful of prefix
/// lengths, a handful of probes, whatever the number of refs.
/// </summary>
/// <remarks>
/// Immutable. <see cref="Change"/> makes the next index from this one by path copying (<see cref="HashTrie{TKey,
/// TValue}"/>): a ref created or deleted costs O(log n) new nodes plus its bucket, not a rebuild of every table.
/// Rebuilding frozen tables on each of 1,000 creates left about half a gigabyte of garbage, and ~20 MB of it
/// stayed committed in the GC heap.
/// </remarks>
internal sealed class RefIndex
{
    private ServiceRef[]? _sorted;

    private RefIndex(HashTrie<RouteKey, RefRoute[]> exact, PrefixTable[] v4, PrefixTable[] v6, HashTrie<string, RefRoute> byName)
    {
        Exact = exact;
        V4 = v4;
        V6 = v6;
        ByName = byName;
    }

    public static RefIndex Empty { get; } = new(HashTrie<RouteKey, RefRoute[]>.Empty, [], [], HashTrie<string, RefRoute>.Empty);

    /// <summary>Refs with an exact <c>IP:PORT</c> VIP, by that VIP; each bucket in the order refs are tried.</summary>
    public HashTrie<RouteKey, RefRoute[]> Exact { get; }

    /// <summary>IPv4 CIDR (and <c>IP:*</c>) refs, one table per prefix length, longest prefix first.</summary>
    public PrefixTable[] V4 { get; }

    /// <summary>IPv6 CIDR (and <c>[IP]:*</c>) refs, one table per prefix length, longest prefix first.</summary>
    public PrefixTable[] V6 { get; }

    /// <summary>The routes by ref name.</summary>
    public HashTrie<string, RefRoute> ByName { get; }

    /// <summary>How many refs the index holds.</summary>
    public int Count => ByName.Count;

    /// <summary>The refs, ordered by name. Sorted on first use and kept: only the API and tests ask.</summary>
    public IReadOnlyList<ServiceRef> Refs
    {
        get
        {
            if (Volatile.Read(ref _sorted) is { } sorted)
            {
                return sorted;
            }
            sorted = [.. ByName.Values.Select(r => r.Ref).OrderBy(r => r.Name, StringComparer.Ordinal)];
            // Two readers may both sort; they store equal arrays.
            Volatile.Write(ref _sorted, sorted);
            return sorted;
        }
    }

    /// <summary>
    /// The index without the refs named in <paramref name="removed"/> (unknown names are skipped) and with
    /// <paramref name="added"/>, each replacing a route of the same name if there is one.
    /// </summary>
    public RefIndex Change(ReadOnlySpan<string> removed, ReadOnlySpan<RefRoute> added)
    {
        var exact = Exact;
        var v4 = V4;
        var v6 = V6;
        var byName = ByName;
        foreach (var name in removed)
        {
            if (byName.TryGetValue(name, out var old))
            {
                byName = byName.Remove(name);
                Unlink(old, ref exact, ref v4, ref v6);
            }
        }
        foreach (var route in added)
        {
            if (byName.TryGetValue(route.Ref.Name, out var old))
            {
                Unlink(old, ref exact, ref v4, ref v6);
            }
            byName = byName.SetItem(route.Ref.Name, route);
            Link(route, ref exact, ref v4, ref v6);
        }
        return new RefIndex(exact, v4, v6, byName);
    }

    private static void Link(RefRoute route, ref HashTrie<RouteKey, RefRoute[]> exact, ref PrefixTable[] v4, ref PrefixTable[] v6)
    {
        var vip = route.Ref.Vip;
        if (vip.IsExact)
        {
            exact = WithRoute(exact, route);
            return;
        }
        ref var tables = ref vip.Family == AddressFamily.InterNetwork ? ref v4 : ref v6;
        var at = 0;
        while (at < tables.Length && tables[at].PrefixLength > vip.PrefixLength)
        {
            at++;
        }
        if (at < tables.Length && tables[at].PrefixLength == vip.PrefixLength)
        {
            tables = [.. tables.AsSpan(0, at), new PrefixTable(vip.PrefixLength, WithRoute(tables[at].Routes, route)), .. tables.AsSpan(at + 1)];
        }
        else
        {
            tables = [.. tables.AsSpan(0, at), new PrefixTable(vip.PrefixLength, WithRoute(HashTrie<RouteKey, RefRoute[]>.Empty, route)), .. tables.AsSpan(at)];
        }
    }

    private static void Unlink(RefRoute route, ref HashTrie<RouteKey, RefRoute[]> exact, ref PrefixTable[] v4, ref PrefixTable[] v6)
    {
        var vip = route.Ref.Vip;
        if (vip.IsExact)
        {
            exact = WithoutRoute(exact, route);
            return;
        }
        ref var tables = ref vip.Family == AddressFamily.InterNetwork ? ref v4 : ref v6;
        var at = Array.FindIndex(tables, t => t.PrefixLength == vip.PrefixLength);
        if (at < 0)
        {
            return;
        }
        var routes = WithoutRoute(tables[at].Routes, route);
        // A prefix length no ref uses any more costs every lookup two probes for nothing: drop its table.
        tables = routes.Count == 0
            ? [.. tables.AsSpan(0, at), .. tables.AsSpan(at + 1)]
            : [.. tables.AsSpan(0, at), new PrefixTable(vip.PrefixLength, routes), .. tables.AsSpan(at + 1)];
    }

    /// <summary>
    /// Adds <paramref name="route"/> to its bucket, which stays ordered so that the first ref whose client selector
    /// matches is the one to use: the most specific client selector first, then by name (so that equal ones are
    /// decided the same way every time).
    /// </summary>
    private static HashTrie<RouteKey, RefRoute[]> WithRoute(HashTrie<RouteKey, RefRoute[]> table, RefRoute route)
    {
        var bucket = table.TryGetValue(route.Key, out var existing) ? existing : [];
        var at = 0;
        while (at < bucket.Length && Precedes(bucket[at], route))
        {
            at++;
        }
        return table.SetItem(route.Key, [.. bucket.AsSpan(0, at), route, .. bucket.AsSpan(at)]);
    }

    private static HashTrie<RouteKey, RefRoute[]> WithoutRoute(HashTrie<RouteKey, RefRoute[]> table, RefRoute route)
    {
        if (!table.TryGetValue(route.Key, out var bucket))
        {
            return table;
        }
        var at = Array.IndexOf(bucket, route);
        if (at < 0)
        {
            return table;
        }
        return bucket.Length == 1
            ? table.Remove(route.Key)
            : table.SetItem(route.Key, [.. bucket.AsSpan(0, at), .. bucket.AsSpan(at + 1)]);
    }

    private static bool Precedes(RefRoute a, RefRoute b)
    {
        var bySpecificity = b.Ref.Clients.Specificity.CompareTo(a.Ref.Clients.Specificity);
        return bySpecificity != 0 ? bySpecificity < 0 : string.CompareOrdinal(a.Ref.Name, b.Ref.Name) < 0;
    }
}

/// <summary>A ref in the index, its lookup key, and its backends in one snapshot. Immutable.</summary>
internal sealed class RefRoute
{
    public RefRoute(ServiceRef reference, RefBackends backends, LoadBalancing.MeshBackends? mesh = null)
        : this(reference, RouteKey.FromVip(reference.Vip), backends, mesh)
    {
    }

    private RefRoute(ServiceRef reference, RouteKey key, RefBackends backends, LoadBalancing.MeshBackends? mesh)
    {
        Ref = reference;
        Key = key;
        Backends = backends;
        Mesh = mesh;
    }

    /// <summary>For a mesh service's route, its clusters; null for a user's ref.</summary>
    public LoadBalancing.MeshBackends? Mesh { get; }

    public ServiceRef Ref { get; }

    /// <summary>The key of the ref's VIP in the table of its own prefix length.</summary>
    public RouteKey Key { get; }

    /// <summary>The live services the ref's selector matches.</summary>
    public RefBackends Backends { get; }

    /// <summary>The same ref with other backends (the registry changed).</summary>
    public RefRoute WithBackends(RefBackends backends) => new(Ref, Key, backends, Mesh);
}

/// <summary>The CIDR refs of one prefix length, by network address and port (<see cref="RouteKey.AnyPort"/> for <c>*</c>).</summary>
internal sealed class PrefixTable(int prefixLength, HashTrie<RouteKey, RefRoute[]> routes)
{
    public int PrefixLength { get; } = prefixLength;

    public HashTrie<RouteKey, RefRoute[]> Routes { get; } = routes;
}
