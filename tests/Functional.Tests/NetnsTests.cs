using System.Text.Json;
using Istio.AppSwitch.Functional.Tests.Harness;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Functional.Tests;

/// <summary>
/// Applications in network namespaces of their own (<c>ax run --netns</c>, <c>--new-netns</c>, <c>--ports</c>):
/// empty namespaces made with <c>ip netns add</c> (only <c>lo</c>, down), and real programs that still reach services
/// on the host's loopback, or are reached there, because ax makes their sockets in the host's namespace
/// (docs/netns.md). Every address is on 127.0.0.0/8, VIPs in 127.96.77.0/24.
/// </summary>
[Collection(AxCollection.Name)]
public sealed class NetnsTests(AxEnvironment ax)
{
    private static readonly string Programs = Path.Combine(AppContext.BaseDirectory, "Programs");

    [NetnsFact]
    public async Task RedisCli_InEmptyNamespace_ReachesHostRedisThroughVipAndDirectly()
    {
        using var netns = await TestNetworkNamespace.CreateAsync();
        var port = AxEnvironment.FreePort();
        using var server = ax.StartUnderAx(["--name", "netns-redis", "--labels", "app=netns-redis"],
            ["redis-server", "--port", $"{port}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        await ax.WaitForServiceAsync(port, server);
        await ax.CreateRefAsync("netns-redis", "127.96.77.1:6379", "app=netns-redis");

        // The namespace is really empty: without ax, the same client reaches neither the VIP nor the port.
        var isolatedVip = await netns.ExecAsync("redis-cli", "-h", "127.96.77.1", "-p", "6379", "PING");
        var isolatedDirect = await netns.ExecAsync("redis-cli", "-h", "127.0.0.1", "-p", $"{port}", "PING");
        Assert.DoesNotContain("PONG", isolatedVip.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("PONG", isolatedDirect.Stdout, StringComparison.Ordinal);
        Assert.Contains("unreachable", isolatedDirect.Stdout + isolatedDirect.Stderr, StringComparison.OrdinalIgnoreCase);

        // Under ax, in that namespace: the client's namespace is the test's (its /proc/self/ns/net), and both reach redis.
        var viaVip = await ax.RunUnderAxAsync(["--netns", netns.Path, "--name", "netns-cli-vip"],
            ["sh", "-c", "redis-cli -h 127.96.77.1 -p 6379 SET netns-key through-vip && redis-cli -h 127.96.77.1 -p 6379 GET netns-key && stat -L -c ns=%i /proc/self/ns/net"]);
        var direct = await ax.RunUnderAxAsync(["--netns", netns.Path], ["redis-cli", "-h", "127.0.0.1", "-p", $"{port}", "GET", "netns-key"]);

        Assert.True(viaVip.ExitCode == 0, $"{viaVip}\ndaemon: {ax.Daemon.Stderr}");
        Assert.Equal(["OK", "through-vip", $"ns={netns.Inode}"], viaVip.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.True(direct.ExitCode == 0, direct.ToString());
        Assert.Equal("through-vip", direct.Stdout.Trim());
    }

    [NetnsFact]
    public async Task NewNetns_GoAndPythonClients_ReachHostServerThroughVipAndDirectly()
    {
        var goClient = await GoPrograms.BuildAsync("goclient");
        var port = AxEnvironment.FreePort();
        using var server = ax.StartUnderAx(["--labels", "app=netns-echo"], ["python3", Path.Combine(Programs, "echo_server.py"), "127.0.0.1", $"{port}", "host-echo"]);
        await ax.WaitForServiceAsync(port, server);
        await ax.CreateRefAsync("netns-echo", "127.96.77.2:7000", "app=netns-echo");

        // Go: raw syscalls, nonblocking connects on its netpoller, 20 at once.
        var go = await ax.RunUnderAxAsync(["--new-netns"], [goClient, "127.96.77.2:7000", "20", "go"]);
        var goDirect = await ax.RunUnderAxAsync(["--new-netns"], [goClient, $"127.0.0.1:{port}", "5", "go-direct"]);
        // Python: a blocking connect on a socket with TCP_NODELAY set before it (carried over to the host socket).
        var python = await ax.RunUnderAxAsync(["--new-netns"], ["python3", Path.Combine(Programs, "client.py"), "127.96.77.2", "7000", "py"]);
        var pythonDirect = await ax.RunUnderAxAsync(["--new-netns"], ["python3", Path.Combine(Programs, "client.py"), "127.0.0.1", $"{port}", "py-direct"]);

        Assert.True(go.ExitCode == 0, $"{go}\ndaemon: {ax.Daemon.Stderr}");
        Assert.Contains("ok=20 failed=0", go.Stdout, StringComparison.Ordinal);
        Assert.Contains("peer=127.96.77.2:7000 count=20", go.Stdout, StringComparison.Ordinal);
        Assert.Contains("reply=host-echo:go count=20", go.Stdout, StringComparison.Ordinal);
        Assert.True(goDirect.ExitCode == 0, goDirect.ToString());
        Assert.Contains("reply=host-echo:go-direct count=5", goDirect.Stdout, StringComparison.Ordinal);
        Assert.True(python.ExitCode == 0, python.ToString());
        Assert.Equal("reply=host-echo:py peer=127.96.77.2:7000 nodelay=1", python.Stdout.Trim());
        Assert.True(pythonDirect.ExitCode == 0, pythonDirect.ToString());
        Assert.Equal($"reply=host-echo:py-direct peer=127.0.0.1:{port} nodelay=1", pythonDirect.Stdout.Trim());
    }

    [NetnsFact]
    public async Task NewNetns_Python_ConnectToItsOwnListenerStaysInside()
    {
        // The app listens on an unmapped port inside its namespace and connects to it on loopback: the kernel does that
        // in the namespace (nothing on the host listens on that port), while a connect elsewhere still leaves it.
        var hostPort = AxEnvironment.FreePort();
        using var server = ax.StartUnderAx(["--labels", "app=netns-inner"], ["python3", Path.Combine(Programs, "echo_server.py"), "127.0.0.1", $"{hostPort}", "host"]);
        await ax.WaitForServiceAsync(hostPort, server);
        var innerPort = AxEnvironment.FreePort();
        var script = $$"""
            import socket, sys
            inner = socket.socket(); inner.bind(("127.0.0.1", {{innerPort}})); inner.listen(1)
            c = socket.create_connection(("127.0.0.1", {{innerPort}})); a, peer = inner.accept()
            c.sendall(b"x"); print("inner", a.recv(1).decode(), a.getsockname()[1])
            h = socket.create_connection(("127.0.0.1", {{hostPort}})); h.sendall(b"hi\n"); print("host", h.recv(100).decode().strip())
            """;

        var result = await ax.RunUnderAxAsync(["--new-netns", "--name", "netns-inner-client"], ["python3", "-c", script]);

        Assert.True(result.ExitCode == 0, $"{result}\ndaemon: {ax.Daemon.Stderr}");
        Assert.Equal($"inner x {innerPort}\nhost host:hi", result.Stdout.Trim());
        var services = await ax.AxAsync("get", "services", "-o", "json");
        Assert.DoesNotContain($":{innerPort}\"", services.Stdout, StringComparison.Ordinal); // an inner listener is no service
    }

    [NetnsFact]
    public async Task RedisServer_InNewNamespace_ReachedThroughMappedPortAndRef()
    {
        var hostPort = AxEnvironment.FreePort();
        using var server = ax.StartUnderAx(["--new-netns", "--ports", $"{hostPort}:6379", "--name", "netns-server", "--labels", "app=netns-server"],
            ["redis-server", "--port", "6379", "--save", "", "--appendonly", "no"]);
        await ax.WaitForServiceAsync(hostPort, server);
        await ax.CreateRefAsync("netns-server", "127.96.77.3:6379", "app=netns-server");

        // From the host, not under ax: the mapped port on the host's loopback.
        var direct = await ExternalProcess.RunAsync("redis-cli", ["-h", "127.0.0.1", "-p", $"{hostPort}", "SET", "mapped", "yes"], TimeSpan.FromSeconds(30));
        // The server believes it has its own port: its getsockname answers 6379.
        var ownPort = await ExternalProcess.RunAsync("redis-cli", ["-h", "127.0.0.1", "-p", $"{hostPort}", "CONFIG", "GET", "port"], TimeSpan.FromSeconds(30));
        // Through a ref that selects it, from the host and from another empty namespace.
        var viaRef = await ax.RunUnderAxAsync([], ["redis-cli", "-h", "127.96.77.3", "-p", "6379", "GET", "mapped"]);
        var viaRefFromNetns = await ax.RunUnderAxAsync(["--new-netns"], ["redis-cli", "-h", "127.96.77.3", "-p", "6379", "GET", "mapped"]);
        // The server sees the real client: this connection's own source port, as the client knows it.
        var clientList = await ExternalProcess.RunAsync("python3", ["-c",
            $"import socket; s=socket.create_connection(('127.0.0.1',{hostPort})); s.sendall(b'CLIENT INFO\\r\\n'); print(s.getsockname()[1]); print(s.recv(4096).decode())"],
            TimeSpan.FromSeconds(30));

        Assert.True(direct.ExitCode == 0 && direct.Stdout.Trim() == "OK", $"{direct}\nserver: {server.Output}\ndaemon: {ax.Daemon.Stderr}");
        Assert.Equal("port\n6379", ownPort.Stdout.Trim());
        Assert.Equal("yes", viaRef.Stdout.Trim());
        Assert.True(viaRefFromNetns.ExitCode == 0, viaRefFromNetns.ToString());
        Assert.Equal("yes", viaRefFromNetns.Stdout.Trim());
        var clientPort = clientList.Stdout.Split('\n')[0].Trim();
        Assert.Contains($"addr=127.0.0.1:{clientPort} ", clientList.Stdout, StringComparison.Ordinal);

        var services = await ax.AxAsync("get", "services", "-o", "json");
        using var servicesJson = JsonDocument.Parse(services.Stdout);
        var mine = servicesJson.RootElement.EnumerateArray().Where(s => s.GetProperty("appName").GetString() == "netns-server").ToList();
        Assert.NotEmpty(mine);
        Assert.All(mine, s =>
        {
            Assert.EndsWith(":6379", s.GetProperty("requested").GetString(), StringComparison.Ordinal);
            Assert.EndsWith($":{hostPort}", s.GetProperty("bound").GetString(), StringComparison.Ordinal);
        });
        var apps = await ax.AxAsync("get", "apps", "-o", "json");
        using var appsJson = JsonDocument.Parse(apps.Stdout);
        var app = appsJson.RootElement.EnumerateArray().Single(a => a.GetProperty("name").GetString() == "netns-server");
        Assert.True(app.GetProperty("netns").GetUInt64() > 0);
        Assert.Equal([$"{hostPort}:6379"], app.GetProperty("ports").EnumerateArray().Select(p => p.GetString()));
        var table = await ax.AxAsync("get", "apps");
        Assert.Contains(app.GetProperty("netns").GetUInt64().ToString(System.Globalization.CultureInfo.InvariantCulture), table.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "--netns", "/run/netns/ax-test-no-such-namespace" }, "invalid --netns \"/run/netns/ax-test-no-such-namespace\": no such file")]
    [InlineData(new[] { "--netns", "/etc/hostname" }, "invalid --netns \"/etc/hostname\": not a network namespace")]
    [InlineData(new[] { "--netns", "/etc/hostname", "--new-netns" }, "--netns and --new-netns cannot be given together")]
    [InlineData(new[] { "--ports", "8080:80" }, "--ports maps the ports of a network namespace")]
    [InlineData(new[] { "--new-netns", "--ports", "0:80" }, "invalid --ports: \"0:80\": ports are numbers from 1 to 65535")]
    [InlineData(new[] { "--new-netns", "--ports", "8080:65536" }, "invalid --ports: \"8080:65536\": ports are numbers from 1 to 65535")]
    [InlineData(new[] { "--new-netns", "--ports", "8080" }, "invalid --ports: \"8080\" is not of the form HOST:APP")]
    [InlineData(new[] { "--new-netns", "--ports", "x:80" }, "invalid --ports: \"x:80\": ports are numbers from 1 to 65535")]
    [InlineData(new[] { "--new-netns", "--ports", "8080:80,8080:81" }, "invalid --ports: host port 8080 is mapped twice")]
    [InlineData(new[] { "--new-netns", "--ports", "8080:80", "--ports", "8081:80" }, "invalid --ports: application port 80 is mapped twice")]
    public async Task Run_BadNamespaceOptions_UsageErrorAndCommandNotStarted(string[] options, string message)
    {
        var marker = Path.Combine(Path.GetTempPath(), $"ax-netns-never-{Guid.NewGuid():N}");

        var result = await ax.RunUnderAxAsync(options, ["touch", marker]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(marker), "the command ran");
    }
}
