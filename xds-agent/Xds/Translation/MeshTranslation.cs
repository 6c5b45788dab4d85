using System.Collections.Immutable;
using System.Net;
using Istio.AppSwitch.Rbac;

namespace Istio.AppSwitch.Xds.Translation;

/// <summary>
/// What ax makes of one set of Envoy resources: the outbound services it decides at <c>connect</c> time, the inbound
/// ports it checks at <c>accept</c> time, the clusters with their endpoints, and what it could not use. Immutable:
/// a new configuration is a new <see cref="MeshTranslation"/>, swapped in whole.
/// </summary>
/// <param name="Outbound">One entry per VIP:port (or CIDR:port, or DNS name:port for hosts without a VIP), ordered by key.</param>
/// <param name="Inbound">One entry per inbound destination port; port 0 is "every other port" (the catch-all chains).</param>
/// <param name="Clusters">Every cluster by name, with its endpoints.</param>
/// <param name="Diagnostics">Per-resource problems: values, never exceptions. A resource with an error is left out or chained.</param>
public sealed record MeshTranslation(
    ImmutableArray<OutboundService> Outbound,
    ImmutableArray<InboundPort> Inbound,
    ImmutableSortedDictionary<string, ClusterPolicy> Clusters,
    ImmutableArray<TranslationDiagnostic> Diagnostics)
{
    /// <summary>No services, no ports, no clusters.</summary>
    public static MeshTranslation Empty { get; } = new([], [], ImmutableSortedDictionary<string, ClusterPolicy>.Empty.WithComparers(StringComparer.Ordinal), []);

    /// <summary>The outbound service with this key (<c>10.68.54.170:27017</c>), or null.</summary>
    public OutboundService? FindOutbound(string key) => Outbound.FirstOrDefault(o => o.Key == key);

    /// <summary>The inbound entry of this destination port (0 for the catch-all), or null.</summary>
    public InboundPort? FindInbound(uint port) => Inbound.FirstOrDefault(i => i.Port == port);
}

/// <summary>What ax does with a connection.</summary>
public enum TranslationMode
{
    /// <summary>ax decides at connect/accept time and connects straight to an endpoint.</summary>
    Fast,

    /// <summary>ax hands the connection to Envoy: something must be enforced after the connection is set up (see the reasons).</summary>
    Chain,

    /// <summary>The original destination, untouched (<c>PassthroughCluster</c>, ORIGINAL_DST clusters).</summary>
    Passthrough,

    /// <summary>Refused (<c>BlackHoleCluster</c>).</summary>
    Blackhole,
}

/// <summary>One reason to chain, with what caused it.</summary>
/// <param name="Reason">The machine-readable reason.</param>
/// <param name="Detail">Which filter, route or rule, for people (<c>filter envoy.filters.http.lua</c>).</param>
public sealed record ChainCause(ChainReason Reason, string Detail)
{
    /// <summary>The stable code of <see cref="Reason"/>.</summary>
    public string Code => Reason.Code();
}

/// <summary>Whether the listener forwards bytes (<c>tcp_proxy</c>) or HTTP (the HTTP connection manager), or both (protocol sniffing).</summary>
public enum ServiceProtocol
{
    /// <summary><c>tcp_proxy</c> only.</summary>
    Tcp,

    /// <summary>The HTTP connection manager only.</summary>
    Http,

    /// <summary>Envoy sniffs: HTTP chain and TCP default chain.</summary>
    Sniffed,
}

/// <summary>A cluster a service sends to, with its share.</summary>
/// <param name="Cluster">The cluster name.</param>
/// <param name="Weight">Its weight; the share is <c>Weight / sum of weights</c>. A single cluster has weight 1.</param>
public sealed record WeightedDestination(string Cluster, uint Weight);

