using Istio.AppSwitch.Grpc;
using Istio.AppSwitch.Grpc.Tests.Support;
using Istio.AppSwitch.Testing.V1;
using Istio.AppSwitch.Tests.Common.Grpc;

namespace Istio.AppSwitch.Grpc.Tests;

// In-process: h2c over a Unix domain socket, the way ax reaches local daemons.
public sealed class Http2GrpcChannelUnixSocketTests : IAsyncLifetime
{
    private readonly string _socketPath = Path.Combine(Path.GetTempPath(), $"ax-grpc-{Guid.NewGuid():N}.sock");
    private GrpcTestServer? _server;

    public async Task InitializeAsync() => _server = await GrpcTestServer.StartAsync(
        s => s.MapEchoService(), new GrpcTestServerOptions { ListenOnLoopback = false, UnixSocketPath = _socketPath });

    public async Task DisposeAsync() => await _server!.DisposeAsync();

    [Fact]
    public async Task UnaryAsync_UnixSocketAddress_Succeeds()
    {
        using var channel = new Http2GrpcChannel(new GrpcChannelOptions { Address = _server!.UnixSocketAddress! });

        var response = await channel.UnaryAsync(EchoService.Echo, new EchoRequest { Message = "over uds" }).Within();

        Assert.Equal("over uds", response.Message);
        Assert.Equal(0, _server.Port);
    }

    [Fact]
    public async Task DuplexStreaming_UnixSocketAddress_Succeeds()
    {
        using var channel = new Http2GrpcChannel(new GrpcChannelOptions { Address = new Uri($"unix://{_socketPath}") });
        using var call = channel.StartDuplexStreaming(EchoService.EchoStream);

        await call.WriteAsync(new EchoRequest { Message = "a" }).Within();
        await call.WriteAsync(new EchoRequest { Message = "b" }).Within();
        await call.CompleteAsync();
        var messages = new List<string>();
        while (await call.MoveNext().Within())
        {
            messages.Add(call.Current.Message);
        }

        Assert.Equal(["a", "b"], messages);
    }

    [Fact]
    public async Task UnaryAsync_NoSocketAtPath_Unavailable()
    {
        using var channel = new Http2GrpcChannel(new GrpcChannelOptions { Address = new Uri($"unix://{_socketPath}.missing") });

        var error = await Assert.ThrowsAsync<GrpcException>(() => channel.UnaryAsync(EchoService.Echo, new EchoRequest())).Within();

        Assert.Equal(GrpcStatusCode.Unavailable, error.StatusCode);
    }
}
