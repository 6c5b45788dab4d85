using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Dataplane.Mesh;

namespace Istio.AppSwitch.XdsAgent.Sinks;

/// <summary>
/// Programs the <see cref="MeshStore"/> of the daemon the agent runs in (<c>ax daemon --pilot</c>): no socket, no JSON.
/// <see cref="MeshStore.Apply"/> publishes the new routing snapshot before it returns, so when this completes, the
/// next connect follows the update.
/// </summary>
public sealed class InProcessMeshSink : IMeshSink
{
    private readonly MeshStore _store;

    /// <summary>Creates a sink for <paramref name="store"/>.</summary>
    public InProcessMeshSink(MeshStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
    }

    /// <inheritdoc />
    public string Description => "in-process";

    /// <inheritdoc />
    public Task<MeshUpdateResponse> ApplyAsync(MeshUpdateRequest request, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(_store.Apply(request));
    }
}
