using System.Text.Json;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Functional.Tests.Harness;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Functional.Tests;

/// <summary>
/// Inbound RBAC enforced at accept: real servers under ax (a blocking python server, a nonblocking node server,
/// redis-server), inbound policy programmed through the daemon's <c>POST /v1/mesh</c>, and real clients that bind their
/// source address inside 127.0.0.0/8. A denied client sees a reset; the server never sees it.
/// </summary>
[Collection(AxCollection.Name)]
public sealed class InboundPolicyTests(AxEnvironment ax)
{
    private static readonly string Programs = Path.Combine(AppContext.BaseDirectory, "Programs");

    // DENY 127.0.0.3, then ALLOW only 127.0.0.2: both engines are exercised, and 127.0.0.1 is denied by the ALLOW.
    private const string AllowTwoDenyThree = """
        {"engines": [
          {"action": "deny", "policies": [{"name": "deny-3", "permissions": [{"any": true}], "principals": [{"sourceIp": "127.0.0.3/32"}]}]},
          {"action": "allow", "policies": [{"name": "allow-2", "permissions": [{"any": true}], "principals": [{"sourceIp": "127.0.0.2/32"}]}]}
        ]}
        """;

    private const string DenyThree = """
        {"engines": [{"action": "deny", "policies": [{"name": "deny-3", "permissions": [{"any": true}], "principals": [{"sourceIp": "127.0.0.3/32"}]}]}]}
        """;

    private static Task<ProcessResult> ClientAsync(string source, int port, string message) =>
        ExternalProcess.RunAsync("python3", [Path.Combine(Programs, "inbound_client.py"), source, "127.0.0.1", port.ToString(), message], TimeSpan.FromSeconds(30));

