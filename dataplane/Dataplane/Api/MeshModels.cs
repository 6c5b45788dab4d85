namespace Istio.AppSwitch.Dataplane.Api;

// The mesh API: what the xds-agent programs into the daemon (POST /v1/mesh) and what the daemon reports back
// (GET /v1/mesh). The agent owns these rules; users own refs. Every field is text or a number as istiod gave it,
// validated as a whole by the daemon (a bad batch is a 400 listing every problem, and nothing changes).

/// <summary>
/// The body of <c>POST /v1/mesh</c>: one atomic change of the mesh rules. Clusters are applied before services, so a
/// service may name a cluster of the same batch. Connects see either none of the batch or all of it.
/// </summary>
public sealed record MeshUpdateRequest
{
    /// <summary>
    /// True when the batch is the whole mesh state (the agent's first sync after it (re)connected): every service
    /// and cluster that is not in it is deleted. False: a delta.
    /// </summary>
    public bool Replace { get; init; }

    /// <summary>A label for this state (the xDS versions it came from), shown by <c>GET /v1/mesh</c>.</summary>
    public string? Version { get; init; }

    /// <summary>Clusters to create or replace, by name. A replaced cluster keeps the state of endpoints that stay.</summary>
    public List<MeshClusterDto>? Clusters { get; init; }

    /// <summary>Names of clusters to delete. A cluster still named by a service that stays is an error.</summary>
    public List<string>? DeleteClusters { get; init; }

    /// <summary>Services to create or replace, by key.</summary>
    public List<MeshServiceDto>? Services { get; init; }

    /// <summary>Keys of services to delete.</summary>
    public List<string>? DeleteServices { get; init; }

    /// <summary>Inbound ports to create or replace, by key.</summary>
    public List<MeshInboundPortDto>? Inbound { get; init; }

    /// <summary>Keys of inbound ports to delete.</summary>
    public List<string>? DeleteInbound { get; init; }
}

/// <summary>
/// An inbound port of a workload: what the daemon checks when it accepts a connection on the application's behalf.
/// </summary>
public sealed record MeshInboundPortDto
{
    /// <summary>The unique key (the agent's: <c>NODE_ID:PORT</c>).</summary>
    public string? Key { get; init; }

    /// <summary>Which applications under ax the port belongs to, by their labels (<c>k=v[,k=v]</c>): the workload the agent speaks for.</summary>
    public string? Selector { get; init; }

    /// <summary>The destination port; 0 for every port without an entry of its own.</summary>
    public int Port { get; init; }

    /// <summary><c>fast</c> (ax enforces), <c>chain</c> (needs Envoy), <c>passthrough</c> or <c>blackhole</c>; absent for <c>fast</c>.</summary>
    public string? Mode { get; init; }

    /// <summary>Why the port is chained (reason codes).</summary>
    public List<string>? Reasons { get; init; }

    /// <summary>
    /// The port's RBAC as a tree (engines, policies, permission and principal matchers), in the format of
    /// <c>Istio.AppSwitch.Rbac.RbacJson</c>; absent for none (allow all).
    /// </summary>
    public System.Text.Json.JsonElement? Rbac { get; init; }

    /// <summary>
    /// The Istio resources behind the port (the AuthorizationPolicies its RBAC was generated from, and what istiod named in
    /// the inbound listener's metadata); for people. Optional; at most <see cref="MeshIstioResourceDto.MaxPerRule"/>.
    /// </summary>
    public List<MeshIstioResourceDto>? IstioResources { get; init; }
}

/// <summary>The answer to <c>POST /v1/mesh</c>.</summary>
public sealed record MeshUpdateResponse
{
    /// <summary>The version now in force.</summary>
    public string? Version { get; init; }

    /// <summary>How many services the mesh has now.</summary>
    public required int Services { get; init; }

    /// <summary>How many clusters the mesh has now.</summary>
    public required int Clusters { get; init; }
}

