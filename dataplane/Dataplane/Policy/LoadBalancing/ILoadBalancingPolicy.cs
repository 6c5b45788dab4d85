using Istio.AppSwitch.Dataplane.Registry;

namespace Istio.AppSwitch.Dataplane.Policy.LoadBalancing;

/// <summary>
/// Picks one backend of a set for one connect (YARP's <c>ILoadBalancingPolicy</c>). Runs on the connect path: no
/// allocation, no lock, no logging. The xDS issue adds the other policies; round robin is the only one now.
/// </summary>
internal interface ILoadBalancingPolicy
{
    /// <summary>The policy's name, as configuration spells it.</summary>
    string Name { get; }

    /// <summary>A service of <paramref name="backends"/>, or null when it is empty.</summary>
    ServiceRecord? PickBackend(BackendSet backends);
}