/// <summary>An outbound service: what a connect to one VIP:port becomes.</summary>
/// <param name="Key">Stable key: <c>IP:PORT</c>, <c>CIDR:PORT</c> for a range, <c>NAME:PORT</c> for a host without VIP; IPv6 in brackets.</param>
/// <param name="Address">The VIP or the network address of the range; null for a DNS-only host.</param>
/// <param name="PrefixLength">32/128 for one VIP, less for a range (0 for the <c>0.0.0.0_PORT</c> catch-all).</param>
/// <param name="Port">The destination port.</param>
/// <param name="DnsNames">Host names of the service (from the virtual host's <c>domains</c>), sorted, ports stripped.</param>
/// <param name="Listener">The listener it came from.</param>
/// <param name="RouteConfig">For HTTP, the route configuration and virtual host (<c>name/vhost</c>); null for TCP.</param>
/// <param name="Protocol">TCP, HTTP or sniffed.</param>
/// <param name="Mode">Fast, chain, passthrough or blackhole.</param>
/// <param name="Causes">Why it is chained; empty unless <see cref="Mode"/> is <see cref="TranslationMode.Chain"/>.</param>
/// <param name="Destinations">The clusters and weights; ax draws one per connection.</param>
/// <param name="HashOnSourceIp">The tcp_proxy or route hashes on the source IP (consistent hashing clusters).</param>
/// <param name="ConnectRetries">How many times a failed connect may be retried on another endpoint (route <c>num_retries</c> when the retry policy retries connect failures; 0 for TCP).</param>
/// <param name="Timeout">The route timeout; null when none (TCP, or <c>0s</c> which disables it).</param>
public sealed record OutboundService(
    string Key,
    IPAddress? Address,
    int PrefixLength,
    uint Port,
    ImmutableArray<string> DnsNames,
    string Listener,
    string? RouteConfig,
    ServiceProtocol Protocol,
    TranslationMode Mode,
    ImmutableArray<ChainCause> Causes,
    ImmutableArray<WeightedDestination> Destinations,
    bool HashOnSourceIp,
    int ConnectRetries,
    TimeSpan? Timeout)
{
    /// <summary>
    /// The Istio resources behind the service, ordered and without repeats: the listener's (Sidecar), the routes' of its
    /// virtual host (VirtualService) and its clusters' (DestinationRule), as istiod named them in metadata.
    /// </summary>
    public ImmutableArray<IstioResource> IstioResources { get; init; } = [];
}

/// <summary>How the cluster finds its endpoints (<c>Cluster.type</c>).</summary>
public enum ClusterDiscovery
{
    /// <summary><c>EDS</c>.</summary>
    Eds,

    /// <summary><c>STATIC</c> (the proto3 default, omitted in JSON).</summary>
    Static,

    /// <summary><c>STRICT_DNS</c>.</summary>
    StrictDns,

    /// <summary><c>LOGICAL_DNS</c>.</summary>
    LogicalDns,

    /// <summary><c>ORIGINAL_DST</c>: the connection's own destination.</summary>
    OriginalDst,

    /// <summary>A custom cluster type (<c>cluster_type</c> extension).</summary>
    Custom,
}

/// <summary>The load-balancing policy of a cluster.</summary>
public enum LoadBalancerPolicy
{
    /// <summary><c>ROUND_ROBIN</c> (the default, omitted in JSON).</summary>
    RoundRobin,

    /// <summary><c>LEAST_REQUEST</c>: for ax, fewest open connections, power of <c>ChoiceCount</c> choices.</summary>
    LeastRequest,

    /// <summary><c>RANDOM</c>.</summary>
    Random,

    /// <summary><c>RING_HASH</c>.</summary>
    RingHash,

    /// <summary><c>MAGLEV</c>.</summary>
    Maglev,

    /// <summary><c>CLUSTER_PROVIDED</c> (ORIGINAL_DST clusters).</summary>
    ClusterProvided,

    /// <summary><c>LOAD_BALANCING_POLICY_CONFIG</c> or anything else: ax falls back to round robin and says so in a diagnostic.</summary>
    Other,
}

/// <summary>How a cluster talks to its endpoints.</summary>
public enum UpstreamTlsMode
{
    /// <summary>Plain TCP.</summary>
    None,

    /// <summary>
    /// Istio auto-mTLS: <c>transport_socket_matches</c> use mTLS for endpoints labelled <c>tlsMode: istio</c> and plain text for
    /// the rest. ax keeps the fast path (see docs/translation.md): the endpoint flag <see cref="EndpointPolicy.IstioMtls"/> lets
    /// the dataplane chain only connections to peers that would refuse plain text.
    /// </summary>
    IstioAutoMtls,

    /// <summary>Always Istio mTLS (DestinationRule ISTIO_MUTUAL): chained.</summary>
    IstioMutual,

    /// <summary>TLS origination to a non-mesh destination (SIMPLE/MUTUAL): chained.</summary>
    Tls,
}

