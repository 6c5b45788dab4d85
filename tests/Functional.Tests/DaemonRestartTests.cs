using System.Diagnostics;
using System.Text.Json;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Functional.Tests.Harness;
using Istio.AppSwitch.Tests.Common.Tools;
using Xunit.Abstractions;

namespace Istio.AppSwitch.Functional.Tests;

/// <summary>
/// Issue 10, faults: the daemon is stopped and started again (as systemd and a DaemonSet restart it), or killed, while
/// real programs under ax go on connecting. The keeper holds their listeners meanwhile (docs/interception.md, "When
/// the daemon restarts"), so their trapped calls wait in the kernel instead of failing. Each test has its own daemon,
/// since each restarts it. VIPs in 127.96.79.0/24.
/// </summary>
public sealed class DaemonRestartTests(ITestOutputHelper output)
{
    private static readonly string Programs = Path.Combine(AppContext.BaseDirectory, "Programs");

    [Theory]
    [InlineData("TERM", 3)]
    [InlineData("KILL", 2)]
    public async Task Restarted_WhileAClientLoopsThroughARef_NoConnectFails_AndEverythingIsTakenOver(string signal, int restarts)
    {
        var ax = new AxEnvironment();
        await ax.InitializeAsync();
        var stop = Path.Combine(Path.GetTempPath(), $"ax-restart-{Guid.NewGuid():N}");
        ExternalProcess? server = null;
        ExternalProcess? client = null;
        try
        {
            var port = AxEnvironment.FreePort();
            var vip = signal == "TERM" ? "127.96.79.1" : "127.96.79.2";
            await ax.CreateRefAsync("restart-echo", $"{vip}:7000", "ax.app=restart-echo");
            server = ax.StartUnderAx(["--name", "restart-echo"], ["python3", Path.Combine(Programs, "echo_server.py"), "127.0.0.1", port.ToString(), "echo"]);
            await ax.WaitForServiceAsync(port, server);

            client = ax.StartUnderAx(["--name", "restart-client"], ["python3", Path.Combine(Programs, "restart_loop.py"), vip, "7000", stop]);
            await client.WaitForOutputAsync("started", TimeSpan.FromSeconds(30));
            var appsBefore = await AppIdsAsync(ax);
            await Task.Delay(500);

            var gaps = new List<double>();
            for (var i = 0; i < restarts; i++)
            {
                var stopped = Stopwatch.StartNew();
                var stderr = await ax.StopDaemonAsync(signal);
                if (signal == "TERM")
                {
                    Assert.True(stderr.Contains("Suspended 2 applications for the next daemon", StringComparison.Ordinal), stderr[^Math.Min(stderr.Length, 3000)..]);
                }
                await ax.StartDaemonAsync();
                gaps.Add(stopped.Elapsed.TotalMilliseconds);
                // Served again at once: the apps, the service and the ref, as before.
                Assert.Equal(appsBefore, await AppIdsAsync(ax));
                var services = await ax.AxAsync("get", "services", "-o", "json");
                Assert.Contains($":{port}\"", services.Stdout, StringComparison.Ordinal);
                var refs = await ax.AxAsync("get", "ref", "restart-echo", "-o", "json");
                Assert.True(refs.ExitCode == 0, refs.ToString());
                await Task.Delay(700);
            }

            var counters = await ax.AppCountersAsync("restart-client");
            Assert.Equal(0, counters.GetProperty("failed").GetInt64());
            File.WriteAllText(stop, "");
            Assert.Equal(0, await client.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            using var result = JsonDocument.Parse(client.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
            var root = result.RootElement;
            output.WriteLine($"SIG{signal}, {restarts} restarts, daemon down-to-serving {string.Join(", ", gaps.Select(g => $"{g:0} ms"))}: {root}");
            Assert.True(root.GetProperty("failures").GetInt32() == 0, $"{root}\n{client.Stderr}\ndaemon: {ax.Daemon.Stderr}");
            Assert.True(root.GetProperty("connects").GetInt32() > 50, root.ToString());
            // Every call waited no longer than the daemon's absence, plus a scheduling margin on a loaded machine.
            Assert.True(root.GetProperty("worst_ms").GetDouble() < gaps.Max() + 5000, $"{root} gaps {string.Join(",", gaps)}");
        }
        finally
        {
            File.Delete(stop);
            client?.Dispose();
            server?.Dispose();
            await ax.DisposeAsync();
        }
    }

    [Theory]
    [InlineData("TERM")]
    [InlineData("KILL")]
    public async Task AConnectHeldForAMissingBackend_IsTakenUpByTheNextDaemon(string signal)
    {
        var ax = new AxEnvironment();
        await ax.InitializeAsync();
        ExternalProcess? server = null;
        try
        {
            var port = AxEnvironment.FreePort();
            var vip = signal == "TERM" ? "127.96.79.11" : "127.96.79.12";
            await ax.CreateRefAsync("restart-later", $"{vip}:7000", "ax.app=restart-later", null, "--wait", "60s");
            var client = ax.RunUnderAxAsync([], ["python3", Path.Combine(Programs, "client.py"), vip, "7000", "held"], TimeSpan.FromSeconds(90));
            await ax.WaitForHeldAsync("restart-later", 1, TimeSpan.FromSeconds(30));

            await ax.StopDaemonAsync(signal);
            await ax.StartDaemonAsync();
            // The parked call is parked again under the new daemon, from the keeper.
            await ax.WaitForHeldAsync("restart-later", 1, TimeSpan.FromSeconds(15));
            Assert.False(client.IsCompleted);

            server = ax.StartUnderAx(["--name", "restart-later"], ["python3", Path.Combine(Programs, "echo_server.py"), "127.0.0.1", port.ToString(), "late"]);
            var result = await client;
            Assert.True(result.ExitCode == 0, $"{result}\ndaemon: {ax.Daemon.Stderr}");
            Assert.Contains($"reply=late:held peer={vip}:7000", result.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            server?.Dispose();
            await ax.DisposeAsync();
        }
    }

    [Fact]
    public async Task AUdpExchangeAcrossARestart_GetsItsReplyFromTheVip()
    {
        var ax = new AxEnvironment();
        await ax.InitializeAsync();
        ExternalProcess? server = null;
        try
        {
            var port = AxEnvironment.FreePort();
            await ax.CreateRefAsync("restart-udp", "127.96.79.21:7000", "ax.app=restart-udp");
            // A UDP echo that answers only after a pause, so that the client's receive is held across the restart.
            server = ax.StartUnderAx(["--name", "restart-udp"], ["python3", Path.Combine(Programs, "udp_echo.py"), "127.0.0.1", port.ToString()]);
            await ax.WaitForServiceAsync(port, server);
            var client = ax.RunUnderAxAsync([], ["python3", Path.Combine(Programs, "udp_client.py"), "blocking", "127.96.79.21", "7000", "sleepy"], TimeSpan.FromSeconds(60));
            await Task.Delay(1000);
            var stderr = await ax.StopDaemonAsync();
            Assert.True(stderr.Contains("Suspended 2 applications for the next daemon", StringComparison.Ordinal),
                string.Join('\n', stderr.Split('\n').Where(l => l.Contains("Suspended", StringComparison.Ordinal) || l.Contains("app-", StringComparison.Ordinal)).TakeLast(30)));
            await ax.StartDaemonAsync();
            var result = await client;
            Assert.True(result.ExitCode == 0, $"{result}\ndaemon: {ax.Daemon.Stderr}");
            Assert.Contains("from 127.96.79.21 7000", result.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            server?.Dispose();
            await ax.DisposeAsync();
        }
    }

    [Fact]
    public async Task MeshRules_AreServedByTheNextDaemon_BeforeAnyAgentPushesAgain()
    {
        var ax = new AxEnvironment();
        await ax.InitializeAsync();
        ExternalProcess? server = null;
        try
        {
            var port = AxEnvironment.FreePort();
            server = ExternalProcess.Start("python3", [Path.Combine(Programs, "echo_server.py"), "127.0.0.1", port.ToString(), "meshed"]);
            await ax.UpdateMeshAsync(new MeshUpdateRequest
            {
                Replace = true,
                Version = "v1",
                Clusters = [new MeshClusterDto { Name = "restart-mesh", Endpoints = [new MeshEndpointDto { Address = "127.0.0.1", Port = port }] }],
                Services = [new MeshServiceDto { Key = "restart-mesh", Vip = "127.96.79.31:7000", Clusters = [new MeshWeightedClusterDto { Name = "restart-mesh", Weight = 100 }] }],
            });
            // An application keeps the keeper busy across the gap (without one, a keeper lingering 0 s would go).
            using var idle = ax.StartUnderAx(["--name", "restart-idle"], ["sleep", "60"]);
            await WaitForAppAsync(ax, "restart-idle");
            await ax.StopDaemonAsync();
            await ax.StartDaemonAsync();
            var mesh = await ax.AxAsync("get", "mesh", "-o", "json");
            Assert.True(mesh.Stdout.Contains("restart-mesh", StringComparison.Ordinal),
                $"{mesh.Stdout}\n{string.Join('\n', ax.Daemon.Stderr.Split('\n').Where(l => l.Contains("eeper", StringComparison.Ordinal) || l.Contains("estor", StringComparison.Ordinal)))}");
            var result = await ax.RunUnderAxAsync([], ["python3", Path.Combine(Programs, "client.py"), "127.96.79.31", "7000", "m"]);
            Assert.True(result.ExitCode == 0, $"{result}\ndaemon: {ax.Daemon.Stderr}");
            Assert.Contains("reply=meshed:m", result.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            server?.Dispose();
            await ax.DisposeAsync();
        }
    }

    [Fact]
    public async Task WithoutAKeeper_AStoppedDaemonLeavesTrappedCallsFailingWithEnosys()
    {
        var ax = new NoKeeperEnvironment();
        await ax.InitializeAsync();
        try
        {
            var gate = Path.Combine(Path.GetTempPath(), $"ax-nokeeper-{Guid.NewGuid():N}");
            var probe = ax.StartUnderAx([], ["python3", "-c",
                "import os,socket,sys,time\nwhile not os.path.exists(sys.argv[1]): time.sleep(0.02)\ntry:\n  socket.create_connection(('127.0.0.1', 9), timeout=5)\nexcept OSError as e:\n  print('errno', e.errno)", gate]);
            await WaitForAppAsync(ax, "python3");
            await ax.StopDaemonAsync();
            // The app had no keeper: its listener closed with the daemon.
            File.WriteAllText(gate, "");
            Assert.Equal(0, await probe.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            Assert.Contains("errno 38", probe.Stdout, StringComparison.Ordinal); // ENOSYS
        }
        finally
        {
            await ax.DisposeAsync();
        }
    }

    private static async Task WaitForAppAsync(AxEnvironment ax, string name)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!(await AppIdsAsync(ax)).Contains($"={name}", StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, $"{name} was not launched");
            await Task.Delay(50);
        }
    }

    private static async Task<string> AppIdsAsync(AxEnvironment ax)
    {
        var apps = await ax.AxAsync("get", "apps", "-o", "json");
        using var json = JsonDocument.Parse(apps.Stdout);
        return string.Join(",", json.RootElement.EnumerateArray().Select(a => $"{a.GetProperty("id").GetString()}={a.GetProperty("name").GetString()}").Order());
    }

    private sealed class NoKeeperEnvironment : AxEnvironment
    {
        protected override IReadOnlyList<string> DaemonArguments => ["--keeper", "off"];
    }
}
