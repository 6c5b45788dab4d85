using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Dataplane.Delegation;
using Istio.AppSwitch.Delegation;
using Istio.AppSwitch.ProxyProtocol;

namespace Istio.AppSwitch.Proxy.Tests.Delegation;

/// <summary>Registration with a real daemon over its API socket, and the hub delivering live sockets.</summary>
public sealed class DelegationRegistrationTests
{
    [Fact]
    public async Task RegisterAsync_Root_101ThenHubReadyAndListed()
    {
        await using var daemon = await TestDaemon.StartAsync();

        using var reader = await DelegationClient.RegisterAsync(daemon.SocketPath, "sidecar-a", DelegationDirections.Both);
        await daemon.WaitForSidecarAsync(outbound: true);

        Assert.True(daemon.Hub.HasInbound);
        using var http = CreateHttpClient(daemon.SocketPath);
        var listed = await http.GetFromJsonAsync("/v1/delegation", DelegationJsonContext.Default.ListSidecarDto);
        var sidecar = Assert.Single(listed!);
        Assert.Equal("sidecar-a", sidecar.Name);
        Assert.Equal(["outbound", "inbound"], sidecar.Directions);
        Assert.Equal(0, sidecar.Delegated);
    }

    [Fact]
    public async Task RegisterAsync_DirectionTaken_409ButTheOtherDirectionIsFree()
    {
        await using var daemon = await TestDaemon.StartAsync();
        using var first = await DelegationClient.RegisterAsync(daemon.SocketPath, "first", DelegationDirections.Outbound);

        var error = await Assert.ThrowsAsync<DelegationRegistrationException>(
            () => DelegationClient.RegisterAsync(daemon.SocketPath, "second", DelegationDirections.Both));
        using var inbound = await DelegationClient.RegisterAsync(daemon.SocketPath, "third", DelegationDirections.Inbound);

        Assert.Equal(409, error.StatusCode);
        Assert.Contains("\"already_exists\"", error.Body, StringComparison.Ordinal);
        Assert.Contains("first", error.Body, StringComparison.Ordinal);
        await daemon.WaitForSidecarAsync(outbound: false);
        Assert.Equal(["first", "third"], daemon.Hub.Sidecars.Select(s => s.Name).Order());
    }

    [Fact]
    public async Task Dispose_SidecarCloses_UnregisteredAndDirectionFreeAgain()
    {
        await using var daemon = await TestDaemon.StartAsync();
        var reader = await DelegationClient.RegisterAsync(daemon.SocketPath, "short-lived", DelegationDirections.Outbound);
        await daemon.WaitForSidecarAsync();

        reader.Dispose();
        var deadline = DateTime.UtcNow + TestSupport.Timeout;
        while (daemon.Hub.HasOutbound || daemon.Hub.Sidecars.Count > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the sidecar was never unregistered");
            await Task.Delay(10);
        }

        using var again = await DelegationClient.RegisterAsync(daemon.SocketPath, "next", DelegationDirections.Outbound);
        await daemon.WaitForSidecarAsync();
    }

    [Theory]
    [InlineData("name=ok&directions=sideways", "directions")]
    [InlineData("name=ok", "directions")]
    [InlineData("name=&directions=outbound", "name")]
    [InlineData("name=a%20b&directions=outbound", "name")]
    public async Task Register_BadQuery_400(string query, string mentioned)
    {
        await using var daemon = await TestDaemon.StartAsync();
        using var http = CreateHttpClient(daemon.SocketPath);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/delegation?" + query);
        request.Headers.Connection.Add("Upgrade");
        request.Headers.Upgrade.Add(new System.Net.Http.Headers.ProductHeaderValue("ax-delegation", "1"));

        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("\"invalid_argument\"", body, StringComparison.Ordinal);
        Assert.Contains(mentioned, body, StringComparison.Ordinal);
        Assert.Empty(daemon.Hub.Sidecars);
    }

    [Fact]
    public async Task Register_NoUpgradeHeaders_400()
    {
        await using var daemon = await TestDaemon.StartAsync();
        using var http = CreateHttpClient(daemon.SocketPath);

        using var response = await http.PostAsync("/v1/delegation?name=plain&directions=outbound", null);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("Upgrade", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Register_FromAnotherUid_403()
    {
        if (ProcessIdentity.EffectiveUserId != 0)
        {
            return; // Only root can run a client as another uid (PeerCredentialTests does the same).
        }
        await using var daemon = await TestDaemon.StartAsync(socketMode: (UnixFileMode)0b110_110_110);
        var start = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])["--reuid=65534", "--regid=65534", "--clear-groups", "curl", "-sS", "--unix-socket", daemon.SocketPath,
            "-w", "\n%{http_code}", "-X", "POST", "-H", "Connection: Upgrade", "-H", "Upgrade: ax-delegation/1",
            "http://ax/v1/delegation?name=evil&directions=outbound,inbound"])
        {
            start.ArgumentList.Add(arg);
        }
        using var curl = Process.Start(start)!;
        var stdout = await curl.StandardOutput.ReadToEndAsync().WaitAsync(TestSupport.Timeout);
        await curl.WaitForExitAsync();

