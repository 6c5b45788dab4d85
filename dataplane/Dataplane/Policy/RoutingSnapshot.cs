using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Istio.AppSwitch.Dataplane.Policy.LoadBalancing;
using Istio.AppSwitch.Dataplane.Registry;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Policy;

/// <summary>
/// An immutable routing model: the refs, the live services, and what each ref can reach. Built off the connect
/// path by the <see cref="RoutingTable"/> whenever the registry or the refs change, then swapped in whole.
/// </summary>
/// <remarks>
/// Resolution (<see cref="Resolve"/>), in order; the first rule that yields a ref whose client selector matches
/// the client decides:
/// <list type="number">
/// <item>a ref whose VIP is exactly the destination <c>IP:PORT</c>;</item>
/// <item>a service advertised (<c>ax run --ip</c>) at the destination: as if by an exact ref, but refs win;</item>
/// <item>CIDR refs, longest prefix first, and within one prefix an exact port before <c>*</c>.</item>
/// </list>
/// A ref does not apply to a destination in its <see cref="ServiceRef.Exclude"/> list, nor, when it is a capture ref,
/// to a client that its own selector matches.
/// Several refs with the same VIP are tried most specific client selector first. A matching ref redirects to one
/// of its live services of the socket's protocol (a TCP connect to a TCP service, a UDP datagram to a UDP service: a
/// DNS server has both on port 53), picked by round robin among those whose port is the destination port if any is,
/// else among all; with no live service it refuses. No match leaves the connect alone. Advertised (<c>--ip</c>)
/// addresses and mesh services are TCP only: a UDP destination there is no match.
/// </remarks>
public sealed class RoutingSnapshot
{
    private readonly RefIndex _index;
    private readonly SelectorIndex _selection;
    private readonly FrozenDictionary<RouteKey, BackendSet> _advertised;
    private readonly ILoadBalancingPolicy _policy;

    private RoutingSnapshot(
        long version,
        RefIndex index,
        ImmutableArray<ServiceRecord> services,
        SelectorIndex selection,
        FrozenDictionary<RouteKey, BackendSet> advertised)
    {
        Version = version;
        _index = index;
        ServiceArray = services;
        _selection = selection;
        _advertised = advertised;
        _policy = LoadBalancingPolicies.Default;
    }

    /// <summary>The snapshot with no refs and no services: every connect is <see cref="ConnectDecisionKind.NoMatch"/>.</summary>
    public static RoutingSnapshot Empty { get; } = new(0, RefIndex.Empty, [], SelectorIndex.Empty, FrozenDictionary<RouteKey, BackendSet>.Empty);

    /// <summary>Increases by one with every snapshot a <see cref="RoutingTable"/> publishes.</summary>
    public long Version { get; }

    /// <summary>The refs, ordered by name (sorted when first asked for).</summary>
    public IReadOnlyList<ServiceRef> Refs => _index.Refs;

    /// <summary>How many refs the snapshot holds.</summary>
    public int RefCount => _index.Count;

    /// <summary>The live services, in registration order.</summary>
    public IReadOnlyList<ServiceRecord> Services => ServiceArray;

    internal ImmutableArray<ServiceRecord> ServiceArray { get; }

    internal RefIndex Index => _index;

    /// <summary>
    /// Decides where a connect from <paramref name="client"/> to <paramref name="destination"/> goes. This is the
    /// connect path: no allocation, no lock, no LINQ, no logging. An IPv4-mapped IPv6 destination is resolved as
    /// its IPv4 address, so the backend of a redirect may be IPv4 for an IPv6 socket.
    /// </summary>
    /// <param name="client">The application that connects.</param>
    /// <param name="destination">Where it asked to go.</param>
    /// <param name="fromChainProxy">True for a connect of the chained proxy itself (Envoy, or what stands for it): a
    /// <c>chain</c> service is then decided as a fast one, since the connection has been through the proxy already.</param>
    /// <param name="protocol">The client socket's transport: the backends are the ref's services of the same one.</param>
    public ConnectDecision Resolve(AppRecord client, in InetEndpoint destination, bool fromChainProxy = false,
        TransportProtocol protocol = TransportProtocol.Tcp)
    {
        var target = destination.IsIPv4MappedIPv6 ? destination.MapToIPv4() : destination;
        if (!AddressBits.TryFrom(target, out var address))
        {
            return ConnectDecision.NoMatch;
        }
        var labels = client.Labels;
        var port = target.Port;
        var maxPrefix = address.IsV6 ? 128 : 32;

        // 1. Exact VIP:port.
        if (_index.Exact.TryGetValue(RouteKey.Create(address, maxPrefix, port), out var exact)
            && FirstForClient(exact, labels, in address) is { } exactRoute)
        {
            return Decide(exactRoute, client, port, fromChainProxy, protocol);
        }

        // 2. A service advertised at this address (ax run --ip).
        if (protocol == TransportProtocol.Tcp && _advertised.TryGetValue(RouteKey.Create(address, maxPrefix, port), out var advertised)
            && _policy.PickBackend(advertised) is { } advertisedService)
        {
            return ConnectDecision.Redirect(advertisedService, null);
        }

        // 3. CIDRs, longest prefix first; in each, the exact port before any port.
        foreach (var table in address.IsV6 ? _index.V6 : _index.V4)
        {
            if (table.Routes.TryGetValue(RouteKey.Create(address, table.PrefixLength, port), out var routes)
                && FirstForClient(routes, labels, in address) is { } portRoute)
            {
                return Decide(portRoute, client, port, fromChainProxy, protocol);
            }
            if (table.Routes.TryGetValue(RouteKey.Create(address, table.PrefixLength, RouteKey.AnyPort), out routes)
                && FirstForClient(routes, labels, in address) is { } anyRoute)
            {
                return Decide(anyRoute, client, port, fromChainProxy, protocol);
            }
        }
        return ConnectDecision.NoMatch;
    }

