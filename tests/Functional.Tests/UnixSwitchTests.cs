using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Istio.AppSwitch.Functional.Tests.Harness;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Functional.Tests;

/// <summary>A daemon of its own for the co-located switch to Unix sockets (docs/unix-switch.md), which is on by default.</summary>
public sealed class UnixSwitchEnvironment : AxEnvironment;

[CollectionDefinition(Name)]
public sealed class UnixSwitchCollection : ICollectionFixture<UnixSwitchEnvironment>
{
    public const string Name = "ax daemon switching co-located connections to Unix sockets";
}

/// <summary>A daemon started with <c>--no-unix</c>: every connection stays TCP.</summary>
public sealed class NoUnixEnvironment : AxEnvironment
{
    protected override IReadOnlyList<string> DaemonArguments => ["--no-unix"];
}

[CollectionDefinition(Name)]
public sealed class NoUnixCollection : ICollectionFixture<NoUnixEnvironment>
{
    public const string Name = "ax daemon --no-unix";
}

/// <summary>
/// Real servers and clients under one daemon: a connect to a co-located service becomes a Unix socket pair, and both
/// programs go on seeing TCP (addresses, TCP options, epoll readiness of the listener). Each test proves the socket is
/// a Unix one from /proc, not from ax's own counters alone. Every address is on loopback; VIPs are in 127.96.7.0/24.
/// </summary>
[Collection(UnixSwitchCollection.Name)]
public sealed partial class UnixSwitchTests(UnixSwitchEnvironment ax)
{
    private static readonly string Programs = Path.Combine(AppContext.BaseDirectory, "Programs");

