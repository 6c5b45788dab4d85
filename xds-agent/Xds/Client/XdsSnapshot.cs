using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.Filters.Network.TcpProxy.V3;
using Istio.AppSwitch.Xds.Resources;
using Istio.AppSwitch.Xds.Resources.Decoding;

namespace Istio.AppSwitch.Xds.Client;

/// <summary>The accepted resources of one type and the version they were accepted at.</summary>
/// <param name="TypeUrl">The type URL.</param>
/// <param name="Version">
/// The last ACKed <c>version_info</c> (SotW) or <c>system_version_info</c> (Delta); empty before the first ACK.
/// </param>
/// <param name="Resources">The accepted resources by name.</param>
public sealed record XdsTypeSnapshot(string TypeUrl, string Version, ImmutableSortedDictionary<string, XdsResource> Resources)
{
    /// <summary>An empty set of <paramref name="typeUrl"/>.</summary>
    public static XdsTypeSnapshot Empty(string typeUrl) =>
        new(typeUrl, string.Empty, ImmutableSortedDictionary.Create<string, XdsResource>(StringComparer.Ordinal));

    /// <summary>The messages, by name, typed.</summary>
    public ImmutableSortedDictionary<string, T> Values<T>()
        where T : Google.Protobuf.IMessage<T> =>
        Resources.ToImmutableSortedDictionary(r => r.Key, r => r.Value.As<T>(), StringComparer.Ordinal);
}

/// <summary>
/// What references what but has not arrived (yet): a consumer that applies only what is complete never half-applies
/// a route whose cluster, or a cluster whose endpoints, are still on their way.
/// </summary>
/// <param name="Endpoints">EDS names that EDS clusters need and that no ClusterLoadAssignment answers yet.</param>
/// <param name="Routes">Route config names that listeners load over RDS and that have not arrived.</param>
/// <param name="Clusters">Clusters that routes or <c>tcp_proxy</c> filters send to and that CDS does not (yet) hold.</param>
public sealed record XdsPending(
    ImmutableSortedSet<string> Endpoints,
    ImmutableSortedSet<string> Routes,
    ImmutableSortedSet<string> Clusters)
{
    /// <summary>Whether nothing is missing.</summary>
    public bool IsEmpty => Endpoints.IsEmpty && Routes.IsEmpty && Clusters.IsEmpty;
}

/// <summary>
/// One immutable, consistent view of every type: what the client has ACKed, as of one moment. Swapped whole, so a
/// reader never sees half of a push (YARP's Model rule).
/// </summary>
public sealed class XdsSnapshot
{
    // What one type's resources reference, computed once per XdsTypeSnapshot. A push replaces one type and keeps the
    // other types' objects, so an EDS push (the frequent one) does not walk, or unpack the filters of, every listener,
    // route and cluster again.
    private static readonly ConditionalWeakTable<XdsTypeSnapshot, ImmutableSortedSet<string>> EdsNamesOf = new();
    private static readonly ConditionalWeakTable<XdsTypeSnapshot, ImmutableSortedSet<string>> RdsNamesOf = new();
    private static readonly ConditionalWeakTable<XdsTypeSnapshot, string[]> RouteClustersOf = new();
    private static readonly ConditionalWeakTable<XdsTypeSnapshot, string[]> ListenerClustersOf = new();

    private readonly ImmutableDictionary<string, XdsTypeSnapshot> _types;
    private XdsPending? _pending;

    internal XdsSnapshot(ImmutableDictionary<string, XdsTypeSnapshot> types, long revision)
    {
        _types = types;
        Revision = revision;
    }

    /// <summary>The snapshot before anything arrived.</summary>
    public static XdsSnapshot Empty { get; } = new(
        XdsTypeUrls.All.ToImmutableDictionary(t => t, XdsTypeSnapshot.Empty, StringComparer.Ordinal), 0);

    /// <summary>Counts the changes since the client started: every accepted change makes a new revision.</summary>
    public long Revision { get; }

    /// <summary>The resources of one of the four types.</summary>
    public XdsTypeSnapshot this[string typeUrl] => _types[typeUrl];