    /// <summary>How many live services (TCP and UDP) <paramref name="reference"/> selects in this snapshot; 0 for an unknown ref.</summary>
    public int CountBackends(ServiceRef reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        return _index.ByName.TryGetValue(reference.Name, out var route)
            ? route.Backends.All.Services.Length + route.Backends.UdpAll.Services.Length
            : 0;
    }

    /// <summary>
    /// The first of <paramref name="routes"/> that applies: its client selector matches, the destination is not one
    /// it excludes, and, for a capture ref, the client is not one of its own backends (a sidecar's own outbound
    /// connections must not loop back into it).
    /// </summary>
    private static RefRoute? FirstForClient(RefRoute[] routes, Labels labels, in AddressBits address)
    {
        foreach (var route in routes)
        {
            var reference = route.Ref;
            if (reference.Clients.Matches(labels)
                && (reference.Exclude.IsEmpty || !reference.Exclude.Contains(in address))
                && !(reference.IsCapture && reference.Selector.Matches(labels)))
            {
                return route;
            }
        }
        return null;
    }

    private ConnectDecision Decide(RefRoute route, AppRecord client, ushort port, bool fromChainProxy, TransportProtocol protocol)
    {
        if (route.Mesh is { } mesh)
        {
            // The agent's clusters are TCP endpoints: a datagram to a mesh VIP goes where the application sent it.
            return protocol == TransportProtocol.Tcp ? DecideMesh(route.Ref, mesh, client, fromChainProxy) : ConnectDecision.NoMatch;
        }
        var backends = route.Backends.For(port, protocol);
        return _policy.PickBackend(backends) is { } service
            ? ConnectDecision.Redirect(service, route.Ref)
            : ConnectDecision.NoBackend(route.Ref);
    }

    /// <summary>
    /// A connect to a mesh service: its mode, then a cluster drawn by weight, then an endpoint by the cluster's policy,
    /// whose connection slot is taken here (the circuit breaker). An endpoint chosen is the caller's to release.
    /// </summary>
    private static ConnectDecision DecideMesh(ServiceRef reference, MeshBackends backends, AppRecord client, bool fromChainProxy)
    {
        var service = reference.Mesh!;
        switch (service.Mode)
        {
            case Mesh.MeshMode.Chain when fromChainProxy:
                break;
            case Mesh.MeshMode.Passthrough:
                return ConnectDecision.NoMatch;
            case Mesh.MeshMode.Blackhole:
                return ConnectDecision.Refuse(reference);
            case Mesh.MeshMode.Chain:
                return ConnectDecision.Chain(reference);
        }
        if (backends.Draw() is not { } cluster)
        {
            return ConnectDecision.NoBackend(reference);
        }
        var hash = service.HashOnSourceIp ? client.SourceHash : 0;
        if (cluster.Pick(hash, cluster.Time.GetTimestamp()) is not { } endpoint)
        {
            return ConnectDecision.NoBackend(reference);
        }
        return cluster.TryAcquire(endpoint) ? ConnectDecision.Redirect(cluster, endpoint, reference) : ConnectDecision.Refuse(reference);
    }

