using Istio.AppSwitch.Functional.Tests.Harness;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Functional.Tests;

/// <summary>
/// Real programs under a real <c>ax daemon</c>: servers register through their <c>listen</c>, clients reach them
/// through a ref's VIP, and ax stays out of the data path. Every VIP is in 127.96.0.0/16 or is ::1, so a failed
/// interception sends nothing off the machine.
/// </summary>
[Collection(AxCollection.Name)]
public sealed class RedirectTests(AxEnvironment ax)
{
    private static readonly string Programs = Path.Combine(AppContext.BaseDirectory, "Programs");

    [Fact]
    public async Task Run_DaemonUnreachable_DoesNotStartTheCommand()
    {
        var marker = Path.Combine(Path.GetTempPath(), $"ax-never-{Guid.NewGuid():N}");

        var result = await ExternalProcess.RunAsync(AxEnvironment.AxPath, ["run", "--api", "/nonexistent/ax.sock", "--", "touch", marker], TimeSpan.FromSeconds(30));

        Assert.Equal(125, result.ExitCode);
        Assert.Contains("cannot reach the ax daemon at /nonexistent/ax.sock", result.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(marker), "the command ran without interception");
    }

    [Fact]
    public async Task Run_CommandExitCode_IsAxRunsExitCode()
    {
        var result = await ax.RunUnderAxAsync([], ["sh", "-c", "exit 7"]);

        Assert.Equal(7, result.ExitCode);
    }

    [Fact]
    public async Task Run_Environment_ReachesTheProgramUnchanged()
    {
        const string value = "a=b ünï \"q\" \\ $HOME";
        var environment = new Dictionary<string, string>(ax.Environment) { ["AX_FUNCTIONAL_VALUE"] = value };

        var result = await ExternalProcess.RunAsync(
            AxEnvironment.AxPath, ["run", "--", "sh", "-c", "printf '%s\\n' \"$AX_FUNCTIONAL_VALUE\" \"$AX_API\""], TimeSpan.FromSeconds(60), environment: environment);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal($"{value}\n{ax.ApiSocket}", result.Stdout.TrimEnd('\n'));
    }