    [Fact]
    public async Task PythonBlockingServer_AllowedSourceServedDeniedSourceReset()
    {
        var port = AxEnvironment.FreePort();
        await ax.ProgramInboundAsync("app=inb-py", port, AllowTwoDenyThree);
        using var server = ax.StartUnderAx(["--name", "inb-py", "--labels", "app=inb-py"],
            ["python3", Path.Combine(Programs, "inbound_server.py"), "127.0.0.1", port.ToString(), "py"]);
        await server.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));

        var allowed = await ClientAsync("127.0.0.2", port, "hello");
        var denied = await ClientAsync("127.0.0.3", port, "intruder");
        var notAllowed = await ClientAsync("127.0.0.1", port, "stranger");
        var again = await ClientAsync("127.0.0.2", port, "again");

        Assert.StartsWith("reply=py:hello local=127.0.0.2:", allowed.Stdout.Trim(), StringComparison.Ordinal);
        Assert.Equal("reset", denied.Stdout.Trim());
        Assert.Equal("reset", notAllowed.Stdout.Trim());
        // The blocking accept went on waiting after the denied connections, and took the next allowed one.
        Assert.StartsWith("reply=py:again local=127.0.0.2:", again.Stdout.Trim(), StringComparison.Ordinal);
        // The server saw the real client address, from accept() and from getpeername().
        var clientPort = allowed.Stdout.Trim().Split(':')[^1];
        Assert.Contains($"accepted 127.0.0.2:{clientPort} getpeername=127.0.0.2:{clientPort}", server.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("127.0.0.3", server.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("accepted 127.0.0.1", server.Stdout, StringComparison.Ordinal);
        var counters = await ax.AppCountersAsync("inb-py");
        Assert.Equal(2, counters.GetProperty("acceptAllowed").GetInt64());
        Assert.Equal(2, counters.GetProperty("acceptDenied").GetInt64());
    }

    [Fact]
    public async Task PythonServer_ThreeThreadsBlockedInAccept_EachGetsItsOwnConnection()
    {
        var port = AxEnvironment.FreePort();
        await ax.ProgramInboundAsync("app=inb-threads", port, AllowTwoDenyThree);
        using var server = ax.StartUnderAx(["--labels", "app=inb-threads"],
            ["python3", Path.Combine(Programs, "inbound_server.py"), "127.0.0.1", port.ToString(), "mt", "3"]);
        await server.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));
        await Task.Delay(300); // let the three threads park in accept

        // Each thread serves its connection inline until the client closes: three clients at once need three accepts.
        var results = await Task.WhenAll(ClientAsync("127.0.0.2", port, "a"), ClientAsync("127.0.0.2", port, "b"), ClientAsync("127.0.0.2", port, "c"));

        Assert.All(results, r => Assert.StartsWith("reply=mt:", r.Stdout.Trim(), StringComparison.Ordinal));
        var threads = server.Stdout.Split('\n').Where(l => l.StartsWith("accepted", StringComparison.Ordinal)).Select(l => l.Split("thread=")[1]).ToList();
        Assert.Equal(3, threads.Count);
    }

    [Fact]
    public async Task NodeNonblockingServer_AllowedSourceServedDeniedSourceReset()
    {
        var port = AxEnvironment.FreePort();
        await ax.ProgramInboundAsync("app=inb-node", port, AllowTwoDenyThree);
        using var server = ax.StartUnderAx(["--name", "inb-node", "--labels", "app=inb-node"],
            ["node", Path.Combine(Programs, "inbound_server.js"), "127.0.0.1", port.ToString(), "js"]);
        await server.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));

        var denied = await ClientAsync("127.0.0.3", port, "intruder");
        var allowed = await ClientAsync("127.0.0.2", port, "hi");
        var again = await ClientAsync("127.0.0.2", port, "again");

        Assert.Equal("reset", denied.Stdout.Trim());
        Assert.StartsWith("reply=js:hi local=127.0.0.2:", allowed.Stdout.Trim(), StringComparison.Ordinal);
        Assert.StartsWith("reply=js:again local=127.0.0.2:", again.Stdout.Trim(), StringComparison.Ordinal);
        var clientPort = allowed.Stdout.Trim().Split(':')[^1];
        Assert.Contains($"accepted 127.0.0.2:{clientPort}", server.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("127.0.0.3", server.Stdout, StringComparison.Ordinal);
        var counters = await ax.AppCountersAsync("inb-node");
        Assert.Equal(2, counters.GetProperty("acceptAllowed").GetInt64());
        Assert.Equal(1, counters.GetProperty("acceptDenied").GetInt64());
    }

    [Fact]
    public async Task RedisServer_DenyRuleOnSourceIp_RedisCliFromDeniedSourceFails()
    {
        var port = AxEnvironment.FreePort();
        await ax.ProgramInboundAsync("app=inb-redis", port, DenyThree);
        using var server = ax.StartUnderAx(["--labels", "app=inb-redis"],
            ["redis-server", "--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        await ax.WaitForServiceAsync(port, server);
        // redis-cli cannot choose its source address: socat relays for it from 127.0.0.3.
        var relayPort = AxEnvironment.FreePort();
        using var relay = ExternalProcess.Start("socat", [$"TCP-LISTEN:{relayPort},bind=127.0.0.1,reuseaddr,fork", $"TCP:127.0.0.1:{port},bind=127.0.0.3"]);
        await WaitForPortAsync(relayPort);

        var allowed = await ExternalProcess.RunAsync("redis-cli", ["-h", "127.0.0.1", "-p", port.ToString(), "PING"], TimeSpan.FromSeconds(30));
        var denied = await ExternalProcess.RunAsync("redis-cli", ["-h", "127.0.0.1", "-p", relayPort.ToString(), "PING"], TimeSpan.FromSeconds(30));

        Assert.Equal("PONG", allowed.Stdout.Trim());
        Assert.DoesNotContain("PONG", denied.Stdout, StringComparison.Ordinal);
        Assert.True(denied.ExitCode != 0 || denied.Stdout.Contains("Error", StringComparison.OrdinalIgnoreCase)
            || denied.Stderr.Contains("Error", StringComparison.OrdinalIgnoreCase) || denied.Stdout.Trim().Length == 0, denied.ToString());
    }

    public static TheoryData<bool> WithPolicy => new() { false, true };

    [Theory]
    [MemberData(nameof(WithPolicy))]
    public async Task Accept4_FlagsAndAddressArguments_AnsweredAsByTheKernel(bool withPolicy)
    {
        // The same program without ax gives the kernel's answers; under ax, without a policy (CONTINUE) and with one
        // (ax accepts and installs the socket), the answers must be the same, line for line.
        var kernelPort = AxEnvironment.FreePort();
        var kernel = await ExternalProcess.RunAsync("python3", [Path.Combine(Programs, "accept_flags.py"), "127.0.0.1", kernelPort.ToString()], TimeSpan.FromSeconds(30));
        Assert.True(kernel.ExitCode == 0, kernel.ToString());

        var port = AxEnvironment.FreePort();
        var labels = withPolicy ? "app=inb-flags-policy" : "app=inb-flags-none";
        if (withPolicy)
        {
            await ax.ProgramInboundAsync(labels, port, DenyThree);
        }
        var underAx = await ax.RunUnderAxAsync(["--name", labels[4..], "--labels", labels], ["python3", Path.Combine(Programs, "accept_flags.py"), "127.0.0.1", port.ToString()]);

        Assert.True(underAx.ExitCode == 0, underAx.ToString());
        Assert.Equal(kernel.Stdout, underAx.Stdout);
        Assert.Contains("accept4-both: nonblock=1 cloexec=1 addrlen=16 family=2 port_ok=1 tail=7f0000010000000000000000 peer=127.0.0.1", underAx.Stdout, StringComparison.Ordinal);
        Assert.Contains("truncated: nonblock=0 cloexec=0 addrlen=16 family=2 port_ok=1 tail=7f00aaaaaaaaaaaaaaaaaaaa", underAx.Stdout, StringComparison.Ordinal);
        Assert.Contains("bad-addr: errno=Bad address", underAx.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BlockingAccept_InterruptedBySignal_BehavesAsInTheKernelAndLeaksNoFd()
    {
        var port = AxEnvironment.FreePort();
        await ax.ProgramInboundAsync("app=inb-signal", port, DenyThree);
        using var server = ax.StartUnderAx(["--labels", "app=inb-signal"], ["python3", Path.Combine(Programs, "accept_signal.py"), "127.0.0.1", port.ToString()]);
        await server.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));
        var baseline = DaemonFdCount();

        // SIGALRM with a raising handler: accept fails with EINTR, the handler ran.
        await server.WaitForOutputAsync("interrupted handler_ran=1", TimeSpan.FromSeconds(10));
        // SIGALRM with a returning handler: the handler runs and Python restarts the accept; a client then ends it.
        await server.WaitForOutputAsync("waiting", TimeSpan.FromSeconds(10));
        await Task.Delay(1500);
        var client = await ClientAsync("127.0.0.2", port, "x");
        await server.WaitForOutputAsync("accepted 127.0.0.2 handler_ran=2", TimeSpan.FromSeconds(10));

        Assert.Equal("eof", client.Stdout.Trim());
        // The held accepts' dups of the listener are gone once their calls are (within a hold tick).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        int count;
        while ((count = DaemonFdCount()) > baseline && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
        Assert.True(count <= baseline, $"the daemon holds {count} fds, {baseline} before the accepts");
    }

    [Fact]
    public async Task PrincipalRule_PeerIsAnAppUnderAx_ItsLabelsGiveItsIdentity()
    {
        // What istiod sends for "ALLOW from sa sleep in default": a principal rule, and a port the translation chained
        // only because the peer's identity is unknown at accept. For a client under ax, ax knows it.
        const string allowSleep = """
            {"engines": [{"action": "allow", "policies": [{"name": "allow-sleep", "permissions": [{"any": true}],
              "principals": [{"principal": {"exact": "spiffe://cluster.local/ns/default/sa/sleep"}}]}]}]}
            """;
        var port = AxEnvironment.FreePort();
        using (var client = new AxApiClient(ax.ApiSocket))
        using (var document = JsonDocument.Parse(allowSleep))
        {
            await client.UpdateMeshAsync(new MeshUpdateRequest
            {
                Inbound = [new MeshInboundPortDto
                {
                    Key = $"inb-id:{port}", Selector = "app=inb-id", Port = port, Mode = "chain", Reasons = ["principal_requires_identity"],
                    Rbac = document.RootElement.Clone(),
                }],
            });
        }
        using var server = ax.StartUnderAx(["--labels", "app=inb-id"], ["python3", Path.Combine(Programs, "inbound_server.py"), "127.0.0.1", port.ToString(), "id"]);
        await server.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));
        var clientProgram = Path.Combine(Programs, "inbound_client.py");

        var sleep = await ax.RunUnderAxAsync(["--labels", "istio.io/namespace=default,istio.io/serviceaccount=sleep"],
            ["python3", clientProgram, "127.0.0.1", "127.0.0.1", port.ToString(), "zzz"]);
        var other = await ax.RunUnderAxAsync(["--labels", "istio.io/namespace=default,istio.io/serviceaccount=other"],
            ["python3", clientProgram, "127.0.0.1", "127.0.0.1", port.ToString(), "who"]);
        var stranger = await ClientAsync("127.0.0.1", port, "anon");

        Assert.StartsWith("reply=id:zzz", sleep.Stdout.Trim(), StringComparison.Ordinal);
        Assert.Equal("reset", other.Stdout.Trim());
        Assert.Equal("reset", stranger.Stdout.Trim());
        Assert.Single(server.Stdout.Split('\n'), l => l.StartsWith("accepted", StringComparison.Ordinal));
    }

    [Fact]
    public async Task UnsupportedMatcher_DecisionOnlyEnvoyCouldMake_DeniedWithWarningNeverAllowed()
    {
        // DENY on a matcher ax cannot check at accept (dynamic metadata: a JWT claim), so it can neither allow nor deny.
        // With no delegation sidecar to chain it to, it is denied, and the daemon says why at Warning.
        const string denySni = """
            {"engines": [{"action": "deny", "policies": [{"name": "deny-sni", "permissions": [{"unsupported": "metadata"}],
              "principals": [{"any": true}]}]}]}
            """;
        var port = AxEnvironment.FreePort();
        await ax.ProgramInboundAsync("app=inb-sni", port, denySni);
        using var server = ax.StartUnderAx(["--labels", "app=inb-sni"], ["python3", Path.Combine(Programs, "inbound_server.py"), "127.0.0.1", port.ToString(), "sni"]);
        await server.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));

        var result = await ClientAsync("127.0.0.2", port, "hello");

        Assert.Equal("reset", result.Stdout.Trim());
        Assert.DoesNotContain("accepted", server.Stdout, StringComparison.Ordinal);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (!ax.Daemon.Stderr.Contains($"inbound port app=inb-sni:{port} needs a decision ax cannot make at accept", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        Assert.Contains($"inbound port app=inb-sni:{port} needs a decision ax cannot make at accept (a rule depends on what ax could not read at accept", ax.Daemon.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BlockingAccept_SoRcvtimeo_AnswersEagainAsTheKernel()
    {
        var port = AxEnvironment.FreePort();
        await ax.ProgramInboundAsync("app=inb-timeout", port, DenyThree);

        var result = await ax.RunUnderAxAsync(["--labels", "app=inb-timeout"], ["python3", Path.Combine(Programs, "accept_timeout.py"), "127.0.0.1", port.ToString(), "0.6"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.StartsWith("eagain after=", result.Stdout.Trim(), StringComparison.Ordinal);
        var after = double.Parse(result.Stdout.Trim()["eagain after=".Length..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(after, 0.5, 3.0);
    }

    private int DaemonFdCount() => Directory.GetFileSystemEntries($"/proc/{ax.Daemon.Id}/fd").Length;

    private static async Task WaitForPortAsync(int port)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            try
            {
                using var probe = new System.Net.Sockets.TcpClient();
                await probe.ConnectAsync("127.0.0.1", port);
                return;
            }
            catch (System.Net.Sockets.SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
    }
}
