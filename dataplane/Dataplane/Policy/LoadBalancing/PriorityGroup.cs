namespace Istio.AppSwitch.Dataplane.Policy.LoadBalancing;

/// <summary>The endpoints of one priority level and what each policy picks from. Immutable but for the turns.</summary>
internal sealed class PriorityGroup
{
    public PriorityGroup(uint priority, UpstreamEndpoint[] all, EndpointList healthy, EndpointList degraded, EndpointList any,
        HashRing? ring, MaglevTable? maglev)
    {
        Priority = priority;
        All = all;
        Healthy = healthy;
        Degraded = degraded;
        Any = any;
        Ring = ring;
        Maglev = maglev;
    }

    /// <summary>The priority value EDS gave.</summary>
    public uint Priority { get; }

    /// <summary>Every endpoint of the level, in EDS order.</summary>
    public UpstreamEndpoint[] All { get; }

    /// <summary>The endpoints EDS calls healthy.</summary>
    public EndpointList Healthy { get; }

    /// <summary>The endpoints EDS calls degraded.</summary>
    public EndpointList Degraded { get; }

    /// <summary>All of them, for a panic.</summary>
    public EndpointList Any { get; }

    /// <summary>RING_HASH only: the ring over <see cref="All"/>.</summary>
    public HashRing? Ring { get; }

    /// <summary>MAGLEV only: the table over <see cref="All"/>.</summary>
    public MaglevTable? Maglev { get; }

    public EndpointList ListFor(PickMode mode) => mode switch
    {
        PickMode.Healthy => Healthy,
        PickMode.Degraded => Degraded,
        _ => Any,
    };
}