    /// <summary>
    /// The next snapshot: this one without the routes named in <paramref name="removed"/> and with the mesh routes
    /// <paramref name="added"/>, each replacing the route of its name. The mesh store builds the routes, since it owns
    /// the clusters they draw from.
    /// </summary>
    internal RoutingSnapshot WithMeshRoutes(ReadOnlySpan<string> removed, ReadOnlySpan<RefRoute> added) =>
        new(Version + 1, _index.Change(removed, added), ServiceArray, _selection, _advertised);

    /// <summary>
    /// The next snapshot: this one without the refs named in <paramref name="removed"/> and with
    /// <paramref name="added"/> (a ref of a name already present replaces it, and keeps its round robin turn).
    /// Costs O(changes x log n): only the new refs' backends are selected, and the index is changed by path copying.
    /// </summary>
    internal RoutingSnapshot WithRefs(ReadOnlySpan<string> removed, ReadOnlySpan<ServiceRef> added)
    {
        var routes = new RefRoute[added.Length];
        for (var i = 0; i < added.Length; i++)
        {
            var reference = added[i];
            var before = _index.ByName.TryGetValue(reference.Name, out var old) ? old.Backends : null;
            routes[i] = new RefRoute(reference, RefBackends.Create(_selection.Select(reference.Selector), before));
        }
        return new RoutingSnapshot(Version + 1, _index.Change(removed, routes), ServiceArray, _selection, _advertised);
    }

    /// <summary>
    /// The next snapshot, with <paramref name="services"/> as the live services. Only the refs whose selector
    /// matches a service that came or went get new backends (with their round robin turn carried over); the others
    /// keep theirs, counters included, so a registry change costs O(refs) selector tests and O(changed) garbage.
    /// </summary>
    internal RoutingSnapshot WithServices(ImmutableArray<ServiceRecord> services)
    {
        var changed = ChangedServices(ServiceArray, services);
        if (changed.Count == 0)
        {
            return new RoutingSnapshot(Version + 1, _index, services, _selection, _advertised);
        }

        var tcp = services.Where(s => s.Protocol == TransportProtocol.Tcp).ToArray();
        var selection = new SelectorIndex([.. services]);
        var reselected = new List<RefRoute>();
        foreach (var route in _index.ByName.Values)
        {
            if (route.Mesh is not null)
            {
                continue; // a mesh route's backends are endpoints from EDS, not services from the registry
            }
            foreach (var service in changed)
            {
                if (route.Ref.Selector.Matches(service.Labels))
                {
                    reselected.Add(route.WithBackends(RefBackends.Create(selection.Select(route.Ref.Selector), route.Backends)));
                    break;
                }
            }
        }
        var index = reselected.Count == 0 ? _index : _index.Change([], CollectionsMarshal.AsSpan(reselected));
        var advertised = changed.Any(s => s.Advertised is not null && s.Protocol == TransportProtocol.Tcp) ? Advertise(tcp, _advertised) : _advertised;
        return new RoutingSnapshot(Version + 1, index, services, selection, advertised);
    }

    /// <summary>The services in one list and not the other (a replaced record is in both).</summary>
    private static List<ServiceRecord> ChangedServices(ImmutableArray<ServiceRecord> before, ImmutableArray<ServiceRecord> after)
    {
        var old = new HashSet<ServiceRecord>(before, ReferenceEqualityComparer.Instance);
        var changed = new List<ServiceRecord>();
        foreach (var service in after)
        {
            if (!old.Remove(service))
            {
                changed.Add(service);
            }
        }
        changed.AddRange(old);
        return changed;
    }

    /// <summary>The services reachable at their <c>--ip</c> address, by <c>IP:PORT</c>, keeping the turns of <paramref name="previous"/>.</summary>
    private static FrozenDictionary<RouteKey, BackendSet> Advertise(ServiceRecord[] tcp, FrozenDictionary<RouteKey, BackendSet> previous)
    {
        var advertised = new Dictionary<RouteKey, List<ServiceRecord>>();
        foreach (var service in tcp)
        {
            if (service.Advertised is { } at && AddressBits.TryFrom(at, out var bits))
            {
                var key = RouteKey.Create(bits, bits.IsV6 ? 128 : 32, at.Port);
                if (!advertised.TryGetValue(key, out var list))
                {
                    advertised[key] = list = [];
                }
                list.Add(service);
            }
        }
        return advertised.ToFrozenDictionary(
            p => p.Key,
            p => new BackendSet([.. p.Value], previous.TryGetValue(p.Key, out var old) ? old.Counter : 0));
    }

