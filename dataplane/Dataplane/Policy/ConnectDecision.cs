using Istio.AppSwitch.Dataplane.Policy.LoadBalancing;
using Istio.AppSwitch.Dataplane.Registry;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Policy;

/// <summary>What to do with one trapped <c>connect</c>.</summary>
public enum ConnectDecisionKind
{
    /// <summary>No ref or advertised service covers the destination: connect as the kernel would without ax.</summary>
    NoMatch,

    /// <summary>Connect to <see cref="ConnectDecision.Backend"/> instead.</summary>
    Redirect,

    /// <summary>
    /// A ref covers the destination but has no live backend yet: the connect waits for one to listen, up to the
    /// ref's <see cref="ServiceRef.Wait"/>, and then fails with <c>ECONNREFUSED</c>.
    /// </summary>
    NoBackend,

    /// <summary>
    /// Refused at once with <c>ECONNREFUSED</c>: a mesh service that is a black hole, or whose cluster is at its
    /// circuit breaker's <c>max_connections</c>.
    /// </summary>
    Refuse,

    /// <summary>A mesh service that needs Envoy; until chaining is configured, the kernel connects it as asked.</summary>
    Chain,
}

/// <summary>The routing decision for one connect. A value: deciding allocates nothing.</summary>
public readonly struct ConnectDecision
{
    private ConnectDecision(ConnectDecisionKind kind, InetEndpoint backend, ServiceRef? reference, ServiceRecord? service,
        UpstreamCluster? cluster = null, UpstreamEndpoint? endpoint = null)
    {
        Kind = kind;
        Backend = backend;
        Ref = reference;
        Service = service;
        Cluster = cluster;
        Endpoint = endpoint;
    }

    /// <summary>No match; also <c>default</c>.</summary>
    public static ConnectDecision NoMatch => default;

    /// <summary>What to do.</summary>
    public ConnectDecisionKind Kind { get; }

    /// <summary>Where to connect, for <see cref="ConnectDecisionKind.Redirect"/>; <c>default</c> otherwise.</summary>
    public InetEndpoint Backend { get; }

    /// <summary>The ref that matched; null for no match, or for a service reached at its advertised (<c>--ip</c>) address.</summary>
    public ServiceRef? Ref { get; }

    /// <summary>The service picked, for <see cref="ConnectDecisionKind.Redirect"/>.</summary>
    public ServiceRecord? Service { get; }

    /// <summary>
    /// For a mesh service, the cluster drawn; with <see cref="Endpoint"/>, the connection slot the decision holds
    /// (<see cref="UpstreamCluster.TryAcquire"/>), which whoever acts on the decision must release when the
    /// connection ends or its connect fails.
    /// </summary>
    public UpstreamCluster? Cluster { get; }

    /// <summary>For a mesh service, the endpoint picked.</summary>
    public UpstreamEndpoint? Endpoint { get; }

    /// <summary>Redirect to a mesh endpoint, whose slot on <paramref name="cluster"/> is already acquired.</summary>
    internal static ConnectDecision Redirect(UpstreamCluster cluster, UpstreamEndpoint endpoint, ServiceRef reference) =>
        new(ConnectDecisionKind.Redirect, endpoint.Address, reference, null, cluster, endpoint);

    /// <summary>Refuse at once.</summary>
    internal static ConnectDecision Refuse(ServiceRef reference) => new(ConnectDecisionKind.Refuse, default, reference, null);

    /// <summary>Hand to the chained proxy (docs/envoy-chaining.md); the interception decides which one.</summary>
    internal static ConnectDecision Chain(ServiceRef reference) => new(ConnectDecisionKind.Chain, default, reference, null);

    /// <summary>Redirect a chained connect to the proxy at <paramref name="proxy"/> (Envoy's listener for ax).</summary>
    public static ConnectDecision ToProxy(InetEndpoint proxy, ServiceRef reference) =>
        new(ConnectDecisionKind.Redirect, proxy, reference, null);

    /// <summary>Redirect to <paramref name="service"/>'s target.</summary>
    internal static ConnectDecision Redirect(ServiceRecord service, ServiceRef? reference) =>
        new(ConnectDecisionKind.Redirect, service.Target, reference, service);

    /// <summary>
    /// Connect to <paramref name="destination"/> itself, from ax's own network namespace: the connect of an app in
    /// another namespace that no ref covers (docs/netns.md).
    /// </summary>
    internal static ConnectDecision Direct(InetEndpoint destination) => new(ConnectDecisionKind.Redirect, destination, null, null);

    /// <summary>Refuse: <paramref name="reference"/> has no live backend.</summary>
    internal static ConnectDecision NoBackend(ServiceRef reference) =>
        new(ConnectDecisionKind.NoBackend, default, reference, null);

    /// <summary>The kind and, when redirected, where to; for logs.</summary>
    public override string ToString() => Kind switch
    {
        ConnectDecisionKind.Redirect when Cluster is not null => $"redirect to {Backend} (cluster {Cluster.Name}, {Ref?.Name})",
        ConnectDecisionKind.Redirect => $"redirect to {Backend} ({Service}{(Ref is null ? ", advertised" : $", ref {Ref.Name}")})",
        ConnectDecisionKind.NoBackend => $"no backend (ref {Ref?.Name} has no live backend)",
        ConnectDecisionKind.Refuse => $"refuse ({Ref?.Name})",
        ConnectDecisionKind.Chain => $"chain ({Ref?.Name})",
        _ => "no match",
    };
}