/// <summary>Outlier detection (passive health checking) of a cluster; durations already defaulted as Envoy does.</summary>
/// <param name="Consecutive5xx">Ejections after this many consecutive errors (<c>consecutive_5xx</c>, Envoy default 5).</param>
/// <param name="ConsecutiveGatewayFailure">When set, <c>consecutive_gateway_failure</c>.</param>
/// <param name="ConsecutiveLocalOriginFailure">When set, <c>consecutive_local_origin_failure</c> (connect failures with split_external_local_origin_errors).</param>
/// <param name="Interval">Sweep interval (default 10 s).</param>
/// <param name="BaseEjectionTime">Base ejection time (default 30 s).</param>
/// <param name="MaxEjectionPercent">At most this share of hosts ejected (default 10).</param>
public sealed record OutlierDetectionPolicy(
    uint Consecutive5xx,
    uint? ConsecutiveGatewayFailure,
    uint? ConsecutiveLocalOriginFailure,
    TimeSpan Interval,
    TimeSpan BaseEjectionTime,
    uint MaxEjectionPercent);

/// <summary>A cluster as ax uses it.</summary>
/// <param name="Name">The cluster name (<c>outbound|27017||mongodb-user.hr2.svc.cluster.local</c>).</param>
/// <param name="Discovery">EDS, STATIC, DNS, ORIGINAL_DST, ...</param>
/// <param name="Mode">Fast, passthrough (ORIGINAL_DST, <c>PassthroughCluster</c>), blackhole (<c>BlackHoleCluster</c>), or chain (TLS origination).</param>
/// <param name="Causes">Why chained; empty otherwise.</param>
/// <param name="LbPolicy">The load-balancing policy, proto default applied.</param>
/// <param name="ChoiceCount">LEAST_REQUEST: how many random hosts are compared (default 2).</param>
/// <param name="MinimumRingSize">RING_HASH: <c>minimum_ring_size</c> (default 1024).</param>
/// <param name="MaximumRingSize">RING_HASH: <c>maximum_ring_size</c> (default 8M).</param>
/// <param name="MaglevTableSize">MAGLEV: <c>table_size</c> (default 65537).</param>
/// <param name="ConnectTimeout">Connect timeout (Envoy default 5 s).</param>
/// <param name="MaxConnections">Circuit breaker (default priority) <c>max_connections</c> (Envoy default 1024); istiod sends 4294967295 for "unlimited".</param>
/// <param name="OutlierDetection">Null when not configured.</param>
/// <param name="UpstreamTls">None, Istio auto-mTLS, Istio mutual, or TLS.</param>
/// <param name="LocalityWeighted">Whether <c>locality_weighted_lb_config</c> is set, so locality weights apply.</param>
/// <param name="ServiceHosts">The Istio services of the cluster (from <c>metadata.filter_metadata.istio.services</c>).</param>
/// <param name="Endpoints">From EDS (or <c>load_assignment</c> for STATIC/DNS), in EDS order.</param>
/// <param name="HasEndpointAssignment">Whether a ClusterLoadAssignment was seen (an EDS cluster without one has no endpoints yet).</param>
/// <param name="HealthyPanicThreshold"><c>common_lb_config.healthy_panic_threshold</c> in percent (Envoy's default 50; Istio sends 0 with outlier detection).</param>
public sealed record ClusterPolicy(
    string Name,
    ClusterDiscovery Discovery,
    TranslationMode Mode,
    ImmutableArray<ChainCause> Causes,
    LoadBalancerPolicy LbPolicy,
    uint ChoiceCount,
    ulong MinimumRingSize,
    ulong MaximumRingSize,
    ulong MaglevTableSize,
    TimeSpan ConnectTimeout,
    uint MaxConnections,
    OutlierDetectionPolicy? OutlierDetection,
    UpstreamTlsMode UpstreamTls,
    bool LocalityWeighted,
    ImmutableArray<string> ServiceHosts,
    ImmutableArray<EndpointPolicy> Endpoints,
    bool HasEndpointAssignment,
    double HealthyPanicThreshold = 50)
{
    /// <summary>The Istio resource named in the cluster's <c>metadata.filter_metadata.istio.config</c> (its DestinationRule), if any.</summary>
    public ImmutableArray<IstioResource> IstioResources { get; init; } = [];
}

/// <summary>Health of an endpoint as EDS reports it.</summary>
public enum EndpointHealth
{
    /// <summary><c>UNKNOWN</c> (the default, omitted in JSON): usable.</summary>
    Unknown,

    /// <summary><c>HEALTHY</c>: usable.</summary>
    Healthy,

    /// <summary><c>UNHEALTHY</c>: not used.</summary>
    Unhealthy,

    /// <summary><c>DRAINING</c>: no new connections.</summary>
    Draining,

    /// <summary><c>TIMEOUT</c>: not used.</summary>
    Timeout,

    /// <summary><c>DEGRADED</c>: used only when nothing better is left; ax treats it as usable at lower preference.</summary>
    Degraded,
}