        Assert.EndsWith("\n403", stdout, StringComparison.Ordinal);
        Assert.Contains("permission_denied", stdout, StringComparison.Ordinal);
        Assert.False(daemon.Hub.HasOutbound);
        Assert.Empty(daemon.Hub.Sidecars);
    }

    [Fact]
    public async Task TryDelegate_Outbound_SidecarGetsMetadataAndTheSocketCarriesBytesBothWays()
    {
        await using var daemon = await TestDaemon.StartAsync();
        using var reader = await DelegationClient.RegisterAsync(daemon.SocketPath, "carrier", DelegationDirections.Outbound);
        await daemon.WaitForSidecarAsync();
        var header = TestSupport.Header("10.0.0.5:51000", "10.96.0.10:6379", AxTlvs.OriginalDestinationName("redis.default.svc"));
        var (application, peer) = TestSupport.Pair();

        DelegationResult result;
        using (peer)
        {
            result = daemon.Hub.TryDelegate(DelegationKind.Outbound, header, peer, null);
        }
        using var frame = await reader.ReadAsync().AsTask().WaitAsync(TestSupport.Timeout);

        Assert.Equal(DelegationResult.Sent, result);
        Assert.Equal(DelegationResult.NoSidecar, daemon.Hub.TryDelegate(DelegationKind.Inbound, header, application, application));
        Assert.NotNull(frame);
        Assert.Equal(DelegationKind.Outbound, frame.Kind);
        Assert.Equal(IPEndPoint.Parse("10.96.0.10:6379"), frame.Header.Destination);
        Assert.Equal("redis.default.svc", frame.Header.AxOriginalDestinationName);
        Assert.Null(frame.AcceptedSocket);
        using var app = TestSupport.ToSocket(application);
        using var sidecar = TestSupport.ToSocket(frame.TakeFds().PeerEnd);
        await app.SendAsync("PING\r\n"u8.ToArray());
        Assert.Equal("PING\r\n"u8.ToArray(), await TestSupport.ReadExactlyAsync(sidecar, 6));
        await sidecar.SendAsync("+PONG\r\n"u8.ToArray());
        Assert.Equal("+PONG\r\n"u8.ToArray(), await TestSupport.ReadExactlyAsync(app, 7));
        Assert.Equal(1, Assert.Single(daemon.Hub.Sidecars).Delegated);
    }

    [Fact]
    public async Task TryDelegate_Inbound_SidecarGetsBothFdsInOrder()
    {
        await using var daemon = await TestDaemon.StartAsync();
        using var reader = await DelegationClient.RegisterAsync(daemon.SocketPath, "inbound-only", DelegationDirections.Inbound);
        await daemon.WaitForSidecarAsync(outbound: false);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var remote = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await remote.ConnectAsync(listener.LocalEndpoint);
        using var acceptedSocket = await listener.AcceptSocketAsync();
        var (application, peer) = TestSupport.Pair();
        var header = TestSupport.Header(remote.LocalEndPoint!.ToString()!, listener.LocalEndpoint.ToString()!);

        using (peer)
        {
            Assert.Equal(DelegationResult.NoSidecar, daemon.Hub.TryDelegate(DelegationKind.Outbound, header, peer, null));
            Assert.Equal(DelegationResult.Sent, daemon.Hub.TryDelegate(DelegationKind.Inbound, header, peer, acceptedSocket.SafeHandle));
        }
        acceptedSocket.Close();
        using var frame = await reader.ReadAsync().AsTask().WaitAsync(TestSupport.Timeout);

        Assert.NotNull(frame);
        Assert.Equal(DelegationKind.Inbound, frame.Kind);
        Assert.NotNull(frame.AcceptedSocket);
        // The second fd is the accepted TCP socket: bytes written there reach the remote client.
        using var accepted = TestSupport.ToSocket(frame.TakeFds().AcceptedSocket!);
        await accepted.SendAsync("hello remote"u8.ToArray());
        Assert.Equal("hello remote"u8.ToArray(), await TestSupport.ReadExactlyAsync(remote, 12));
        using var app = TestSupport.ToSocket(application);
        Assert.Equal(AddressFamily.Unix, app.AddressFamily);
    }

    private static HttpClient CreateHttpClient(string socketPath) =>
        new(new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            },
        })
        {
            BaseAddress = new Uri("http://ax/"),
        };
}
