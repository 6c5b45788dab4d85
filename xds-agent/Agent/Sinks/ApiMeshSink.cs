using Istio.AppSwitch.Dataplane.Api;

namespace Istio.AppSwitch.XdsAgent.Sinks;

/// <summary>Programs a daemon through <c>POST /v1/mesh</c> on its API socket (<c>ax xds-agent --api PATH</c>).</summary>
public sealed class ApiMeshSink : IMeshSink, IDisposable
{
    private readonly AxApiClient _client;

    /// <summary>Creates a sink for the daemon on <paramref name="socketPath"/>.</summary>
    public ApiMeshSink(string socketPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);

        // A whole mesh of tens of thousands of endpoints takes the daemon a while to validate: more than a ref does.
        _client = new AxApiClient(socketPath, TimeSpan.FromSeconds(60));
    }

    /// <inheritdoc />
    public string Description => $"api {_client.SocketPath}";

    /// <inheritdoc />
    public Task<MeshUpdateResponse> ApplyAsync(MeshUpdateRequest request, CancellationToken cancellationToken) =>
        _client.UpdateMeshAsync(request, cancellationToken);

    /// <inheritdoc />
    public void Dispose() => _client.Dispose();
}
