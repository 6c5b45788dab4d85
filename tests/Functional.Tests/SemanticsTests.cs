using Istio.AppSwitch.Functional.Tests.Harness;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Functional.Tests;

/// <summary>
/// What an application under ax must not be able to tell apart from the kernel: blocking semantics, timeouts,
/// and that one slow call holds up no other.
/// </summary>
[Collection(AxCollection.Name)]
public sealed class SemanticsTests(AxEnvironment ax)
{
    private static readonly string Programs = Path.Combine(AppContext.BaseDirectory, "Programs");

    [Fact]
    public async Task SlowBlockingConnect_DoesNotHoldUpAnotherThreadsConnect_AndEndsAtItsSendTimeout()
    {
        // The slow backend: registered through its listen, but its accept queue is full, so SYNs are dropped.
        var slowPort = AxEnvironment.FreePort();
        using var slow = ax.StartUnderAx(["--labels", "app=slow-s1"], ["python3", Path.Combine(Programs, "full_backlog_server.py"), slowPort.ToString()]);
        await slow.WaitForOutputAsync("queue full", TimeSpan.FromSeconds(20));
        await ax.WaitForServiceAsync(slowPort, slow);
        // TCP: a connect switched to a Unix socket pair completes whatever the server's accept backlog (docs/unix-switch.md).
        await ax.CreateRefAsync("slow-s1", "127.96.2.1:80", "app=slow-s1", null, "--no-unix");

        var fastPort = AxEnvironment.FreePort();
        using var fast = ax.StartUnderAx(["--labels", "app=fast-s1"], ["python3", Path.Combine(Programs, "echo_server.py"), "127.0.0.1", fastPort.ToString(), "f"]);
        await ax.WaitForServiceAsync(fastPort, fast);
        await ax.CreateRefAsync("fast-s1", "127.96.2.2:80", "app=fast-s1");

        var result = await ax.RunUnderAxAsync([], ["python3", Path.Combine(Programs, "slow_and_fast.py"), "127.96.2.1", "80", "127.96.2.2", "80"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        var fields = result.Stdout.Trim().Split(' ').Select(f => f.Split('=')).ToDictionary(f => f[0], f => f[1]);
        Assert.Equal("f:fast", fields["fast"]);
        Assert.Equal("True", fields["slow_pending_when_fast_done"]);
        Assert.True(double.Parse(fields["fast_s"], System.Globalization.CultureInfo.InvariantCulture) < 1.5, result.Stdout);
        // SO_SNDTIMEO (2 s) ends a blocking connect with EINPROGRESS, under ax as in the kernel.
        Assert.Equal("BlockingIOError", fields["slow"]);
        var slowSeconds = double.Parse(fields["slow_s"], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(slowSeconds, 1.9, 4.0);
    }

    [Fact]
    public async Task RefWithClientsSelector_AppliesOnlyToMatchingClients()
    {
        var port = AxEnvironment.FreePort();
        using var server = ax.StartUnderAx(["--labels", "app=echo-s2"], ["python3", Path.Combine(Programs, "echo_server.py"), "127.0.0.1", port.ToString(), "s2"]);
        await ax.WaitForServiceAsync(port, server);
        await ax.CreateRefAsync("echo-s2", "127.96.2.3:7000", "app=echo-s2", clients: "role=frontend");

        var frontend = await ax.RunUnderAxAsync(["--labels", "role=frontend"], ["python3", Path.Combine(Programs, "client.py"), "127.96.2.3", "7000", "x"]);
        var other = await ax.RunUnderAxAsync(["--labels", "role=batch"], ["python3", Path.Combine(Programs, "client.py"), "127.96.2.3", "7000", "x"]);

        Assert.True(frontend.ExitCode == 0, frontend.ToString());
        Assert.StartsWith("reply=s2:x", frontend.Stdout, StringComparison.Ordinal);
        // Not a client of the ref: its connect goes to the VIP itself, where nothing listens.
        Assert.NotEqual(0, other.ExitCode);
        Assert.Contains("ConnectionRefusedError", other.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetApps_ShowsTheRunningApplicationWithItsSystemLabels()
    {
        using var app = ax.StartUnderAx(["--name", "sleeper-s3", "--labels", "team=core"], ["sleep", "30"]);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        ProcessResult apps;
        do
        {
            apps = await ax.AxAsync("get", "apps", "-o", "json");
            if (apps.Stdout.Contains("sleeper-s3", StringComparison.Ordinal))
            {
                break;
            }
            await Task.Delay(50);
        }
        while (DateTime.UtcNow < deadline);

        Assert.Contains("\"team\": \"core\"", apps.Stdout, StringComparison.Ordinal);
        Assert.Contains("\"ax.app\": \"sleeper-s3\"", apps.Stdout, StringComparison.Ordinal);
        Assert.Contains("\"ax.user\": \"root\"", apps.Stdout, StringComparison.Ordinal);
        Assert.Contains("\"ax.host\"", apps.Stdout, StringComparison.Ordinal);
        Assert.Contains($"\"pid\": {app.Id}", apps.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetApps_CountsTheAppsRedirectedRefusedAndPassthroughConnects()
    {
        // Port 0: the kernel picks, and the server prints what it got.
        using var server = ax.StartUnderAx(["--labels", "app=echo-s4"], ["python3", Path.Combine(Programs, "echo_server.py"), "127.0.0.1", "0", "s4"]);
        await server.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));
        var port = int.Parse(server.Stdout.Split(':')[1].Trim(), System.Globalization.CultureInfo.InvariantCulture);
        await ax.WaitForServiceAsync(port, server);
        await ax.CreateRefAsync("echo-s4", "127.96.2.4:7000", "app=echo-s4");
        await ax.CreateRefAsync("nobody-s4", "127.96.2.5:7000", "app=nobody-s4", null, "--wait", "0");
        var client = Path.Combine(Programs, "client.py");

        // Two redirected connects, one refused (no backend), one left to the kernel; then the app stays up.
        using var app = ax.StartUnderAx(["--name", "counted-s4"], ["sh", "-c",
            $"python3 {client} 127.96.2.4 7000 a; python3 {client} 127.96.2.4 7000 b; python3 {client} 127.96.2.5 7000 c; " +
            $"python3 {client} 127.0.0.1 {port} d; echo done; sleep 30"]);
        await app.WaitForOutputAsync("done", TimeSpan.FromSeconds(30));

        var apps = await ax.AxAsync("get", "apps", "-o", "json");
        using var document = System.Text.Json.JsonDocument.Parse(apps.Stdout);
        var counted = document.RootElement.EnumerateArray().Single(a => a.GetProperty("name").GetString() == "counted-s4");
        var connects = counted.GetProperty("connects");
        Assert.Equal(2, connects.GetProperty("redirected").GetInt64());
        Assert.Equal(1, connects.GetProperty("refused").GetInt64());
        Assert.True(connects.GetProperty("passthrough").GetInt64() >= 1, apps.Stdout);
        Assert.Equal(0, connects.GetProperty("failed").GetInt64());
        var table = await ax.AxAsync("get", "apps");
        Assert.Matches(@"counted-s4 .* 2 +1 ", table.Stdout);
    }
}