    [Fact]
    public async Task Redis_ThroughVip_IsSwitchedToUnix_AndSeesATcpClient()
    {
        var port = AxEnvironment.FreePort();
        using var server = ax.StartUnderAx(["--name", "redis-u1", "--labels", "app=redis-u1"],
            ["redis-server", "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        await ax.WaitForServiceAsync(port, server);
        await ax.CreateRefAsync("redis-u1", "127.96.7.1:6379", "app=redis-u1");

        var set = await ax.RunUnderAxAsync([], ["redis-cli", "-h", "127.96.7.1", "-p", "6379", "SET", "k", "switched"]);
        var get = await ax.RunUnderAxAsync([], ["redis-cli", "-h", "127.96.7.1", "-p", "6379", "GET", "k"]);
        Assert.True(set.ExitCode == 0, set.ToString());
        Assert.Equal("OK", set.Stdout.Trim());
        Assert.Equal("switched", get.Stdout.Trim());

        // A client that stays connected: CLIENT LIST twice, 2 s apart, on one connection.
        using var client = ax.StartUnderAx([], ["redis-cli", "-h", "127.96.7.1", "-p", "6379", "-r", "2", "-i", "2", "CLIENT", "LIST"]);
        await client.WaitForOutputAsync("cmd=client|list", TimeSpan.FromSeconds(20));
        var own = client.Stdout.Split('\n').First(l => l.Contains("cmd=client|list", StringComparison.Ordinal));
        // Redis sees a TCP client: its address is a loopback TCP address, and the local one is redis's own port.
        Assert.Matches(@"addr=127\.0\.0\.1:\d+ ", own);
        Assert.Contains($"laddr=127.0.0.1:{port} ", own, StringComparison.Ordinal);
        var serverFd = int.Parse(FdField().Match(own).Groups[1].Value, CultureInfo.InvariantCulture);

        var unix = UnixInodes();
        var tcp = TcpInodes();
        // The server's fd for this client, and the client's only socket, are Unix sockets.
        var serverInode = SocketInode(server.Id, serverFd);
        Assert.Contains(serverInode, unix);
        var clientSockets = SocketInodes(client.Id);
        Assert.NotEmpty(clientSockets);
        Assert.All(clientSockets, inode => Assert.Contains(inode, unix));
        Assert.DoesNotContain(clientSockets, tcp.Contains);

        Assert.True(await SwitchedAsync(port) >= 3);
    }

    [Fact]
    public async Task Memcached_WithSocatClient_IsSwitched()
    {
        var port = AxEnvironment.FreePort();
        using var server = ax.StartUnderAx(["--labels", "app=mc-u2"],
            ["memcached", "-u", "root", "-l", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "-U", "0"]);
        await ax.WaitForServiceAsync(port, server);
        await ax.CreateRefAsync("mc-u2", "127.96.7.2:11211", "app=mc-u2");

        var result = await ax.RunUnderAxAsync([],
            ["sh", "-c", "printf 'set greeting 0 0 5\\r\\nhello\\r\\nget greeting\\r\\nquit\\r\\n' | socat -t 5 - TCP:127.96.7.2:11211"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("STORED", result.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"VALUE greeting 0 5\r?\nhello\r?\nEND", result.Stdout);
        Assert.Equal(1, await SwitchedAsync(port));
    }

    [Fact]
    public async Task Nginx_WithCurl_IsSwitched_AndSeesALoopbackClient()
    {
        var port = AxEnvironment.FreePort();
        var prefix = Directory.CreateTempSubdirectory("ax-nginx-").FullName;
        var config = Path.Combine(prefix, "nginx.conf");
        await File.WriteAllTextAsync(config, $$"""
            daemon off;
            master_process off;
            pid {{prefix}}/nginx.pid;
            error_log stderr;
            events { worker_connections 64; }
            http {
                access_log off;
                client_body_temp_path {{prefix}}/body;
                proxy_temp_path {{prefix}}/proxy;
                fastcgi_temp_path {{prefix}}/fastcgi;
                uwsgi_temp_path {{prefix}}/uwsgi;
                scgi_temp_path {{prefix}}/scgi;
                server {
                    listen 127.0.0.1:{{port}};
                    location / { return 200 "nginx saw $remote_addr on $server_addr:$server_port\n"; }
                }
            }
            """);
        using var server = ax.StartUnderAx(["--labels", "app=nginx-u3"], ["nginx", "-p", prefix, "-e", "stderr", "-c", config]);
        await ax.WaitForServiceAsync(port, server);
        await ax.CreateRefAsync("nginx-u3", "127.96.7.3:80", "app=nginx-u3");

        var results = new List<ProcessResult>();
        for (var i = 0; i < 3; i++)
        {
            results.Add(await ax.RunUnderAxAsync([], ["curl", "-sS", "-w", "%{remote_ip}:%{remote_port}", "http://127.96.7.3/"]));
        }

        Assert.All(results, r =>
        {
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Matches($@"^nginx saw 127\.0\.0\.1 on 127\.0\.0\.1:{port}\n127\.96\.7\.3:80$", r.Stdout);
        });
        Assert.Equal(3, await SwitchedAsync(port));
    }

    [Fact]
    public async Task PythonBlockingServer_GetsTheSwitchedConnection_AndTcpOptionsAreAnswered()
    {
        var port = AxEnvironment.FreePort();
        using var server = ax.StartUnderAx(["--labels", "app=echo-u4"],
            ["python3", Path.Combine(Programs, "echo_server.py"), "127.0.0.1", port.ToString(CultureInfo.InvariantCulture), "u4"]);
        await server.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));
        await ax.WaitForServiceAsync(port, server);
        await ax.CreateRefAsync("echo-u4", "127.96.7.4:7000", "app=echo-u4");
        var client = Path.Combine(Programs, "switch_client.py");

        // The server's thread already waits in a kernel accept, which a doorbell would reach: the first connect stays TCP,
        // and from the server's next accept on, the daemon performs its accepts and holds the blocking one.
        var first = await ax.RunUnderAxAsync([], ["python3", client, "127.96.7.4", "7000", "one"]);
        var blocking = await ax.RunUnderAxAsync([], ["python3", client, "127.96.7.4", "7000", "two"]);
        var nonblocking = await ax.RunUnderAxAsync([], ["python3", client, "127.96.7.4", "7000", "three", "nonblocking"]);

        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Contains("reply=u4:one", first.Stdout, StringComparison.Ordinal);
        foreach (var (result, message) in new[] { (blocking, "two"), (nonblocking, "three") })
        {
            Assert.True(result.ExitCode == 0, result.ToString());
            var lines = result.Stdout.Trim().Split('\n');
            Assert.Equal($"reply=u4:{message}", lines[0]);
            Assert.Matches(@"^peer=127\.96\.7\.4:7000 local=127\.0\.0\.1:\d+$", lines[1]);
            // TCP options set after connect read back as set; the others have the kernel's defaults; SO_KEEPALIVE is native.
            Assert.Equal("nodelay=1 keepidle=42 keepcnt=9 state=1 congestion=cubic keepalive=1", lines[2]);
            Assert.Equal("unix=yes", lines[3]);
        }
        Assert.Equal(2, await SwitchedAsync(port));
    }

    [Fact]
    public async Task GoServer_WithGoClient_ManyAtOnce_AndARealTcpClientAtTheSameTime()
    {
        var goServer = await GoPrograms.BuildAsync("goserver");
        var goClient = await GoPrograms.BuildAsync("goclient");
        var port = AxEnvironment.FreePort();
        using var server = ax.StartUnderAx(["--labels", "app=go-u5"], [goServer, $"127.0.0.1:{port}", "u5"]);
        await server.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));
        await ax.WaitForServiceAsync(port, server);
        await ax.CreateRefAsync("go-u5", "127.96.7.5:7000", "app=go-u5");

        // Go's listener is nonblocking on an edge-triggered epoll: only the doorbell wakes it. A client not under ax
        // connects over real TCP to the same listener meanwhile.
        var switched = ax.RunUnderAxAsync([], [goClient, "127.96.7.5:7000", "40", "go"]);
        var direct = ExternalProcess.RunAsync("python3", [Path.Combine(Programs, "client.py"), "127.0.0.1", port.ToString(CultureInfo.InvariantCulture), "tcp"],
            TimeSpan.FromSeconds(30));
        var (goResult, tcpResult) = (await switched, await direct);

        Assert.True(goResult.ExitCode == 0, goResult.ToString());
        Assert.Contains("ok=40 failed=0", goResult.Stdout, StringComparison.Ordinal);
        Assert.Contains("peer=127.96.7.5:7000 count=40", goResult.Stdout, StringComparison.Ordinal);
        // The Go server saw 40 distinct TCP-looking clients, and its own port as the local address.
        var replies = goResult.Stdout.Split('\n').Where(l => l.StartsWith("reply=", StringComparison.Ordinal)).ToList();
        Assert.Equal(40, replies.Count);
        Assert.All(replies, r => Assert.Matches($@"^reply=u5:go\|127\.0\.0\.1:\d+\|127\.0\.0\.1:{port} count=1$", r));

        Assert.True(tcpResult.ExitCode == 0, tcpResult.ToString());
        Assert.StartsWith($"reply=u5:tcp|127.0.0.1:", tcpResult.Stdout, StringComparison.Ordinal);
        // At least every Go connection (once, under load, one more was counted: a connect that a signal restarted).
        Assert.True(await SwitchedAsync(port) >= 40);
    }