    /// <summary>
    /// An inverted index of the services' labels. A selector with an equality term only looks at the services that
    /// carry that label, so matching 10,000 selectors against the registry does not cost 10,000 full scans. Built
    /// when the services change, and kept in the snapshot for the refs created until the next change.
    /// </summary>
    private sealed class SelectorIndex
    {
        private readonly ServiceRecord[] _all;
        private readonly Dictionary<(string Key, string Value), List<ServiceRecord>> _byLabel = [];

        public SelectorIndex(ServiceRecord[] services)
        {
            _all = services;
            foreach (var service in services)
            {
                foreach (var (key, value) in service.Labels)
                {
                    if (!_byLabel.TryGetValue((key, value), out var list))
                    {
                        _byLabel[(key, value)] = list = [];
                    }
                    list.Add(service);
                }
            }
        }

        public static SelectorIndex Empty { get; } = new([]);

        /// <summary>The services <paramref name="selector"/> matches, in registration order.</summary>
        public ServiceRecord[] Select(LabelSelector selector)
        {
            IReadOnlyList<ServiceRecord> candidates = _all;
            foreach (var requirement in selector.Requirements)
            {
                if (requirement.Operator != LabelOperator.Equals)
                {
                    continue;
                }
                if (!_byLabel.TryGetValue((requirement.Key, requirement.Value), out var list))
                {
                    return [];
                }
                if (list.Count < candidates.Count)
                {
                    candidates = list;
                }
            }
            List<ServiceRecord>? matched = null;
            foreach (var service in candidates)
            {
                if (selector.Matches(service.Labels))
                {
                    (matched ??= []).Add(service);
                }
            }
            return matched is null ? [] : [.. matched];
        }
    }
}

/// <summary>
/// The backends of one ref in one snapshot: all of them, and those listening on each port, for TCP; and the same for
/// the UDP services it selects, which only datagrams reach.
/// </summary>
internal sealed class RefBackends
{
    private RefBackends(BackendSet all, FrozenDictionary<ushort, BackendSet> byPort, BackendSet udpAll, FrozenDictionary<ushort, BackendSet> udpByPort)
    {
        All = all;
        ByPort = byPort;
        UdpAll = udpAll;
        UdpByPort = udpByPort;
    }

    /// <summary>The backends of a ref that selects no live service; shared, since an empty set never turns.</summary>
    public static RefBackends None { get; } = new(BackendSet.Empty, FrozenDictionary<ushort, BackendSet>.Empty,
        BackendSet.Empty, FrozenDictionary<ushort, BackendSet>.Empty);

    /// <summary>Every TCP service the selector matches.</summary>
    public BackendSet All { get; }

    /// <summary>The matched TCP services by the port of their <see cref="ServiceRecord.Target"/>.</summary>
    public FrozenDictionary<ushort, BackendSet> ByPort { get; }

    /// <summary>Every UDP service the selector matches.</summary>
    public BackendSet UdpAll { get; }

    /// <summary>The matched UDP services by port.</summary>
    public FrozenDictionary<ushort, BackendSet> UdpByPort { get; }

    /// <summary>
    /// The services on <paramref name="port"/> when there are any, else all: a ref for <c>VIP:6379</c> goes to the
    /// app's port 6379 rather than to its metrics port, and to whatever port the app has when none is 6379.
    /// </summary>
    public BackendSet For(ushort port) => ByPort.TryGetValue(port, out var set) ? set : All;

    /// <summary><see cref="For(ushort)"/> among the services of <paramref name="protocol"/>.</summary>
    public BackendSet For(ushort port, TransportProtocol protocol) => protocol == TransportProtocol.Udp
        ? UdpByPort.TryGetValue(port, out var set) ? set : UdpAll
        : For(port);

    public static RefBackends Create(ServiceRecord[] services, RefBackends? previous)
    {
        if (services.Length == 0)
        {
            return None;
        }
        var tcp = services.Where(s => s.Protocol == TransportProtocol.Tcp).ToArray();
        var udp = services.Where(s => s.Protocol == TransportProtocol.Udp).ToArray();
        return new RefBackends(
            new BackendSet(tcp, previous?.All.Counter ?? 0), ByPortOf(tcp, previous?.ByPort),
            new BackendSet(udp, previous?.UdpAll.Counter ?? 0), ByPortOf(udp, previous?.UdpByPort));
    }

    private static FrozenDictionary<ushort, BackendSet> ByPortOf(ServiceRecord[] services, FrozenDictionary<ushort, BackendSet>? previous) =>
        services
            .GroupBy(s => s.Target.Port)
            .ToFrozenDictionary(
                g => g.Key,
                g => new BackendSet([.. g], previous is not null && previous.TryGetValue(g.Key, out var old) ? old.Counter : 0));
}
