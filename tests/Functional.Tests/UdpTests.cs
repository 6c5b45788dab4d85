using System.Text.Json;
using Istio.AppSwitch.Functional.Tests.Harness;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Functional.Tests;

/// <summary>
/// UDP under a real <c>ax daemon</c> (docs/udp.md): a bound UDP socket is a service, a connect or a <c>sendto</c> to a
/// ref's VIP reaches a UDP service of the ref, and the reply is reported from the VIP. Every VIP is in 127.96.77.0/24.
/// </summary>
[Collection(AxCollection.Name)]
public sealed class UdpTests(AxEnvironment ax)
{
    private static readonly string Programs = Path.Combine(AppContext.BaseDirectory, "Programs");

    [Fact]
    public async Task Dig_DnsmasqBehindRef_AnswersOverUdpAndTcpFromTheVip()
    {
        var port = AxEnvironment.FreePort();
        using var server = ax.StartUnderAx(["--name", "dnsmasq", "--labels", "app=udp-dns"],
            ["dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", $"--port={port}", "--listen-address=127.0.0.1", "--bind-interfaces",
             "--pid-file=", "--address=/x.test/127.0.0.9"]);
        await ax.WaitForServiceAsync(port, server);
        await ax.CreateRefAsync("udp-dns", "127.96.77.53:53", "app=udp-dns");

        // dnsmasq binds UDP and listens TCP on the same port: each transport goes to its own service.
        var services = await ServicesAsync();
        Assert.Contains(("udp", $"127.0.0.1:{port}"), services);
        Assert.Contains(("tcp", $"127.0.0.1:{port}"), services);

        var udp = await ax.RunUnderAxAsync([], ["dig", "@127.96.77.53", "-p", "53", "x.test", "+tries=1", "+time=5"]);
        var tcp = await ax.RunUnderAxAsync([], ["dig", "@127.96.77.53", "-p", "53", "x.test", "+tries=1", "+time=5", "+tcp"]);

        Assert.True(udp.ExitCode == 0, udp.ToString());
        Assert.Matches(@"x\.test\.\s+0\s+IN\s+A\s+127\.0\.0\.9", udp.Stdout);
        Assert.Contains(";; SERVER: 127.96.77.53#53(127.96.77.53) (UDP)", udp.Stdout, StringComparison.Ordinal);
        Assert.True(tcp.ExitCode == 0, tcp.ToString());
        Assert.Matches(@"x\.test\.\s+0\s+IN\s+A\s+127\.0\.0\.9", tcp.Stdout);
        Assert.Contains(";; SERVER: 127.96.77.53#53(127.96.77.53) (TCP)", tcp.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GoClient_DialAndListenPacket_ReachUdpServiceAndSeeTheVip()
    {
        using var server = await StartEchoAsync("app=udp-go");
        await ax.CreateRefAsync("udp-go", "127.96.77.2:7", "app=udp-go");
        var client = await GoPrograms.BuildAsync("udpclient");

        var dial = await ax.RunUnderAxAsync([], [client, "dial", "127.96.77.2:7", "connected"]);
        var packet = await ax.RunUnderAxAsync([], [client, "packet", "127.96.77.2:7", "unconnected"]);

        Assert.True(dial.ExitCode == 0, dial.ToString());
        Assert.Equal("remote 127.96.77.2:7\necho:connected", dial.Stdout.Trim());
        Assert.True(packet.ExitCode == 0, packet.ToString());
        Assert.Equal("from 127.96.77.2:7\necho:unconnected", packet.Stdout.Trim()); // ReadFrom: the VIP, not the backend
    }

    [Theory]
    [InlineData("sendto")] // nonblocking under a timeout: EAGAIN, poll, recvfrom again
    [InlineData("blocking")] // the reply comes 0.5 s later: the recvfrom waits, parked, on ax's reactor
    public async Task PythonSendtoRecvfrom_Unconnected_ReplyComesFromTheVip(string mode)
    {
        using var server = await StartEchoAsync($"app=udp-py-{mode}");
        var vip = mode == "sendto" ? "127.96.77.3" : "127.96.77.4";
        await ax.CreateRefAsync($"udp-py-{mode}", $"{vip}:9", $"app=udp-py-{mode}");

        var result = await ax.RunUnderAxAsync([], ["python3", Path.Combine(Programs, "udp_client.py"), mode, vip, "9", "slow-hello"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal($"from {vip} 9\necho:slow-hello", result.Stdout.Trim());
    }

    [Fact]
    public async Task PythonConnect_UdpVip_GetpeernameAndSourceAreTheVip()
    {
        using var server = await StartEchoAsync("app=udp-conn");
        await ax.CreateRefAsync("udp-conn", "127.96.77.5:9", "app=udp-conn");

        var result = await ax.RunUnderAxAsync([], ["python3", Path.Combine(Programs, "udp_client.py"), "connect", "127.96.77.5", "9", "hi"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("peer 127.96.77.5 9\nfrom 127.96.77.5 9\necho:hi", result.Stdout.Trim());
    }

    [Fact]
    public async Task UdpServer_ClosesItsSocket_ServiceIsListedAsUdpThenDropped()
    {
        var port = AxEnvironment.FreePort();
        using var server = ax.StartUnderAx(["--name", "udp-closer", "--labels", "app=udp-closer"],
            ["python3", Path.Combine(Programs, "udp_echo.py"), "127.0.0.1", port.ToString()]);
        await ax.WaitForServiceAsync(port, server);
        Assert.Contains(("udp", $"127.0.0.1:{port}"), await ServicesAsync());

        // The server closes its socket and lives on: the sweeper finds the socket gone.
        var close = await ExternalProcess.RunAsync("python3",
            ["-c", $"import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(10); s.sendto(b'close', ('127.0.0.1', {port})); print(s.recv(100).decode())"],
            TimeSpan.FromSeconds(30));
        Assert.Equal("closing", close.Stdout.Trim());

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while ((await ServicesAsync()).Contains(("udp", $"127.0.0.1:{port}")))
        {
            Assert.True(DateTime.UtcNow < deadline, "the closed UDP socket is still a service");
            await Task.Delay(100);
        }
        Assert.False(server.HasExited);
    }

    [Fact]
    public async Task Sendto_BadPayloadPointerToVip_EfaultAndDaemonStaysUp()
    {
        using var server = await StartEchoAsync("app=udp-bad");
        await ax.CreateRefAsync("udp-bad", "127.96.77.6:9", "app=udp-bad");
        var client = Path.Combine(Programs, "udp_client.py");

        var bad = await ax.RunUnderAxAsync([], ["python3", client, "efault", "127.96.77.6", "9"]);
        var good = await ax.RunUnderAxAsync([], ["python3", client, "sendto", "127.96.77.6", "9", "after"]);

        Assert.True(bad.ExitCode == 0, bad.ToString());
        Assert.Equal("-1 EFAULT", bad.Stdout.Trim());
        Assert.False(ax.Daemon.HasExited);
        Assert.Equal("from 127.96.77.6 9\necho:after", good.Stdout.Trim());
    }

    [Theory]
    [InlineData("sendmsg", "split-message")] // nonblocking under a timeout: poll, then recvmsg
    [InlineData("sendmsg-blocking", "slow-message")] // each reply comes 0.5 s later: recvmsg waits, parked, on ax's reactor
    public async Task PythonSendmsgRecvmsg_UdpMsg_TwoIovecsAndControlReachTheVipAndReplyComesFromIt(string mode, string message)
    {
        using var server = await StartEchoAsync($"app=udp-{mode}");
        var vip = mode == "sendmsg" ? "127.96.77.7" : "127.96.77.12";
        await ax.CreateRefAsync($"udp-{mode}", $"{vip}:9", $"app=udp-{mode}");

        var result = await ax.RunUnderAxAsync(["--udp", "msg"], ["python3", Path.Combine(Programs, "udp_client.py"), mode, vip, "9", message]);

        Assert.True(result.ExitCode == 0, result.ToString());
        // The reply is scattered over a 3-byte and a large iovec, its source is the VIP, and IP_PKTINFO (control data
        // ax received for the app) names the app's own address. Then a truncated receive keeps the kernel's MSG_TRUNC.
        Assert.Equal(
            $"from {vip} 9\necho:{message}\npktinfo 127.0.0.1\ntrunc {5 + message.Length} True {vip}",
            result.Stdout.Trim().ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task GoClient_WriteMsgUdpReadMsgUdp_UdpMsg_ReachUdpServiceAndSeeTheVip()
    {
        using var server = await StartEchoAsync("app=udp-msg-go");
        await ax.CreateRefAsync("udp-msg-go", "127.96.77.8:7", "app=udp-msg-go");
        var client = await GoPrograms.BuildAsync("udpclient");

        var result = await ax.RunUnderAxAsync(["--udp", "msg"], [client, "msg", "127.96.77.8:7", "go-msg"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("from 127.96.77.8:7\necho:go-msg", result.Stdout.Trim());
    }

    [Fact]
    public async Task Memcached_UdpMsg_TcpAndUdpRequestsThroughRefsAreAnswered()
    {
        // memcached replies with sendmsg on both transports: on TCP with no address (CONTINUEd after one read of the
        // msghdr), on UDP to the client's own address (no VIP: CONTINUEd). Under --udp msg both must stay untouched.
        var port = AxEnvironment.FreePort();
        using var server = ax.StartUnderAx(["--labels", "app=udp-mc", "--udp", "msg"],
            ["memcached", "-u", "root", "-l", "127.0.0.1", "-p", port.ToString(), "-U", port.ToString()]);
        await ax.WaitForServiceAsync(port, server);
        await ax.CreateRefAsync("udp-mc", "127.96.77.13:11211", "app=udp-mc", null, "--no-unix");

        var tcp = await ax.RunUnderAxAsync(["--udp", "msg"],
            ["sh", "-c", "printf 'set greeting 0 0 5\\r\\nhello\\r\\nget greeting\\r\\nquit\\r\\n' | socat -t 5 - TCP:127.96.77.13:11211"]);
        // memcached's UDP frame: request id, sequence 0, 1 datagram, reserved; then the text command.
        var udp = await ax.RunUnderAxAsync(["--udp", "msg"], ["python3", "-c", """
            import socket, struct
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(10)
            s.sendmsg([struct.pack("!HHHH", 7, 0, 1, 0), b"get greeting\r\n"], [], 0, ("127.96.77.13", 11211))
            data, source = s.recvfrom(65535)
            print(source[0], source[1], struct.unpack("!H", data[:2])[0], data[8:].decode().split()[4])
            """]);

        Assert.True(tcp.ExitCode == 0, tcp.ToString());
        Assert.Matches(@"VALUE greeting 0 5\r?\nhello\r?\nEND", tcp.Stdout);
        Assert.True(udp.ExitCode == 0, udp.ToString());
        Assert.Equal("127.96.77.13 11211 7 hello", udp.Stdout.Trim());
    }

    [Fact]
    public async Task Sendmsg_SoMarkControlToVip_EpermAndNotSent()
    {
        using var server = await StartEchoAsync("app=udp-msg-mark");
        await ax.CreateRefAsync("udp-msg-mark", "127.96.77.10:9", "app=udp-msg-mark");

        // SO_MARK needs CAP_NET_ADMIN, which the kernel would check against ax's send: ax refuses to carry it.
        var result = await ax.RunUnderAxAsync(["--udp", "msg"], ["python3", Path.Combine(Programs, "udp_client.py"), "sendmsg-mark", "127.96.77.10", "9"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("EPERM", result.Stdout.Trim());
        Assert.False(ax.Daemon.HasExited);
    }

    [Fact]
    public async Task UdpServer_UdpConnect_ItsDatagramsAreNeverTrappedAndConnectedClientsStillReachIt()
    {
        var port = AxEnvironment.FreePort();
        using var server = ax.StartUnderAx(["--name", "udp-quiet", "--labels", "app=udp-quiet", "--udp", "connect"],
            ["python3", Path.Combine(Programs, "udp_echo.py"), "127.0.0.1", port.ToString()]);
        await ax.WaitForServiceAsync(port, server);
        await ax.CreateRefAsync("udp-quiet", "127.96.77.11:9", "app=udp-quiet");
        var before = await NotificationsOfAsync(server.Id);

        for (var i = 0; i < 5; i++)
        {
            var result = await ax.RunUnderAxAsync([], ["python3", Path.Combine(Programs, "udp_client.py"), "connect", "127.96.77.11", "9", $"q{i}"]);
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.EndsWith($"echo:q{i}", result.Stdout.Trim(), StringComparison.Ordinal);
        }

        // By default the server's recvfrom and sendto (both with an address) would be two trapped calls per datagram.
        Assert.Equal(before, await NotificationsOfAsync(server.Id));
    }

    [Fact]
    public async Task AxRun_BadUdpMode_UsageErrorNamesTheValues()
    {
        var result = await ax.RunUnderAxAsync(["--udp", "bogus"], ["true"]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("invalid --udp \"bogus\": expected connect, sendto or msg", result.Stderr, StringComparison.Ordinal);
    }

    private async Task<long> NotificationsOfAsync(int pid)
    {
        var result = await ax.AxAsync("get", "apps", "-o", "json");
        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        return json.RootElement.EnumerateArray().Single(a => a.GetProperty("pid").GetInt32() == pid)
            .GetProperty("connects").GetProperty("notifications").GetInt64();
    }

    private async Task<ExternalProcess> StartEchoAsync(string labels)
    {
        var port = AxEnvironment.FreePort();
        var server = ax.StartUnderAx(["--labels", labels], ["python3", Path.Combine(Programs, "udp_echo.py"), "127.0.0.1", port.ToString()]);
        await ax.WaitForServiceAsync(port, server);
        return server;
    }

    private async Task<HashSet<(string Protocol, string Bound)>> ServicesAsync()
    {
        var result = await ax.AxAsync("get", "services", "-o", "json");
        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        return json.RootElement.EnumerateArray()
            .Select(s => (s.GetProperty("protocol").GetString()!, s.GetProperty("bound").GetString()!))
            .ToHashSet();
    }
}