/// <summary>One endpoint of a cluster.</summary>
/// <param name="Address">The endpoint IP (or a DNS name for STRICT_DNS/LOGICAL_DNS; or a pipe path).</param>
/// <param name="Port">The port.</param>
/// <param name="Weight">The endpoint's <c>load_balancing_weight</c> (default 1).</param>
/// <param name="LocalityWeight">The locality's <c>load_balancing_weight</c>, when set.</param>
/// <param name="Priority">Failover order: 0 first.</param>
/// <param name="Region">Locality region, empty when unset.</param>
/// <param name="Zone">Locality zone.</param>
/// <param name="SubZone">Locality sub-zone.</param>
/// <param name="Health">EDS health status.</param>
/// <param name="IstioMtls">The endpoint is labelled <c>tlsMode: istio</c>: Envoy would speak mTLS to it under auto-mTLS.</param>
public sealed record EndpointPolicy(
    string Address,
    uint Port,
    uint Weight,
    uint? LocalityWeight,
    uint Priority,
    string Region,
    string Zone,
    string SubZone,
    EndpointHealth Health,
    bool IstioMtls)
{
    /// <summary>HEALTHY, UNKNOWN and DEGRADED endpoints take connections; UNHEALTHY, DRAINING and TIMEOUT do not.</summary>
    public bool Usable => Health is EndpointHealth.Healthy or EndpointHealth.Unknown or EndpointHealth.Degraded;
}

/// <summary>How an inbound port treats peers that do or do not present an Istio certificate.</summary>
public enum PeerAuthenticationMode
{
    /// <summary>Both mTLS and plain-text chains (PeerAuthentication PERMISSIVE).</summary>
    Permissive,

    /// <summary>mTLS chains only (STRICT).</summary>
    Strict,

    /// <summary>Plain-text chains only (DISABLE, or no mTLS configured).</summary>
    Plaintext,
}

/// <summary>An inbound destination port of the workload: what ax checks at accept time.</summary>
/// <param name="Port">The destination port; 0 for every port that has no chain of its own (the catch-all chains).</param>
/// <param name="Listener">The listener (<c>virtualInbound</c>).</param>
/// <param name="FilterChains">The names of the chains of this port (deduplicated, in order).</param>
/// <param name="Protocol">TCP, HTTP or both.</param>
/// <param name="PeerAuthentication">mTLS mode from the chains' transport protocols.</param>
/// <param name="Mode">Fast, chain, passthrough or blackhole.</param>
/// <param name="Causes">Why chained.</param>
/// <param name="Rbac">The port's RBAC, in Envoy's order; empty when there is none.</param>
/// <param name="RequiresPeerIdentity">A rule depends on the peer's mTLS principal: enforceable at accept time only when the peer identity is known.</param>
/// <param name="Cluster">The inbound cluster the chains forward to (<c>InboundPassthroughClusterIpv4</c>, <c>inbound|8083||</c>), when one.</param>
public sealed record InboundPort(
    uint Port,
    string Listener,
    ImmutableArray<string> FilterChains,
    ServiceProtocol Protocol,
    PeerAuthenticationMode PeerAuthentication,
    TranslationMode Mode,
    ImmutableArray<ChainCause> Causes,
    RbacModel Rbac,
    bool RequiresPeerIdentity,
    string? Cluster)
{
    /// <summary>
    /// The Istio resources behind the port, ordered and without repeats: the AuthorizationPolicies its RBAC policies were
    /// generated from, and whatever istiod named in the listener's, chains' and inbound routes' metadata.
    /// </summary>
    public ImmutableArray<IstioResource> IstioResources { get; init; } = [];
}

/// <summary>How bad a diagnostic is.</summary>
public enum DiagnosticSeverity
{
    /// <summary>Worth knowing; nothing is lost (a rejected resource that Envoy does not run either).</summary>
    Info,

    /// <summary>Something was not translated, or translated with a fallback.</summary>
    Warning,

    /// <summary>A resource could not be translated at all and was left out.</summary>
    Error,
}

/// <summary>A problem with one resource, as a value.</summary>
/// <param name="Severity">Info, warning or error.</param>
/// <param name="ResourceType">listener, route_config, cluster or endpoints.</param>
/// <param name="ResourceName">The resource's name.</param>
/// <param name="Message">What happened.</param>
public sealed record TranslationDiagnostic(DiagnosticSeverity Severity, string ResourceType, string ResourceName, string Message)
{
    /// <inheritdoc />
    public override string ToString() => $"{Severity.ToString().ToLowerInvariant()}: {ResourceType} {ResourceName}: {Message}";
}
