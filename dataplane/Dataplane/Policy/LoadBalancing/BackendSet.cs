using Istio.AppSwitch.Dataplane.Registry;

namespace Istio.AppSwitch.Dataplane.Policy.LoadBalancing;

/// <summary>
/// The live services one ref (or one advertised address) may send a connect to, fixed when a routing snapshot is
/// built, with the mutable state a load-balancing policy keeps for them. The services never change; only
/// <see cref="Counter"/> does, with <see cref="Interlocked"/>.
/// </summary>
internal sealed class BackendSet
{
    /// <summary>Counter of the round robin. A field, so that <see cref="Interlocked"/> can update it in place.</summary>
    public int Counter;

    public BackendSet(ServiceRecord[] services, int counter = 0)
    {
        Services = services;
        Counter = counter;
    }

    /// <summary>The set with no service.</summary>
    public static BackendSet Empty { get; } = new([]);

    /// <summary>The services, in registration order.</summary>
    public ServiceRecord[] Services { get; }
}
