namespace Istio.AppSwitch.Dataplane.Policy.LoadBalancing;

/// <summary>
/// The health of an endpoint as the load balancer sees it. The EDS mapper folds EDS's six states into these three:
/// <c>UNKNOWN</c> and <c>HEALTHY</c> are <see cref="Healthy"/>; <c>DRAINING</c>, <c>TIMEOUT</c> and <c>UNHEALTHY</c>
/// are <see cref="Unhealthy"/>.
/// </summary>
public enum UpstreamHealth
{
    /// <summary>Takes connections.</summary>
    Healthy,

    /// <summary>Takes the load its priority's healthy endpoints cannot (Envoy's degraded load).</summary>
    Degraded,

    /// <summary>Takes connections only when its priority is in panic.</summary>
    Unhealthy,
}
