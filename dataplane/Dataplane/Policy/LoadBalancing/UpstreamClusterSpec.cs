namespace Istio.AppSwitch.Dataplane.Policy.LoadBalancing;

/// <summary>An upstream cluster as the xDS mapper gives it to <see cref="UpstreamCluster.Create"/>.</summary>
/// <param name="Name">The Envoy cluster name.</param>
/// <param name="LbPolicy">How one endpoint is chosen within a priority.</param>
/// <param name="Endpoints">The endpoints, in EDS order. An address given twice shares one state.</param>
/// <param name="MaxConnections">Circuit breaker on open connections; <see cref="uint.MaxValue"/> is unlimited.</param>
/// <param name="ConnectTimeout">Carried for the connect path; the load balancer does not use it.</param>
/// <param name="OutlierDetection">Null when the cluster has none.</param>
/// <param name="ChoiceCount">LEAST_REQUEST: how many endpoints are compared (Envoy's <c>choice_count</c>, default 2).</param>
/// <param name="MinimumRingSize">RING_HASH: <c>minimum_ring_size</c> (default 1024).</param>
/// <param name="MaximumRingSize">RING_HASH: <c>maximum_ring_size</c> (default and limit 8M).</param>
/// <param name="MaglevTableSize">MAGLEV: <c>table_size</c>, a prime (default 65537).</param>
/// <param name="HealthyPanicThreshold">
/// Envoy's <c>common_lb_config.healthy_panic_threshold</c> in percent (default 50): a priority whose healthy and
/// degraded share falls below it uses all its endpoints, whatever their health. 0 turns panic off. Istio sets it to
/// <c>minHealthPercent</c> (0 unless given) when a DestinationRule has outlier detection.
/// </param>
public sealed record UpstreamClusterSpec(
    string Name,
    UpstreamLbPolicy LbPolicy,
    IReadOnlyList<UpstreamEndpointSpec> Endpoints,
    uint MaxConnections,
    TimeSpan ConnectTimeout,
    OutlierDetectionSpec? OutlierDetection,
    int ChoiceCount = 2,
    ulong MinimumRingSize = 1024,
    ulong MaximumRingSize = 8 * 1024 * 1024,
    ulong MaglevTableSize = 65537,
    int HealthyPanicThreshold = 50);
