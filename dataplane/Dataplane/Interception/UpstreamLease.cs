using Istio.AppSwitch.Dataplane.Policy.LoadBalancing;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>
/// A connection slot on a mesh endpoint, taken when the routing decision picked it: it counts toward the cluster's
/// circuit breaker and the endpoint's active connections until the connection ends. A value; <c>default</c> holds
/// nothing (a connect redirected to a registry service).
/// </summary>
internal readonly record struct UpstreamLease(UpstreamCluster? Cluster, UpstreamEndpoint? Endpoint)
{
    /// <summary>True when the lease holds a slot.</summary>
    public bool IsHeld => Cluster is not null && Endpoint is not null;

    /// <summary>Gives the slot back: the connection ended, or never came to be.</summary>
    public void Release()
    {
        if (IsHeld)
        {
            Cluster!.Release(Endpoint!);
        }
    }

    /// <summary>Tells outlier detection how the connect went, now by the cluster's clock (or at <paramref name="timestamp"/> of it).</summary>
    public void Report(bool success, long? timestamp = null)
    {
        if (IsHeld)
        {
            Cluster!.ReportConnect(Endpoint!, success, timestamp ?? Cluster.Time.GetTimestamp());
        }
    }

    /// <summary>
    /// Connect failures that another endpoint may not have: the peer refused or did not answer. Errors of the
    /// socket itself (EISCONN, EALREADY, a bad address family) would fail on any endpoint.
    /// </summary>
    public static bool IsRetriable(Errno error) =>
        error is Errno.ECONNREFUSED or Errno.ETIMEDOUT or Errno.EHOSTUNREACH or Errno.ENETUNREACH or Errno.ECONNRESET or Errno.ECONNABORTED;
}
