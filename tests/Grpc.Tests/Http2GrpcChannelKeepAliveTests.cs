using Istio.AppSwitch.Grpc;
using Istio.AppSwitch.Grpc.Tests.Support;
using Istio.AppSwitch.Testing.V1;
using Istio.AppSwitch.Tests.Common.Grpc;

namespace Istio.AppSwitch.Grpc.Tests;

// In-process: HTTP/2 keepalive seen on the wire, through a frame-counting relay in front of the h2c test server.
public sealed class Http2GrpcChannelKeepAliveTests(EchoServerFixture fixture) : IClassFixture<EchoServerFixture>
{
    [Fact]
    public async Task KeepAlive_IdleOpenStream_ClientSendsPings()
    {
        await using var relay = Http2FrameRelay.Start(fixture.Server.Port);
        using var channel = new Http2GrpcChannel(new GrpcChannelOptions
        {
            Address = relay.Address,
            KeepAlivePingDelay = TimeSpan.FromSeconds(1),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(5),
        });
        using var call = await OpenStreamAsync(channel);
        var before = relay.ClientPings;

        // SocketsHttpHandler checks keepalive once a second and restarts the delay on every frame it receives, the
        // PING acknowledgement included: expect a PING about every two seconds.
        var deadline = DateTime.UtcNow.AddSeconds(8);
        while (relay.ClientPings - before < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100));
        }

        Assert.InRange(relay.ClientPings - before, 2, 10);
        await call.WriteAsync(new EchoRequest { Message = "still alive" }).Within();
        Assert.True(await call.MoveNext().Within());
    }

    [Fact]
    public async Task KeepAlive_NotConfigured_NoPingsOnIdleStream()
    {
        await using var relay = Http2FrameRelay.Start(fixture.Server.Port);
        using var channel = new Http2GrpcChannel(new GrpcChannelOptions { Address = relay.Address });
        using var call = await OpenStreamAsync(channel);
        // SocketsHttpHandler also pings to measure the round-trip time while data flows; let that settle first.
        await Task.Delay(TimeSpan.FromSeconds(1));
        var before = relay.ClientPings;

        await Task.Delay(TimeSpan.FromSeconds(2));

        Assert.Equal(before, relay.ClientPings);
    }

    [Fact]
    public async Task KeepAlive_PingNeverAcknowledged_CallFailsUnavailable()
    {
        await using var relay = Http2FrameRelay.Start(fixture.Server.Port);
        using var channel = new Http2GrpcChannel(new GrpcChannelOptions
        {
            Address = relay.Address,
            KeepAlivePingDelay = TimeSpan.FromSeconds(1),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(1),
        });
        using var call = await OpenStreamAsync(channel);

        // The server goes silent without closing the connection: only keepalive can tell.
        relay.DropServerBytes();
        var error = await Assert.ThrowsAsync<GrpcException>(() => call.MoveNext()).Within();

        Assert.Equal(GrpcStatusCode.Unavailable, error.StatusCode);
        Assert.Contains("ping", error.Status.Detail, StringComparison.OrdinalIgnoreCase);
        Assert.True(relay.ClientPings >= 1);
    }

    private static async Task<GrpcDuplexCall<EchoRequest, EchoResponse>> OpenStreamAsync(Http2GrpcChannel channel)
    {
        var call = channel.StartDuplexStreaming(EchoService.EchoStream);
        await call.WriteAsync(new EchoRequest { Message = "open" }).Within();
        Assert.True(await call.MoveNext().Within());
        return call;
    }
}
