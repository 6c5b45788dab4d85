using System.Collections.Frozen;
using System.Collections.Immutable;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Dataplane.Registry;
using Istio.AppSwitch.Rbac;

namespace Istio.AppSwitch.Dataplane.Mesh;

/// <summary>
/// What the daemon enforces when it accepts a connection on an inbound port of an application under ax: the port's
/// RBAC and its mode, as the xds-agent translated them from the workload's <c>virtualInbound</c> listener.
/// </summary>
/// <param name="Key">The agent's key (<c>NODE_ID:PORT</c>).</param>
/// <param name="Selector">Which applications the port belongs to, by their labels.</param>
/// <param name="Port">The local port; 0 for every port without an entry of its own.</param>
/// <param name="Mode">Fast (ax enforces), chain (needs Envoy), passthrough (nothing to enforce) or blackhole (refuse all).</param>
/// <param name="Reasons">Why the port is chained (reason codes), for people and logs.</param>
/// <param name="Rbac">The port's RBAC; <see cref="RbacModel.None"/> allows everything.</param>
public sealed record InboundPolicy(
    string Key,
    LabelSelector Selector,
    ushort Port,
    MeshMode Mode,
    ImmutableArray<string> Reasons,
    RbacModel Rbac)
{
    /// <summary>The Istio resources behind the port (its AuthorizationPolicies), for <c>ax describe</c>; empty when none were named.</summary>
    public ImmutableArray<IstioResourceRef> IstioResources { get; init; } = [];

    /// <summary>
    /// True when nothing needs checking: a fast or passthrough port with no RBAC. The accept is then left to the
    /// kernel (one CONTINUE), exactly as for a port with no policy.
    /// </summary>
    public bool AllowsAll { get; } = Mode == MeshMode.Passthrough || (Mode == MeshMode.Fast && Rbac.Engines.IsEmpty);

    /// <summary>Whether a rule reads the peer's mTLS principal, so the daemon must look for the peer's identity.</summary>
    public bool UsesPrincipal { get; } = Rbac.UsesPrincipal;

    /// <summary>
    /// Whether a rule reads the first request (a path, a header, the SNI), so the daemon must peek at the connection's
    /// first bytes before it decides.
    /// </summary>
    public bool UsesL7 { get; } = Rbac.UsesL7;
}

/// <summary>
/// The inbound policies in force: an immutable snapshot, replaced as a whole by <see cref="MeshStore.Apply"/> and read
/// without a lock on the accept path.
/// </summary>
internal sealed class InboundTable
{
    private readonly FrozenDictionary<ushort, InboundPolicy[]> _byPort;
    private readonly LabelSelector[] _selectors;

    private InboundTable(ImmutableSortedDictionary<string, InboundPolicy> byKey)
    {
        ByKey = byKey;
        // Ordered by key within a port, so that overlapping selectors resolve the same way every time.
        _byPort = byKey.Values.GroupBy(p => p.Port).ToFrozenDictionary(g => g.Key, g => g.ToArray());
        _selectors = [.. byKey.Values.Select(p => p.Selector).Distinct()];
    }

    /// <summary>No inbound policy: every accept is the kernel's.</summary>
    public static InboundTable Empty { get; } = new(ImmutableSortedDictionary.Create<string, InboundPolicy>(StringComparer.Ordinal));

    /// <summary>The policies by key.</summary>
    public ImmutableSortedDictionary<string, InboundPolicy> ByKey { get; }

    /// <summary>True when there is no policy at all.</summary>
    public bool IsEmpty => _selectors.Length == 0;

    /// <summary>A table with <paramref name="byKey"/>.</summary>
    public static InboundTable Create(ImmutableSortedDictionary<string, InboundPolicy> byKey) => byKey.IsEmpty ? Empty : new(byKey);

    /// <summary>Whether some policy selects an app with these labels. Allocates nothing.</summary>
    public bool AppliesTo(Labels labels)
    {
        foreach (var selector in _selectors)
        {
            if (selector.Matches(labels))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>The policy of <paramref name="port"/> for an app with these labels: an exact port first, then port 0. Allocates nothing.</summary>
    public InboundPolicy? Find(Labels labels, ushort port) =>
        FindOn(labels, port) ?? (port == 0 ? null : FindOn(labels, 0));

    private InboundPolicy? FindOn(Labels labels, ushort port)
    {
        if (!_byPort.TryGetValue(port, out var policies))
        {
            return null;
        }
        foreach (var policy in policies)
        {
            if (policy.Selector.Matches(labels))
            {
                return policy;
            }
        }
        return null;
    }
}
