using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Policy.LoadBalancing;

/// <summary>
/// One endpoint of an <see cref="UpstreamCluster"/>. Its address, weight, priority and health are those of the build
/// it came from and never change. Its counters and ejection live in a state that is keyed by address and port and
/// handed on when the cluster is rebuilt: an endpoint of an earlier build and its successor with the same address
/// share them, so a connection acquired on one may be released on the other.
/// </summary>
public sealed class UpstreamEndpoint
{
    internal UpstreamEndpoint(UpstreamEndpointSpec spec, EndpointState state)
    {
        Address = spec.Address;
        Weight = spec.Weight;
        Priority = spec.Priority;
        Health = spec.Health;
        State = state;
    }

    /// <summary>The endpoint's address and port.</summary>
    public InetEndpoint Address { get; }

    /// <summary>The load-balancing weight (at least 1).</summary>
    public uint Weight { get; }

    /// <summary>The priority level: 0 is tried first.</summary>
    public uint Priority { get; }

    /// <summary>The health EDS reported for this build. Ejection is separate: see <see cref="IsEjected"/>.</summary>
    public UpstreamHealth Health { get; }

    /// <summary>Connections acquired with <see cref="UpstreamCluster.TryAcquire"/> and not yet released.</summary>
    public int ActiveConnections => Volatile.Read(ref State.ActiveConnections);

    /// <summary>Failed connects since the last success or ejection.</summary>
    public int ConsecutiveFailures => Volatile.Read(ref State.ConsecutiveFailures);

    /// <summary>How many times outlier detection has ejected this endpoint (never decreases).</summary>
    public int EjectionCount => Volatile.Read(ref State.EjectionCount);

    /// <summary>The state shared with the same address in earlier and later builds.</summary>
    internal EndpointState State { get; }

    /// <summary>Whether outlier detection keeps this endpoint out at <paramref name="nowTimestamp"/> (a
    /// <see cref="TimeProvider.GetTimestamp"/> value of the cluster's clock).</summary>
    public bool IsEjected(long nowTimestamp) => State.IsEjected(nowTimestamp);

    /// <inheritdoc />
    public override string ToString() => $"{Address} w={Weight} p={Priority} {Health}";
}

/// <summary>
/// The mutable part of an endpoint, carried across rebuilds. Every field changes only through
/// <see cref="Interlocked"/> or <see cref="Volatile"/>; ejection writes happen under <see cref="ClusterState.EjectionLock"/>.
/// </summary>
internal sealed class EndpointState(ClusterState cluster)
{
    public int ActiveConnections;
    public int ConsecutiveFailures;
    public int EjectionCount;

    /// <summary>The timestamp the current ejection ends at; <see cref="long.MinValue"/> when never ejected.</summary>
    public long EjectedUntil = long.MinValue;

    /// <summary>The cluster counters this endpoint's connections count against, so that an acquire and its release
    /// always move the same counters, whichever build the caller holds.</summary>
    public ClusterState Cluster { get; } = cluster;

    public bool IsEjected(long now) => now < Volatile.Read(ref EjectedUntil);
}

/// <summary>The mutable part of a cluster, carried across rebuilds like <see cref="EndpointState"/>.</summary>
internal sealed class ClusterState
{
    public int ActiveConnections;

    /// <summary>Incremented after every ejection, so that every build of the cluster recomputes its priority loads.</summary>
    public int EjectionEpoch;

    /// <summary>Serializes ejection decisions, so that two failing endpoints cannot both pass the max-percent check.
    /// Never taken by <see cref="UpstreamCluster.Pick"/>.</summary>
    public Lock EjectionLock { get; } = new();
}