/// <summary>An outbound service: connects to <see cref="Vip"/> go to an endpoint of one of <see cref="Clusters"/>.</summary>
public sealed record MeshServiceDto
{
    /// <summary>The unique key (the translation's: <c>10.96.0.10:6379</c>, <c>10.0.0.0/16:80</c>).</summary>
    public string? Key { get; init; }

    /// <summary>What connects match, in ref VIP syntax: <c>IP:PORT</c>, <c>IP/PREFIX:PORT</c>, <c>IP/PREFIX:*</c>, <c>[v6]:PORT</c>.</summary>
    public string? Vip { get; init; }

    /// <summary>The service's DNS names, for people and for the DNS issue; not matched at connect.</summary>
    public List<string>? DnsNames { get; init; }

    /// <summary><c>fast</c>, <c>chain</c>, <c>passthrough</c> or <c>blackhole</c>; absent for <c>fast</c>.</summary>
    public string? Mode { get; init; }

    /// <summary>Why the service is chained (reason codes); empty unless <see cref="Mode"/> is <c>chain</c>.</summary>
    public List<string>? Reasons { get; init; }

    /// <summary>The clusters and their weights; one is drawn per connection. Required for <c>fast</c>.</summary>
    public List<MeshWeightedClusterDto>? Clusters { get; init; }

    /// <summary>Pick the endpoint by a hash of the client's source address (RING_HASH/MAGLEV with a source-IP hash policy).</summary>
    public bool HashOnSourceIp { get; init; }

    /// <summary>How many times a failed connect is retried on another endpoint within the same call (0 to 10).</summary>
    public int ConnectRetries { get; init; }

    /// <summary>The listener it came from, for people.</summary>
    public string? Listener { get; init; }

    /// <summary>
    /// The Istio resources that produced the service (VirtualService, DestinationRule, Sidecar), as istiod named them in
    /// the Envoy resources' metadata; for people (<c>ax describe ref</c>). Optional; at most
    /// <see cref="MeshIstioResourceDto.MaxPerRule"/>.
    /// </summary>
    public List<MeshIstioResourceDto>? IstioResources { get; init; }
}

/// <summary>An Istio resource behind a mesh rule, as <c>istioctl x describe</c> names it: <c>VirtualService default/bookinfo</c>.</summary>
public sealed record MeshIstioResourceDto
{
    /// <summary>The most resources one service or inbound port may carry.</summary>
    public const int MaxPerRule = 64;

    /// <summary>The longest kind, namespace or name (a Kubernetes name is at most 253 characters).</summary>
    public const int MaxNameLength = 253;

    /// <summary>The longest <see cref="Raw"/>.</summary>
    public const int MaxRawLength = 1024;

    /// <summary>The kind (<c>VirtualService</c>, <c>DestinationRule</c>, <c>AuthorizationPolicy</c>, ...): letters only.</summary>
    public string? Kind { get; init; }

    /// <summary>Its namespace; absent when the source named none.</summary>
    public string? Namespace { get; init; }

    /// <summary>Its name.</summary>
    public string? Name { get; init; }

    /// <summary>
    /// What it was read from, unchanged: istiod's metadata path
    /// (<c>/apis/networking.istio.io/v1alpha3/namespaces/default/virtual-service/bookinfo</c>) or the RBAC policy name
    /// (<c>ns[default]-policy[httpbin]-rule[0]</c>).
    /// </summary>
    public string? Raw { get; init; }
}

/// <summary>A cluster and its share of a service's connections.</summary>
public sealed record MeshWeightedClusterDto
{
    /// <summary>The cluster's name.</summary>
    public string? Name { get; init; }

    /// <summary>Its weight; the share is weight / sum of weights. Absent for 1.</summary>
    public uint? Weight { get; init; }
}

/// <summary>An upstream cluster: its endpoints and how ax picks among them.</summary>
public sealed record MeshClusterDto
{
    /// <summary>The cluster's name (<c>outbound|6379||redis.default.svc.cluster.local</c>).</summary>
    public string? Name { get; init; }

    /// <summary><c>round_robin</c> (default), <c>least_request</c>, <c>random</c>, <c>ring_hash</c> or <c>maglev</c>.</summary>
    public string? LbPolicy { get; init; }

