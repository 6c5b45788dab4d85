namespace Istio.AppSwitch.Dataplane.Policy.LoadBalancing;

/// <summary>The load-balancing policy of an upstream cluster (Envoy's <c>Cluster.lb_policy</c>).</summary>
public enum UpstreamLbPolicy
{
    /// <summary>Weighted round robin (<c>ROUND_ROBIN</c>).</summary>
    RoundRobin,

    /// <summary>Power of <see cref="UpstreamClusterSpec.ChoiceCount"/> choices on open connections (<c>LEAST_REQUEST</c>).</summary>
    LeastRequest,

    /// <summary>Weighted random (<c>RANDOM</c>).</summary>
    Random,

    /// <summary>Ketama consistent hashing on the source address (<c>RING_HASH</c>).</summary>
    RingHash,

    /// <summary>Maglev consistent hashing on the source address (<c>MAGLEV</c>).</summary>
    Maglev,
}
