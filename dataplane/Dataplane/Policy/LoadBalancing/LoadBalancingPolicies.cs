using System.Collections.Frozen;

namespace Istio.AppSwitch.Dataplane.Policy.LoadBalancing;

/// <summary>The built-in load-balancing policies by name, and the default.</summary>
internal static class LoadBalancingPolicies
{
    /// <summary>The name of <see cref="RoundRobinLoadBalancingPolicy"/>.</summary>
    public const string RoundRobin = "RoundRobin";

    /// <summary>Every built-in policy by name (case-insensitive).</summary>
    public static FrozenDictionary<string, ILoadBalancingPolicy> ByName { get; } =
        new ILoadBalancingPolicy[] { new RoundRobinLoadBalancingPolicy() }.ToFrozenDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);

    /// <summary>The policy of a ref that names none.</summary>
    public static ILoadBalancingPolicy Default { get; } = ByName[RoundRobin];
}