    /// <summary>LEAST_REQUEST: how many endpoints are compared (default 2).</summary>
    public int? ChoiceCount { get; init; }

    /// <summary>RING_HASH: the smallest ring (default 1024).</summary>
    public ulong? MinimumRingSize { get; init; }

    /// <summary>RING_HASH: the largest ring (default 8M).</summary>
    public ulong? MaximumRingSize { get; init; }

    /// <summary>MAGLEV: the table size, a prime (default 65537).</summary>
    public ulong? MaglevTableSize { get; init; }

    /// <summary>How long a connect to one endpoint may take (<c>10s</c>, <c>250ms</c>); absent for 10s.</summary>
    public string? ConnectTimeout { get; init; }

    /// <summary>Circuit breaker: at most this many open connections; absent (or 4294967295) for unlimited.</summary>
    public uint? MaxConnections { get; init; }

    /// <summary>Outlier detection on connect failures; absent for none.</summary>
    public MeshOutlierDetectionDto? OutlierDetection { get; init; }

    /// <summary>
    /// Below this share of healthy endpoints (percent) a priority level "panics" and uses all of its endpoints, as
    /// Envoy's <c>healthy_panic_threshold</c>; absent for 50. Istio sends 0 (never panic) with outlier detection.
    /// </summary>
    public int? HealthyPanicThreshold { get; init; }

    /// <summary>The endpoints.</summary>
    public List<MeshEndpointDto>? Endpoints { get; init; }
}

/// <summary>Outlier detection: consecutive connect failures eject an endpoint for a while.</summary>
public sealed record MeshOutlierDetectionDto
{
    /// <summary>Failures in a row that eject an endpoint (default 5).</summary>
    public int? ConsecutiveFailures { get; init; }

    /// <summary>The first ejection's length; later ones are multiples of it (default 30s).</summary>
    public string? BaseEjectionTime { get; init; }

    /// <summary>The longest ejection (default 300s).</summary>
    public string? MaxEjectionTime { get; init; }

    /// <summary>At most this share of the endpoints is ejected at once, in percent (default 10).</summary>
    public int? MaxEjectionPercent { get; init; }
}

/// <summary>One endpoint of a cluster.</summary>
public sealed record MeshEndpointDto
{
    /// <summary>The IP address (IPv4 or IPv6).</summary>
    public string? Address { get; init; }

    /// <summary>The port.</summary>
    public int Port { get; init; }

    /// <summary>Its weight (default 1).</summary>
    public uint? Weight { get; init; }

    /// <summary>Its locality priority: 0 is tried first (default 0).</summary>
    public uint? Priority { get; init; }

    /// <summary><c>healthy</c> (default; also <c>unknown</c>), <c>degraded</c>, <c>unhealthy</c>, <c>draining</c> or <c>timeout</c>.</summary>
    public string? Health { get; init; }

    /// <summary>Reported by the daemon: open connections to it.</summary>
    public int? ActiveConnections { get; init; }

    /// <summary>Reported by the daemon: connect failures in a row.</summary>
    public int? ConsecutiveFailures { get; init; }

    /// <summary>Reported by the daemon: ejected by outlier detection now.</summary>
    public bool? Ejected { get; init; }
}

/// <summary>The body of <c>GET /v1/mesh</c>: the mesh rules in force.</summary>
public sealed record MeshStateDto
{
    /// <summary>The version of the last update, or absent before the first.</summary>
    public string? Version { get; init; }

    /// <summary>When the last update was applied, or absent.</summary>
    public DateTimeOffset? UpdatedAt { get; init; }

    /// <summary>The services, ordered by key.</summary>
    public required List<MeshServiceDto> Services { get; init; }

    /// <summary>The clusters, ordered by name, with the endpoints' live state.</summary>
    public required List<MeshClusterDto> Clusters { get; init; }

    /// <summary>The inbound ports, ordered by key.</summary>
    public List<MeshInboundPortDto>? Inbound { get; init; }
}