    [Fact]
    public async Task RefWithNoUnix_StaysTcp()
    {
        var goServer = await GoPrograms.BuildAsync("goserver");
        var port = AxEnvironment.FreePort();
        using var server = ax.StartUnderAx(["--labels", "app=go-u6"], [goServer, $"127.0.0.1:{port}", "u6"]);
        await server.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));
        await ax.WaitForServiceAsync(port, server);
        await ax.CreateRefAsync("go-u6", "127.96.7.6:7000", "app=go-u6", null, "--no-unix");

        var result = await ax.RunUnderAxAsync([], ["python3", Path.Combine(Programs, "switch_client.py"), "127.96.7.6", "7000", "x"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("unix=no", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("nodelay=1 keepidle=42", result.Stdout, StringComparison.Ordinal); // the kernel's own TCP options
        Assert.Equal(0, await SwitchedAsync(port));
        var reference = await ax.AxAsync("get", "ref", "go-u6", "-o", "json");
        Assert.Contains("\"noUnix\": true", reference.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ServerExits_WithSwitchedConnectionsQueued_ClientsReadEof()
    {
        // A server that listens but never accepts: a switched connection waits in the daemon's queue until it exits.
        // The server exits when told, once the client's connection is queued (a fixed sleep raced a loaded machine).
        var port = AxEnvironment.FreePort();
        var gate = Path.Combine(Path.GetTempPath(), $"ax-idle-u7-{Guid.NewGuid():N}");
        using var server = ax.StartUnderAx(["--labels", "app=idle-u7"], ["python3", "-c",
            $"import socket,time,os;s=socket.socket();s.bind(('127.0.0.1',{port}));s.listen(8);print('listening',flush=True)\nwhile not os.path.exists('{gate}'): time.sleep(0.05)"]);
        await server.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));
        await ax.WaitForServiceAsync(port, server);
        await ax.CreateRefAsync("idle-u7", "127.96.7.7:7000", "app=idle-u7");

        using var client = ax.StartUnderAx([], ["python3", "-c",
            "import socket,time;s=socket.create_connection(('127.96.7.7',7000));s.settimeout(30);t=time.time();d=s.recv(10);print('eof' if d==b'' else d, round(time.time()-t,1))"]);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (await SwitchedAsync(port) < 1)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the client's connect was not switched: {client.Output}");
            await Task.Delay(50);
        }
        await File.WriteAllTextAsync(gate, "");
        var exit = await client.WaitForExitAsync(TimeSpan.FromSeconds(40));
        File.Delete(gate);

        Assert.True(exit == 0, client.Output);
        Assert.StartsWith("eof ", client.Stdout, StringComparison.Ordinal);
    }

    private async Task<long> SwitchedAsync(int port)
    {
        var services = await ax.AxAsync("get", "services", "-o", "json");
        using var json = JsonDocument.Parse(services.Stdout);
        return json.RootElement.EnumerateArray()
            .Where(s => s.GetProperty("bound").GetString()!.EndsWith($":{port}", StringComparison.Ordinal))
            .Sum(s => s.GetProperty("switched").GetInt64());
    }

    private static ulong SocketInode(int pid, int fd)
    {
        var target = new FileInfo($"/proc/{pid}/fd/{fd}").LinkTarget ?? "";
        var match = SocketLink().Match(target);
        Assert.True(match.Success, $"/proc/{pid}/fd/{fd} is {target}, not a socket");
        return ulong.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static List<ulong> SocketInodes(int pid) =>
        [.. Directory.GetFiles($"/proc/{pid}/fd")
            .Select(f => SocketLink().Match(new FileInfo(f).LinkTarget ?? ""))
            .Where(m => m.Success)
            .Select(m => ulong.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))];

    private static HashSet<ulong> UnixInodes() =>
        [.. File.ReadLines("/proc/net/unix").Skip(1).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length > 6).Select(f => ulong.Parse(f[6], CultureInfo.InvariantCulture))];

    private static HashSet<ulong> TcpInodes() =>
        [.. new[] { "/proc/net/tcp", "/proc/net/tcp6" }.SelectMany(t => File.ReadLines(t).Skip(1))
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length > 9).Select(f => ulong.Parse(f[9], CultureInfo.InvariantCulture))];

    [GeneratedRegex(@"^socket:\[(\d+)\]$")]
    private static partial Regex SocketLink();

    [GeneratedRegex(@" fd=(\d+) ")]
    private static partial Regex FdField();
}

