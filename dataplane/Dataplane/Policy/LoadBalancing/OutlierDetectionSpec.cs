namespace Istio.AppSwitch.Dataplane.Policy.LoadBalancing;

/// <summary>Passive health checking on connect outcomes (Envoy's <c>OutlierDetection</c>, consecutive failures only).</summary>
/// <param name="ConsecutiveFailures">Failed connects in a row that eject an endpoint; 0 or less never ejects.</param>
/// <param name="BaseEjectionTime">The first ejection's length; the n-th lasts n times as long.</param>
/// <param name="MaxEjectionTime">The longest an ejection lasts. Like Envoy, never shorter than <paramref name="BaseEjectionTime"/>.</param>
/// <param name="MaxEjectionPercent">At most this share of the cluster's endpoints is ejected at once (0 to 100).</param>
public sealed record OutlierDetectionSpec(int ConsecutiveFailures, TimeSpan BaseEjectionTime, TimeSpan MaxEjectionTime, int MaxEjectionPercent);
