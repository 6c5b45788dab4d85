using Istio.AppSwitch.Functional.Tests.Harness;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Functional.Tests;

/// <summary>A daemon that receives every application's notifications on its shared epoll reactor.</summary>
public sealed class ReactorEnvironment : AxEnvironment
{
    protected override IReadOnlyList<string> DaemonArguments => ["--seccomp-receive", "reactor"];
}

[CollectionDefinition(Name)]
public sealed class ReactorCollection : ICollectionFixture<ReactorEnvironment>
{
    public const string Name = "ax daemon with --seccomp-receive reactor";
}

/// <summary>
/// The other way of receiving notifications (`--seccomp-receive reactor`): every other functional test runs on the
/// default thread per application, so these keep the reactor's path honest with the same real programs: a blocking
/// python client, redis, and a static Go client whose 100 goroutines trap at once, with the server's accepts trapped
/// on the same reactor thread.
/// </summary>
[Collection(ReactorCollection.Name)]
public sealed class ReceiveModeTests(ReactorEnvironment ax)
{
    private static readonly string Programs = Path.Combine(AppContext.BaseDirectory, "Programs");

    [Fact]
    public async Task Reactor_RedisAndPythonAndGoClients_AreRedirectedThroughVips()
    {
        var redisPort = AxEnvironment.FreePort();
        using var redis = ax.StartUnderAx(["--labels", "app=redis-rx"],
            ["redis-server", "--port", redisPort.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        await ax.WaitForServiceAsync(redisPort, redis);
        await ax.CreateRefAsync("redis-rx", "127.96.7.1:6379", "app=redis-rx");

        var echoPort = AxEnvironment.FreePort();
        using var echo = ax.StartUnderAx(["--labels", "app=echo-rx"], ["python3", Path.Combine(Programs, "echo_server.py"), "127.0.0.1", echoPort.ToString(), "echo-rx"]);
        await echo.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));
        await ax.WaitForServiceAsync(echoPort, echo);
        await ax.CreateRefAsync("echo-rx", "127.96.7.2:7000", "app=echo-rx");
        var goClient = await GoPrograms.BuildAsync("goclient");

        var set = await ax.RunUnderAxAsync([], ["redis-cli", "-h", "127.96.7.1", "-p", "6379", "SET", "mode", "reactor"]);
        var get = await ax.RunUnderAxAsync([], ["redis-cli", "-h", "127.96.7.1", "-p", "6379", "GET", "mode"]);
        var python = await ax.RunUnderAxAsync([], ["python3", Path.Combine(Programs, "client.py"), "127.96.7.2", "7000", "ping"]);
        var go = await ax.RunUnderAxAsync([], [goClient, "127.96.7.2:7000", "100", "go"]);

        Assert.True(set.ExitCode == 0, set.ToString());
        Assert.Equal("reactor", get.Stdout.Trim());
        Assert.Equal("reply=echo-rx:ping peer=127.96.7.2:7000 nodelay=1", python.Stdout.Trim());
        Assert.True(go.ExitCode == 0, go.ToString());
        Assert.Contains("ok=100 failed=0", go.Stdout, StringComparison.Ordinal);
        Assert.Contains("peer=127.96.7.2:7000 count=100", go.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Daemon_UnknownReceiveMode_IsAUsageError()
    {
        var result = await ax.AxAsync("daemon", "--seccomp-receive", "threads");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("'threads' not recognized", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("per-app", result.Stderr, StringComparison.Ordinal);
    }
}
