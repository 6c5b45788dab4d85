using Istio.AppSwitch.Dataplane.Api;

namespace Istio.AppSwitch.XdsAgent.Sinks;

/// <summary>
/// Where the agent's mesh updates go: the daemon, over its REST API or in the same process. One call at a time (the
/// agent serializes pushes); a call that throws leaves the daemon's state unknown, so the agent's next push replaces it.
/// </summary>
public interface IMeshSink
{
    /// <summary>What the sink writes to, for logs (<c>api /run/ax/ax.sock</c>, <c>in-process</c>).</summary>
    string Description { get; }

    /// <summary>Applies one atomic update; returns what the daemon holds after it.</summary>
    /// <exception cref="Exception">The daemon is unreachable or refused the update.</exception>
    Task<MeshUpdateResponse> ApplyAsync(MeshUpdateRequest request, CancellationToken cancellationToken);
}
