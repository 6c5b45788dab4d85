using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Istio.AppSwitch.Delegation;
using Istio.AppSwitch.Interop;
using Istio.AppSwitch.ProxyProtocol;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Proxy.Tests.Proxy;

/// <summary>The plugins against real peers: a python server, HAProxy, and another delegation receiver.</summary>
public sealed class ProxyChainTests
{
    [Fact]
    public async Task Direct_Outbound_ReachesTheOriginalDestinationWithHalfCloseBothWays()
    {
        using var server = await EchoAfterEofServer.StartAsync();
        await using var harness = new ProxyChainHarness("""{ "plugins": [ { "type": "direct" } ] }""");

        using var app = harness.Outbound(TestSupport.Header("10.0.0.5:51000", $"127.0.0.1:{server.Port}"));
        await app.SendAsync("hello, direct"u8.ToArray());
        app.Shutdown(SocketShutdown.Send);
        var reply = Encoding.ASCII.GetString(await TestSupport.ReadToEndAsync(app));

        // The server answers only after end of stream, and the app reads to the end: half-close went both ways.
        Assert.Equal("got 13 from 127.0.0.1\nhello, direct", reply);
    }

    [Fact]
    public async Task Direct_Inbound_SplicesTheAcceptedSocketAndTheApplication()
    {
        await using var harness = new ProxyChainHarness("""{ "plugins": [ { "type": "direct" } ] }""");
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var remote = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await remote.ConnectAsync(listener.LocalEndpoint);
        using var accepted = await listener.AcceptSocketAsync();

        using var app = harness.Inbound(TestSupport.Header(remote.LocalEndPoint!.ToString()!, listener.LocalEndpoint.ToString()!), accepted.SafeHandle);
        accepted.Close();
        await remote.SendAsync("request from the network"u8.ToArray());
        var request = await TestSupport.ReadExactlyAsync(app, 24);
        await app.SendAsync("response from the app"u8.ToArray());
        app.Shutdown(SocketShutdown.Send);
        var response = await TestSupport.ReadToEndAsync(remote);

        Assert.Equal("request from the network"u8.ToArray(), request);
        Assert.Equal("response from the app"u8.ToArray(), response);
    }

    [Fact]
    public async Task Drop_MatchingPortOrLabel_ClosedWhileOthersGoThrough()
    {
        using var server = await EchoAfterEofServer.StartAsync();
        await using var harness = new ProxyChainHarness("""
            { "plugins": [
                { "type": "drop", "match": { "port": 6379 } },
                { "type": "drop", "match": { "labels": { "app": "blocked" } } },
                { "type": "direct", "match": { "destination": "127.0.0.0/8" } }
            ] }
            """);

        using var byPort = harness.Outbound(TestSupport.Header("10.0.0.5:51000", "127.0.0.1:6379"));
        using var byLabel = harness.Outbound(TestSupport.Header("10.0.0.5:51001", $"127.0.0.1:{server.Port}", AxTlvs.Labels([new("app", "blocked")])));
        using var unmatched = harness.Outbound(TestSupport.Header("10.0.0.5:51002", "192.0.2.1:80"));
        using var allowed = harness.Outbound(TestSupport.Header("10.0.0.5:51003", $"127.0.0.1:{server.Port}", AxTlvs.Labels([new("app", "web")])));
        await allowed.SendAsync("ok"u8.ToArray());
        allowed.Shutdown(SocketShutdown.Send);

        Assert.Empty(await TestSupport.ReadToEndAsync(byPort));
        Assert.Empty(await TestSupport.ReadToEndAsync(byLabel));
        Assert.Empty(await TestSupport.ReadToEndAsync(unmatched));
        Assert.Equal("got 2 from 127.0.0.1\nok", Encoding.ASCII.GetString(await TestSupport.ReadToEndAsync(allowed)));
        Assert.Equal(4, harness.Proxy.Received);
    }

