namespace Istio.AppSwitch.Dataplane.Policy.LoadBalancing;

/// <summary>Which endpoints of a priority one pick may take.</summary>
internal enum PickMode : byte
{
    /// <summary>Healthy endpoints that are not ejected (the priority's healthy load).</summary>
    Healthy,

    /// <summary>Degraded endpoints that are not ejected (the priority's degraded load).</summary>
    Degraded,

    /// <summary>Every endpoint of the priority, whatever its health or ejection: the priority is in panic.</summary>
    Panic,
}

/// <summary>The test one pick applies to each candidate: the mode, the clock, and the endpoint to avoid.</summary>
internal readonly struct Selection(PickMode mode, long now, EndpointState? avoid)
{
    public PickMode Mode { get; } = mode;

    public bool Accepts(UpstreamEndpoint endpoint)
    {
        if (ReferenceEquals(endpoint.State, avoid))
        {
            return false;
        }

        return Mode switch
        {
            PickMode.Healthy => endpoint.Health == UpstreamHealth.Healthy && !endpoint.State.IsEjected(now),
            PickMode.Degraded => endpoint.Health == UpstreamHealth.Degraded && !endpoint.State.IsEjected(now),
            _ => true,
        };
    }
}
