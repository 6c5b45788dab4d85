using Istio.AppSwitch.Tests.Common.Grpc;

namespace Istio.AppSwitch.Grpc.Tests.Support;

/// <summary>One h2c Kestrel server with the Echo service, shared by the tests of a class.</summary>
public sealed class EchoServerFixture : IAsyncLifetime
{
    private GrpcTestServer? _server;

    public GrpcTestServer Server => _server ?? throw new InvalidOperationException("The fixture has not started.");

    public async Task InitializeAsync() => _server = await GrpcTestServer.StartAsync(s => s.MapEchoService());

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