    [Fact]
    public async Task ForwardProxy_Haproxy_OriginalSourceAndDestinationSurviveAndBackendGetsTheBytes()
    {
        using var backend = await EchoAfterEofServer.StartAsync();
        var (haproxy, ports) = await Haproxy.StartAsync(1, ports => $"""
            frontend delegated
                bind {Haproxy.Loopback(ports[0])} accept-proxy
                log-format "AXLOG ci=%ci cp=%cp fi=%fi fp=%fp in=%U"
                default_backend origin
            backend origin
                server s {Haproxy.Loopback(backend.Port)}
            """);
        using var _ = haproxy;
        await using var harness = new ProxyChainHarness($$"""
            { "plugins": [
                { "type": "forward-proxy", "address": "127.0.0.1:{{ports[0]}}", "match": { "protocol": "http/1.1" } },
                { "type": "drop" }
            ] }
            """);

        using var app = harness.Outbound(TestSupport.Header("10.1.2.3:40000", "10.96.0.10:9080", AxTlvs.Protocol("http/1.1")));
        await app.SendAsync("GET / HTTP/1.1\r\n\r\n"u8.ToArray());
        app.Shutdown(SocketShutdown.Send);
        var reply = Encoding.ASCII.GetString(await TestSupport.ReadToEndAsync(app));
        var line = await haproxy.WaitForLogLineAsync("AXLOG", TestSupport.Timeout);

        Assert.Equal("got 18 from 127.0.0.1\nGET / HTTP/1.1\r\n\r\n", reply);
        Assert.Equal("AXLOG ci=10.1.2.3 cp=40000 fi=10.96.0.10 fp=9080 in=18", line);
    }

    [Fact]
    public async Task ForwardDelegation_NextProxyGetsTheSameMetadataAndWorkingFds()
    {
        var directory = TestSupport.NewDirectory();
        var path = Path.Combine(directory, "next.sock");
        Assert.Equal(Errno.Success, Sockets.Create(SocketConstants.AF_UNIX, SocketConstants.SOCK_STREAM, 0, nonBlocking: false, closeOnExec: true, out var next));
        using var listener = next!;
        var sockaddr = new byte[110];
        Assert.Equal(Errno.Success, Sockets.WriteUnixSockaddr(path, sockaddr, out var sockaddrLength));
        Assert.Equal(Errno.Success, Sockets.Bind(listener, sockaddr.AsSpan(0, sockaddrLength)));
        Assert.Equal(Errno.Success, Sockets.Listen(listener, 4));
        await using var harness = new ProxyChainHarness($$"""{ "plugins": [ { "type": "forward-delegation", "path": "{{path}}" } ] }""");
        var header = TestSupport.Header("10.0.0.7:33000", "10.96.3.4:11211", AxTlvs.Identity(new AxIdentity("shop", "cart")));

        using var app = harness.Outbound(header);
        Assert.Equal(Errno.Success, Sockets.Poll(listener, EpollEvents.In, (int)TestSupport.Timeout.TotalMilliseconds, out var ready));
        Assert.NotEqual(EpollEvents.None, ready);
        Assert.Equal(Errno.Success, Sockets.Accept(listener, [], out _, nonBlocking: true, closeOnExec: true, out var accepted));
        using var reactor = new EpollReactor("test-next");
        using var reader = new DelegationReader(accepted!, reactor);
        using var frame = await reader.ReadAsync().AsTask().WaitAsync(TestSupport.Timeout);

        Assert.NotNull(frame);
        Assert.Equal(DelegationKind.Outbound, frame.Kind);
        Assert.Equal(1UL, frame.Id);
        Assert.Equal(header, frame.Metadata.ToArray());
        Assert.Equal("shop/cart", frame.Header.AxIdentity.ToString());
        using var passedOn = TestSupport.ToSocket(frame.TakeFds().PeerEnd);
        await app.SendAsync("stats\r\n"u8.ToArray());
        Assert.Equal("stats\r\n"u8.ToArray(), await TestSupport.ReadExactlyAsync(passedOn, 7));
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task ForwardProxy_NothingListening_Dropped()
    {
        var port = TestSupport.FreePort();
        await using var harness = new ProxyChainHarness(
            $$"""{ "plugins": [ { "type": "forward-proxy", "address": "127.0.0.1:{{port.ToString(CultureInfo.InvariantCulture)}}" } ] }""");

        using var app = harness.Outbound(TestSupport.Header("10.0.0.5:51000", "10.96.0.10:80"));

        Assert.Empty(await TestSupport.ReadToEndAsync(app));
    }
}