    [Fact]
    public async Task Run_MissingCommand_Exits127WithoutStarting()
    {
        var result = await ax.RunUnderAxAsync([], ["no-such-program-ax-test"]);

        Assert.Equal(127, result.ExitCode);
        Assert.Contains("command not found", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RedisCli_ThroughVip_ReachesRedisServerFoundInRegistry()
    {
        var port = AxEnvironment.FreePort();
        using var server = ax.StartUnderAx(["--name", "redis", "--labels", "app=redis-t1,tier=cache"],
            ["redis-server", "--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        await ax.WaitForServiceAsync(port, server);
        await ax.CreateRefAsync("redis-t1", "127.96.1.1:6379", "app=redis-t1");

        var set = await ax.RunUnderAxAsync([], ["redis-cli", "-h", "127.96.1.1", "-p", "6379", "SET", "greeting", "hello-ax"]);
        var get = await ax.RunUnderAxAsync([], ["redis-cli", "-h", "127.96.1.1", "-p", "6379", "GET", "greeting"]);

        Assert.True(set.ExitCode == 0, set.ToString());
        Assert.Equal("OK", set.Stdout.Trim());
        Assert.Equal("hello-ax", get.Stdout.Trim());

        var services = await ax.AxAsync("get", "services");
        Assert.Contains("redis", services.Stdout, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{port}", services.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Curl_ThroughVip_ReachesHttpServerAndReportsTheVipAsRemote()
    {
        var port = AxEnvironment.FreePort();
        var root = Directory.CreateTempSubdirectory("ax-http-").FullName;
        await File.WriteAllTextAsync(Path.Combine(root, "index.html"), "served-under-ax");
        using var server = ax.StartUnderAx(["--labels", "app=web-t2"],
            ["python3", "-m", "http.server", port.ToString(), "--bind", "127.0.0.1", "--directory", root]);
        await ax.WaitForServiceAsync(port, server);
        await ax.CreateRefAsync("web-t2", "127.96.1.2:80", "app=web-t2");

        var result = await ax.RunUnderAxAsync([], ["curl", "-sS", "-w", "\\n%{remote_ip}:%{remote_port}", "http://127.96.1.2/index.html"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Stdout.Split('\n');
        Assert.Equal("served-under-ax", lines[0]);
        Assert.Equal("127.96.1.2:80", lines[1]); // curl asks getpeername: ax answers with the VIP
    }

    [Fact]
    public async Task PythonBlockingClient_ThroughVip_GetsAnswerAndSeesVipAsPeer()
    {
        var (server, _) = await StartEchoServerAsync("app=echo-t3", "echo-t3");
        using var _ = server;
        await ax.CreateRefAsync("echo-t3", "127.96.1.3:7000", "app=echo-t3");

        var result = await ax.RunUnderAxAsync([], ["python3", Path.Combine(Programs, "client.py"), "127.96.1.3", "7000", "ping"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        // TCP_NODELAY was set by the client before connect: the installed socket carries it.
        Assert.Equal("reply=echo-t3:ping peer=127.96.1.3:7000 nodelay=1", result.Stdout.Trim());
    }

    [Fact]
    public async Task BlockingClient_ConnectsAgainThroughVip_GetsEisconnAsFromTheKernel()
    {
        var (server, port) = await StartEchoServerAsync("app=echo-t3b", "echo-t3b");
        using var _ = server;
        await ax.CreateRefAsync("echo-t3b", "127.96.1.13:7000", "app=echo-t3b");
        var probe = Path.Combine(Programs, "connect_probe.py");

        var direct = await ExternalProcess.RunAsync("python3", [probe, "127.0.0.1", port.ToString(), "blocking-twice"], TimeSpan.FromSeconds(30));
        var viaVip = await ax.RunUnderAxAsync([], ["python3", probe, "127.96.1.13", "7000", "blocking-twice"]);

        // ax finishes a blocking connect the way the kernel does, so the socket is connected, not still connecting.
        Assert.StartsWith("result=EISCONN ", direct.Stdout.Trim(), StringComparison.Ordinal);
        Assert.StartsWith("result=EISCONN ", viaVip.Stdout.Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task NodeNonblockingClient_ThroughVip_GetsAnswer()
    {
        var (server, _) = await StartEchoServerAsync("app=echo-t4", "echo-t4");
        using var _ = server;
        await ax.CreateRefAsync("echo-t4", "127.96.1.4:7000", "app=echo-t4");

        var result = await ax.RunUnderAxAsync([], ["node", Path.Combine(Programs, "client.js"), "127.96.1.4", "7000", "hi"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("reply=echo-t4:hi peer=127.96.1.4:7000", result.Stdout.Trim());
    }

    [Fact]
    public async Task StaticGoClient_HundredGoroutinesConnectAtOnce_AllRedirected()
    {
        var goClient = await GoPrograms.BuildAsync("goclient");
        var (server, _) = await StartEchoServerAsync("app=echo-t5", "echo-t5");
        using var _ = server;
        await ax.CreateRefAsync("echo-t5", "127.96.1.5:7000", "app=echo-t5");

        var result = await ax.RunUnderAxAsync([], [goClient, "127.96.1.5:7000", "100", "go"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("ok=100 failed=0", result.Stdout, StringComparison.Ordinal);
        Assert.True(result.Stdout.Contains("peer=127.96.1.5:7000 count=100", StringComparison.Ordinal), result.ToString());
        Assert.Contains("reply=echo-t5:go count=100", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Client_RefSelectsTwoServers_RoundRobinsBetweenThem()
    {
        var (first, _) = await StartEchoServerAsync("app=echo-t6", "first");
        using var a = first;
        var (second, _) = await StartEchoServerAsync("app=echo-t6", "second");
        using var b = second;
        await ax.CreateRefAsync("echo-t6", "127.96.1.6:7000", "app=echo-t6");

        var replies = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var result = await ax.RunUnderAxAsync([], ["python3", Path.Combine(Programs, "client.py"), "127.96.1.6", "7000", "x"]);
            Assert.True(result.ExitCode == 0, result.ToString());
            replies.Add(result.Stdout.Trim().Split(' ')[0]);
        }

        Assert.Equal(2, replies.Count(r => r == "reply=first:x"));
        Assert.Equal(2, replies.Count(r => r == "reply=second:x"));
    }

    [Fact]
    public async Task Client_DestinationWithoutRef_ConnectsAsWithoutAx()
    {
        var port = AxEnvironment.FreePort();
        using var server = ExternalProcess.Start("python3", [Path.Combine(Programs, "echo_server.py"), "127.0.0.1", port.ToString(), "direct"]);
        await server.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));

        var result = await ax.RunUnderAxAsync([], ["python3", Path.Combine(Programs, "client.py"), "127.0.0.1", port.ToString(), "p"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal($"reply=direct:p peer=127.0.0.1:{port} nodelay=1", result.Stdout.Trim());
    }

    [Fact]
    public async Task Client_RefWithoutLiveBackendAndNoWait_GetsEconnrefused()
    {
        await ax.CreateRefAsync("nobody-t8", "127.96.1.8:7000", "app=nobody-t8", null, "--wait", "0");

        var result = await ax.RunUnderAxAsync([], ["python3", Path.Combine(Programs, "client.py"), "127.96.1.8", "7000", "p"]);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("ConnectionRefusedError", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Client_BadSockaddrArguments_GetTheKernelsErrnosAndDaemonStaysUp()
    {
        var result = await ax.RunUnderAxAsync([], ["python3", Path.Combine(Programs, "badaddr.py")]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("badptr=EFAULT", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("shortlen=EINVAL", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("hugelen=EINVAL", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("negative=EINVAL", result.Stdout, StringComparison.Ordinal);
        Assert.False(ax.Daemon.HasExited);
        Assert.Equal(0, (await ax.AxAsync("get", "apps")).ExitCode);
    }

    [Fact]
    public async Task ForkedAndExecedChildren_StayUnderAx()
    {
        var (server, _) = await StartEchoServerAsync("app=echo-t9", "echo-t9");
        using var _ = server;
        await ax.CreateRefAsync("echo-t9", "127.96.1.9:7000", "app=echo-t9");
        var client = Path.Combine(Programs, "client.py");

        // sh forks, and the child execs python: both inherit the filter.
        var result = await ax.RunUnderAxAsync([], ["sh", "-c", $"python3 {client} 127.96.1.9 7000 a; python3 {client} 127.96.1.9 7000 b"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("reply=echo-t9:a peer=127.96.1.9:7000", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("reply=echo-t9:b peer=127.96.1.9:7000", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ipv6Client_VipOnV6Loopback_RedirectedToV4Server()
    {
        var (server, _) = await StartEchoServerAsync("app=echo-t10", "echo-t10");
        using var _ = server;
        var vipPort = AxEnvironment.FreePort(); // nothing listens on [::1] at this port: only ax can answer
        await ax.CreateRefAsync("echo-t10", $"[::1]:{vipPort}", "app=echo-t10");

        var result = await ax.RunUnderAxAsync([], ["python3", Path.Combine(Programs, "client.py"), "::1", vipPort.ToString(), "six", "ipv6"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal($"reply=echo-t10:six peer=::1:{vipPort} nodelay=1", result.Stdout.Trim());
    }

    [Fact]
    public async Task Service_ServerExits_IsDroppedFromRegistry()
    {
        var (server, port) = await StartEchoServerAsync("app=gone-t11", "gone");
        server.Kill();
        await server.WaitForExitAsync(TimeSpan.FromSeconds(10));
        server.Dispose();

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        string services;
        do
        {
            services = (await ax.AxAsync("get", "services", "-o", "json")).Stdout;
            if (!services.Contains($":{port}\"", StringComparison.Ordinal))
            {
                return;
            }
            await Task.Delay(100);
        }
        while (DateTime.UtcNow < deadline);
        Assert.Fail($"the service on port {port} is still registered: {services}");
    }

    [Fact]
    public async Task RunWithIp_ServerBindsThatIp_IsServedOnTheHostAndSeesTheIpItAskedFor()
    {
        var port = AxEnvironment.FreePort();
        using var server = ax.StartUnderAx(["--ip", "127.98.0.7", "--labels", "app=legacy-t12"],
            ["python3", Path.Combine(Programs, "echo_server.py"), "127.98.0.7", port.ToString(), "legacy"]);
        await server.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));
        await ax.WaitForServiceAsync(port, server);

        // The server asked for 127.98.0.7 and getsockname still says so...
        Assert.Contains($"listening 127.98.0.7:{port}", server.Stdout, StringComparison.Ordinal);
        // ...while ax bound the wildcard, so a client that knows only the host reaches it too.
        var direct = await ExternalProcess.RunAsync("python3", [Path.Combine(Programs, "client.py"), "127.0.0.1", port.ToString(), "h"], TimeSpan.FromSeconds(30));
        Assert.True(direct.ExitCode == 0, direct.ToString());
        // And a client under ax reaches it at the address the legacy configuration names.
        var viaIp = await ax.RunUnderAxAsync([], ["python3", Path.Combine(Programs, "client.py"), "127.98.0.7", port.ToString(), "i"]);
        Assert.Equal($"reply=legacy:i peer=127.98.0.7:{port} nodelay=1", viaIp.Stdout.Trim());

        var services = (await ax.AxAsync("get", "services", "-o", "json")).Stdout;
        Assert.Contains($"127.98.0.7:{port}", services, StringComparison.Ordinal);
    }

    private async Task<(ExternalProcess Server, int Port)> StartEchoServerAsync(string labels, string name)
    {
        var port = AxEnvironment.FreePort();
        var server = ax.StartUnderAx(["--labels", labels], ["python3", Path.Combine(Programs, "echo_server.py"), "127.0.0.1", port.ToString(), name]);
        await server.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));
        await ax.WaitForServiceAsync(port, server);
        return (server, port);
    }
}

/// <summary>One daemon for all functional tests; they run one at a time (xunit collection).</summary>
[CollectionDefinition(Name)]
public sealed class AxCollection : ICollectionFixture<AxEnvironment>
{
    public const string Name = "ax daemon";
}