    /// <summary>CDS.</summary>
    public XdsTypeSnapshot Clusters => _types[XdsTypeUrls.Cluster];

    /// <summary>EDS.</summary>
    public XdsTypeSnapshot Endpoints => _types[XdsTypeUrls.Endpoint];

    /// <summary>LDS.</summary>
    public XdsTypeSnapshot Listeners => _types[XdsTypeUrls.Listener];

    /// <summary>RDS.</summary>
    public XdsTypeSnapshot Routes => _types[XdsTypeUrls.Route];

    /// <summary>What is referenced and missing; computed on first use.</summary>
    public XdsPending Pending => _pending ??= ComputePending();

    /// <summary>Whether every reference resolves: the whole snapshot can be applied as it is.</summary>
    public bool IsConsistent => Pending.IsEmpty;

    /// <summary>The EDS names the clusters need: what the client subscribes to over EDS.</summary>
    public ImmutableSortedSet<string> EdsNames() =>
        EdsNamesOf.GetValue(Clusters, static clusters => clusters.Resources.Values
            .SelectMany(r => ClusterDecoder.Instance.Dependencies(r.Message))
            .ToImmutableSortedSet(StringComparer.Ordinal));

    /// <summary>The route config names the listeners need: what the client subscribes to over RDS.</summary>
    public ImmutableSortedSet<string> RdsNames() =>
        RdsNamesOf.GetValue(Listeners, static listeners => listeners.Resources.Values
            .SelectMany(r => ListenerDecoder.Instance.Dependencies(r.Message))
            .ToImmutableSortedSet(StringComparer.Ordinal));

    /// <summary>The names this snapshot's CDS and LDS make the client subscribe to for a named type.</summary>
    internal ImmutableSortedSet<string> SubscribedNames(string typeUrl) => typeUrl switch
    {
        XdsTypeUrls.Endpoint => EdsNames(),
        XdsTypeUrls.Route => RdsNames(),
        _ => [],
    };

    internal XdsSnapshot With(XdsTypeSnapshot type) => new(_types.SetItem(type.TypeUrl, type), Revision + 1);

    private XdsPending ComputePending()
    {
        var endpoints = EdsNames().Where(n => !Endpoints.Resources.ContainsKey(n)).ToImmutableSortedSet(StringComparer.Ordinal);
        var routes = RdsNames().Where(n => !Routes.Resources.ContainsKey(n)).ToImmutableSortedSet(StringComparer.Ordinal);
        var wanted = RouteClustersOf.GetValue(Routes, static routes => [.. RouteClusterNames(routes)])
            .Concat(ListenerClustersOf.GetValue(Listeners, static listeners => [.. ListenerClusterNames(listeners)]));
        var clusters = wanted.Where(n => n.Length > 0 && !Clusters.Resources.ContainsKey(n))
            .ToImmutableSortedSet(StringComparer.Ordinal);
        return new XdsPending(endpoints, routes, clusters);
    }

    private static IEnumerable<string> RouteClusterNames(XdsTypeSnapshot routes) =>
        routes.Resources.Values.SelectMany(route => RouteDecoder.ClusterNames(route.As<RouteConfiguration>())).Distinct(StringComparer.Ordinal);

    private static IEnumerable<string> ListenerClusterNames(XdsTypeSnapshot listeners)
    {
        foreach (var listener in listeners.Resources.Values)
        {
            foreach (var tcp in listener.As<Listener>().FindNetworkFilters<TcpProxy>())
            {
                if (tcp.Config.ClusterSpecifierCase == TcpProxy.ClusterSpecifierOneofCase.Cluster)
                {
                    yield return tcp.Config.Cluster;
                }
                else if (tcp.Config.ClusterSpecifierCase == TcpProxy.ClusterSpecifierOneofCase.WeightedClusters)
                {
                    foreach (var weighted in tcp.Config.WeightedClusters.Clusters)
                    {
                        yield return weighted.Name;
                    }
                }
            }
        }
    }
}
