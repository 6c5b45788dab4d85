using System.Globalization;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Grpc.Tests.Interop;

/// <summary>
/// <c>tests/interop/grpc-js/server.js</c>: the Echo service on @grpc/grpc-js, an independent gRPC implementation,
/// listening on 127.0.0.1. Installs the locked npm packages first if a fresh clone lacks them.
/// </summary>
public sealed class GrpcJsServerFixture : IAsyncLifetime
{
    private ExternalProcess? _server;

    public static string PackageDirectory => RepositoryPaths.Combine("tests", "interop", "grpc-js");

    public Uri Address { get; private set; } = new("http://127.0.0.1:0");

    public async Task InitializeAsync()
    {
        await NodeJs.EnsurePackagesInstalledAsync(PackageDirectory);
        _server = ExternalProcess.Start(NodeJs.Node, ["server.js"], PackageDirectory);
        var line = await _server.ReadLineAsync(TimeSpan.FromSeconds(20));
        if (!int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out var port))
        {
            throw new InvalidOperationException($"server.js printed '{line}' instead of its port.\n{_server.Output}");
        }

        Address = new Uri($"http://127.0.0.1:{port}");
    }

    public Task DisposeAsync()
    {
        _server?.Dispose();
        return Task.CompletedTask;
    }
}