/// <summary><c>ax daemon --no-unix</c>: a co-located connection stays TCP.</summary>
[Collection(NoUnixCollection.Name)]
public sealed class NoUnixDaemonTests(NoUnixEnvironment ax)
{
    private static readonly string Programs = Path.Combine(AppContext.BaseDirectory, "Programs");

    [Fact]
    public async Task DaemonWithNoUnix_ConnectionStaysTcp()
    {
        var port = AxEnvironment.FreePort();
        using var server = ax.StartUnderAx(["--labels", "app=redis-n1"],
            ["redis-server", "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        await ax.WaitForServiceAsync(port, server);
        await ax.CreateRefAsync("redis-n1", "127.96.7.11:6379", "app=redis-n1");

        var result = await ax.RunUnderAxAsync([], ["redis-cli", "-h", "127.96.7.11", "-p", "6379", "CLIENT", "LIST"]);
        var python = await ax.RunUnderAxAsync([], ["python3", Path.Combine(Programs, "switch_client.py"), "127.96.7.11", "6379", "PING"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"laddr=127.0.0.1:{port}", result.Stdout, StringComparison.Ordinal);
        Assert.True(python.ExitCode == 0, python.ToString());
        Assert.Contains("reply=+PONG", python.Stdout, StringComparison.Ordinal);
        Assert.Contains("unix=no", python.Stdout, StringComparison.Ordinal);
        var services = await ax.AxAsync("get", "services", "-o", "json");
        Assert.DoesNotContain("\"switched\": 1", services.Stdout, StringComparison.Ordinal);
    }
}
