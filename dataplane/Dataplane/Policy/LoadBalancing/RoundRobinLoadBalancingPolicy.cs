using Istio.AppSwitch.Dataplane.Registry;

namespace Istio.AppSwitch.Dataplane.Policy.LoadBalancing;

/// <summary>Takes the services of a set in turn, lock-free: one <see cref="Interlocked.Increment(ref int)"/> per pick.</summary>
internal sealed class RoundRobinLoadBalancingPolicy : ILoadBalancingPolicy
{
    public string Name => LoadBalancingPolicies.RoundRobin;

    public ServiceRecord? PickBackend(BackendSet backends)
    {
        var services = backends.Services;
        if (services.Length == 0)
        {
            return null;
        }
        // Unsigned, so that the counter wrapping past int.MaxValue keeps the turn order.
        var next = (uint)Interlocked.Increment(ref backends.Counter) - 1;
        return services[(int)(next % (uint)services.Length)];
    }
}
