using System.Diagnostics;
using System.Globalization;
using Istio.AppSwitch.Functional.Tests.Harness;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Functional.Tests;

/// <summary>
/// Dependency ordering with real programs: a connect to a ref with no live backend waits for the backend's
/// <c>listen</c>. Its own daemon (collection), so that these slow-by-design tests run beside the others.
/// VIPs in 127.96.4.0/24.
/// </summary>
[Collection(DependencyOrderingCollection.Name)]
public sealed class DependencyOrderingTests(AxEnvironment ax)
{
    private static readonly string Programs = Path.Combine(AppContext.BaseDirectory, "Programs");

    private static string Program(string name) => Path.Combine(Programs, name);

    [Fact]
    public async Task ClientFirst_ServerThreeSecondsLater_ClientConnectsOnceItListens()
    {
        var port = AxEnvironment.FreePort();
        await ax.CreateRefAsync("late-server", "127.96.4.1:80", "app=late-server");

        using var client = ax.StartUnderAx([], ["python3", Program("connect_probe.py"), "127.96.4.1", "80", "blocking"]);
        await ax.WaitForHeldAsync("late-server", 1);
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal(1, await ax.HeldAsync("late-server"));
        using var server = ax.StartUnderAx(["--labels", "app=late-server"], ["python3", Program("echo_server.py"), "127.0.0.1", port.ToString(CultureInfo.InvariantCulture), "late"]);

        Assert.Equal(0, await client.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var probe = Probe.Parse(client.Stdout);
        Assert.True(probe.Result == "ok", client.Output + ax.Daemon.Stderr);
        Assert.Equal("late:probe", probe.Reply);
        Assert.InRange(probe.Milliseconds, 3000, 15_000);
        Assert.Equal(0, await ax.HeldAsync("late-server"));
    }

    [Fact]
    public async Task Chain_StartedAtOnceInReverseOrder_TotalIsTheSlowestInitNotTheSum()
    {
        // A -> B -> C, each with a slow initialisation, all started at once, the client first and C last. Ordered
        // by init containers or wait scripts this takes the sum of the initialisations (12 s); under ax, the
        // slowest (5 s) plus the start-up of the programs, which on a loaded CI machine can take 4 s and more.
        var (portA, portB, portC) = (AxEnvironment.FreePort(), AxEnvironment.FreePort(), AxEnvironment.FreePort());
        await ax.CreateRefAsync("chain-a", "127.96.4.10:80", "app=chain-a");
        await ax.CreateRefAsync("chain-b", "127.96.4.11:80", "app=chain-b");
        await ax.CreateRefAsync("chain-c", "127.96.4.12:80", "app=chain-c");
        var clock = Stopwatch.StartNew();

        using var client = ax.StartUnderAx([], ["python3", Program("connect_probe.py"), "127.96.4.10", "80", "blocking"]);
        using var a = ax.StartUnderAx(["--labels", "app=chain-a"], ["python3", Program("chain_service.py"), "A", "3.0", $"{portA}", "127.96.4.11", "80"]);
        using var b = ax.StartUnderAx(["--labels", "app=chain-b"], ["python3", Program("chain_service.py"), "B", "4.0", $"{portB}", "127.96.4.12", "80"]);
        using var c = ax.StartUnderAx(["--labels", "app=chain-c"], ["python3", Program("chain_service.py"), "C", "5.0", $"{portC}"]);

        Assert.Equal(0, await client.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var total = clock.Elapsed;
        var probe = Probe.Parse(client.Stdout);
        Assert.True(probe.Result == "ok", $"{client.Output}\nA: {a.Output}\nB: {b.Output}\nC: {c.Output}");
        Assert.Equal("A>B>C", probe.Reply);
        Assert.InRange(total, TimeSpan.FromSeconds(5.0), TimeSpan.FromSeconds(10.5));
    }

    [Fact]
    public async Task NoBackendWithinTheWait_ConnectionRefusedAfterTheWait()
    {
        await ax.CreateRefAsync("never-listens", "127.96.4.20:80", "app=never-listens", null, "--wait", "1s");

        var result = await ax.RunUnderAxAsync([], ["python3", Program("connect_probe.py"), "127.96.4.20", "80", "blocking"]);

        var probe = Probe.Parse(result.Stdout);
        Assert.True(probe.Result == "ECONNREFUSED", result.ToString());
        Assert.InRange(probe.Milliseconds, 900, 5000);
        Assert.Equal(0, await ax.HeldAsync("never-listens"));
    }

    [Fact]
    public async Task WaitZero_RefusesAtOnce()
    {
        await ax.CreateRefAsync("no-wait", "127.96.4.21:80", "app=no-wait", null, "--wait", "0");

        var result = await ax.RunUnderAxAsync([], ["python3", Program("connect_probe.py"), "127.96.4.21", "80", "blocking"]);

        var probe = Probe.Parse(result.Stdout);
        Assert.True(probe.Result == "ECONNREFUSED", result.ToString());
        Assert.InRange(probe.Milliseconds, 0, 800);
    }

    [Fact]
    public async Task Nonblocking_EAgainMode_AnswersEAgainAtOnce_BlockingStillHeld()
    {
        var port = AxEnvironment.FreePort();
        await ax.CreateRefAsync("eagain", "127.96.4.30:80", "app=eagain", null, "--nonblocking", "eagain");

        // The blocking connect is held first: the nonblocking one is answered at once all the same.
        using var blocking = ax.StartUnderAx([], ["python3", Program("connect_probe.py"), "127.96.4.30", "80", "blocking"]);
        await ax.WaitForHeldAsync("eagain", 1);
        var nonblocking = await ax.RunUnderAxAsync([], ["python3", Program("connect_probe.py"), "127.96.4.30", "80", "nonblocking"]);
        using var server = ax.StartUnderAx(["--labels", "app=eagain"], ["python3", Program("echo_server.py"), "127.0.0.1", $"{port}", "eagain"]);
        await blocking.WaitForExitAsync(TimeSpan.FromSeconds(30));

        var probe = Probe.Parse(nonblocking.Stdout);
        Assert.True(probe.Result == "EAGAIN", nonblocking.ToString());
        Assert.InRange(probe.Milliseconds, 0, 800);
        Assert.Equal("eagain:probe", Probe.Parse(blocking.Stdout).Reply);
    }

    [Fact]
    public async Task Nonblocking_HoldMode_HeldThenInProgressOnceTheServerListens()
    {
        var port = AxEnvironment.FreePort();
        await ax.CreateRefAsync("nb-hold", "127.96.4.31:80", "app=nb-hold");

        using var client = ax.StartUnderAx([], ["python3", Program("connect_probe.py"), "127.96.4.31", "80", "nonblocking"]);
        await ax.WaitForHeldAsync("nb-hold", 1);
        await Task.Delay(500);
        using var server = ax.StartUnderAx(["--labels", "app=nb-hold"], ["python3", Program("echo_server.py"), "127.0.0.1", $"{port}", "nb"]);
        await client.WaitForExitAsync(TimeSpan.FromSeconds(30));

        var probe = Probe.Parse(client.Stdout);
        Assert.True(probe.Result == "EINPROGRESS", client.Output);
        Assert.InRange(probe.Milliseconds, 500, 15_000);
    }

    [Fact]
    public async Task NodeAndStaticGo_NonblockingRuntimes_WaitForALateServer()
    {
        var port = AxEnvironment.FreePort();
        var goClient = await GoPrograms.BuildAsync("goclient");
        await ax.CreateRefAsync("late-nb", "127.96.4.32:80", "app=late-nb");

        using var node = ax.StartUnderAx([], ["node", Program("client.js"), "127.96.4.32", "80", "from-node"]);
        using var go = ax.StartUnderAx([], [goClient, "127.96.4.32:80", "10", "from-go"]);
        await ax.WaitForHeldAsync("late-nb", 11);
        using var server = ax.StartUnderAx(["--labels", "app=late-nb"], ["python3", Program("echo_server.py"), "127.0.0.1", $"{port}", "late"]);

        Assert.True(await node.WaitForExitAsync(TimeSpan.FromSeconds(30)) == 0, node.Output);
        Assert.True(await go.WaitForExitAsync(TimeSpan.FromSeconds(30)) == 0, go.Output);
        Assert.Contains("reply=late:from-node", node.Stdout, StringComparison.Ordinal);
        Assert.Contains("ok=10 failed=0", go.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HeldCall_ProcessKilled_DroppedWithoutLeakingAnything()
    {
        await ax.CreateRefAsync("killed", "127.96.4.40:80", "app=killed");
        var fdsBefore = OpenFds(ax.Daemon.Id);

        using var client = ax.StartUnderAx([], ["python3", Program("connect_probe.py"), "127.96.4.40", "80", "blocking"]);
        await ax.WaitForHeldAsync("killed", 1);
        client.Kill();
        await ax.WaitForHeldAsync("killed", 0, TimeSpan.FromSeconds(5));

        // The dup of the socket, the app's listener and its pidfds are all closed once the app is gone.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (OpenFds(ax.Daemon.Id) > fdsBefore && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
        Assert.True(OpenFds(ax.Daemon.Id) <= fdsBefore, $"the daemon has {OpenFds(ax.Daemon.Id)} fds open, {fdsBefore} before");
        var apps = await ax.AxAsync("get", "apps", "-o", "json");
        Assert.DoesNotContain("connect_probe", apps.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HeldCall_ApplicationsOwnTimeoutBySignal_Respected()
    {
        await ax.CreateRefAsync("app-timeout", "127.96.4.41:80", "app=app-timeout");

        var result = await ax.RunUnderAxAsync([], ["python3", Program("connect_probe.py"), "127.96.4.41", "80", "alarm", "1"]);

        var probe = Probe.Parse(result.Stdout);
        Assert.True(probe.Result == "apptimeout", result.ToString());
        Assert.InRange(probe.Milliseconds, 900, 5000);
        await ax.WaitForHeldAsync("app-timeout", 0, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task SecondConnectOnAConnectedSocket_BackendGone_KernelAnswersEisconnNotHeld()
    {
        var port = AxEnvironment.FreePort();
        await ax.CreateRefAsync("gone", "127.96.4.50:80", "app=gone");
        var server = ax.StartUnderAx(["--labels", "app=gone"], ["python3", Program("echo_server.py"), "127.0.0.1", $"{port}", "gone"]);
        await ax.WaitForServiceAsync(port, server);

        using var client = ax.StartUnderAx([], ["python3", Program("connect_probe.py"), "127.96.4.50", "80", "twice", "4"]);
        await client.WaitForOutputAsync("connected", TimeSpan.FromSeconds(20));
        server.Dispose();
        await WaitForBackendsAsync("gone", 0);
        Assert.Equal(0, await client.WaitForExitAsync(TimeSpan.FromSeconds(30)));

        // The kernel says EISCONN, which python's connect_ex reports as 0 (as it does without ax).
        var probe = Probe.Parse(client.Stdout);
        Assert.True(probe.Result == "ok", client.Output);
        Assert.InRange(probe.Milliseconds, 0, 1000);
    }

    private async Task WaitForBackendsAsync(string refName, int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var result = await ax.AxAsync("get", "ref", refName, "-o", "json");
            using var json = System.Text.Json.JsonDocument.Parse(result.Stdout);
            if (json.RootElement.GetProperty("backends").GetInt32() == count)
            {
                return;
            }
            Assert.True(DateTime.UtcNow < deadline, $"ref {refName} still has backends: {result.Stdout}");
            await Task.Delay(50);
        }
    }

    private static int OpenFds(int pid) => Directory.GetFiles($"/proc/{pid}/fd").Length;

    /// <summary>The line connect_probe.py prints.</summary>
    private sealed record Probe(string Result, double Milliseconds, string Reply)
    {
        public static Probe Parse(string stdout)
        {
            var line = stdout.Split('\n').LastOrDefault(l => l.StartsWith("result=", StringComparison.Ordinal))
                ?? throw new Xunit.Sdk.XunitException($"connect_probe.py printed no result: {stdout}");
            var fields = line.Split(' ').Select(f => f.Split('=', 2)).ToDictionary(f => f[0], f => f.Length > 1 ? f[1] : "");
            return new Probe(fields["result"], double.Parse(fields["ms"], CultureInfo.InvariantCulture), fields["reply"]);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class DependencyOrderingCollection : ICollectionFixture<AxEnvironment>
{
    public const string Name = "ax daemon for dependency ordering";
}
