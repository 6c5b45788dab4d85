using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Policy.LoadBalancing;

/// <summary>One endpoint of an upstream cluster, as EDS gives it.</summary>
/// <param name="Address">The endpoint's address and port; its identity across rebuilds.</param>
/// <param name="Weight">The endpoint's <c>load_balancing_weight</c>; at least 1.</param>
/// <param name="Priority">Failover order: 0 first. Gaps between levels do not matter.</param>
/// <param name="Health">The EDS health, already folded into three states.</param>
public sealed record UpstreamEndpointSpec(InetEndpoint Address, uint Weight, uint Priority, UpstreamHealth Health);
