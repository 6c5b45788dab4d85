using System.Text.Json;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Functional.Tests.Harness;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Functional.Tests;

/// <summary>
/// Mesh rules (what the xds-agent programs through <c>POST /v1/mesh</c>) followed by real programs: a connect to a
/// mesh VIP goes to an endpoint of the service's cluster, a refused endpoint is retried on another inside the same
/// call, outlier detection ejects it, and the connection slots come back when the connections close. The endpoints
/// are plain servers on 127.0.0.1, not under ax: EDS endpoints are addresses, not registry services.
/// </summary>
[Collection(AxCollection.Name)]
public sealed class MeshRoutingTests(AxEnvironment ax)
{
    private static readonly string Programs = Path.Combine(AppContext.BaseDirectory, "Programs");

    private static MeshClusterDto Cluster(string name, int[] ports, int consecutiveFailures = 1) => new()
    {
        Name = name,
        ConnectTimeout = "2s",
        OutlierDetection = new MeshOutlierDetectionDto { ConsecutiveFailures = consecutiveFailures, BaseEjectionTime = "30s", MaxEjectionPercent = 50 },
        Endpoints = [.. ports.Select(p => new MeshEndpointDto { Address = "127.0.0.1", Port = p })],
    };

    private async Task<MeshUpdateResponse> ApplyAsync(MeshUpdateRequest request)
    {
        using var client = new AxApiClient(ax.ApiSocket);
        return await client.UpdateMeshAsync(request);
    }

    private async Task<MeshStateDto> MeshAsync()
    {
        using var client = new AxApiClient(ax.ApiSocket);
        return await client.GetMeshAsync();
    }

    private static ExternalProcess Echo(int port, string name) =>
        ExternalProcess.Start("python3", [Path.Combine(Programs, "echo_server.py"), "127.0.0.1", port.ToString(), name]);

    private static Task WaitListeningAsync(ExternalProcess server) => server.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));

    [Fact]
    public async Task Mesh_BlockingAndNonblockingClients_ReachEveryLiveEndpoint_AndARefusedOneIsRetriedInTheSameCall()
    {
        var (p1, p2, dead) = (AxEnvironment.FreePort(), AxEnvironment.FreePort(), AxEnvironment.FreePort());
        using var one = Echo(p1, "one");
        using var two = Echo(p2, "two");
        await WaitListeningAsync(one);
        await WaitListeningAsync(two);
        // The dead endpoint comes first, so round robin's first pick is refused: the client must not notice.
        await ApplyAsync(new MeshUpdateRequest
        {
            Version = "retry-1",
            Clusters = [Cluster("outbound|7000||echo-retry", [dead, p1, p2], consecutiveFailures: 1)],
            Services = [new MeshServiceDto { Key = "127.96.7.1:7000", Vip = "127.96.7.1:7000", ConnectRetries = 2, Clusters = [new MeshWeightedClusterDto { Name = "outbound|7000||echo-retry" }] }],
        });

        var replies = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var blocking = await ax.RunUnderAxAsync([], ["python3", Path.Combine(Programs, "client.py"), "127.96.7.1", "7000", $"b{i}"]);
            Assert.True(blocking.ExitCode == 0, blocking.ToString());
            Assert.Contains("peer=127.96.7.1:7000", blocking.Stdout, StringComparison.Ordinal);
            replies.Add(blocking.Stdout);
            var nonblocking = await ax.RunUnderAxAsync([], ["node", Path.Combine(Programs, "client.js"), "127.96.7.1", "7000", $"n{i}"]);
            Assert.True(nonblocking.ExitCode == 0, nonblocking.ToString());
            replies.Add(nonblocking.Stdout);
        }
        Assert.Contains(replies, r => r.Contains("reply=one:", StringComparison.Ordinal));
        Assert.Contains(replies, r => r.Contains("reply=two:", StringComparison.Ordinal));

        var cluster = (await MeshAsync()).Clusters.Single(c => c.Name == "outbound|7000||echo-retry");
        var deadEndpoint = cluster.Endpoints!.Single(e => e.Port == dead);
        Assert.True(deadEndpoint.Ejected == true || deadEndpoint.ConsecutiveFailures > 0, JsonSerializer.Serialize(cluster));
    }

    [Fact]
    public async Task Mesh_BackendKilledMidRun_NoConnectFails_AndItIsEjected()
    {
        var (p1, p2) = (AxEnvironment.FreePort(), AxEnvironment.FreePort());
        using var one = Echo(p1, "one");
        using var two = Echo(p2, "two");
        await WaitListeningAsync(one);
        await WaitListeningAsync(two);
        await ApplyAsync(new MeshUpdateRequest
        {
            Version = "killed-1",
            Clusters = [Cluster("outbound|7000||echo-killed", [p1, p2], consecutiveFailures: 1)],
            Services = [new MeshServiceDto { Key = "127.96.78.20:7000", Vip = "127.96.78.20:7000", ConnectRetries = 2, Clusters = [new MeshWeightedClusterDto { Name = "outbound|7000||echo-killed" }] }],
        });
        var gate = Path.Combine(Path.GetTempPath(), $"ax-mesh-gate-{Guid.NewGuid():N}");

        using var loop = ax.StartUnderAx([], ["python3", Path.Combine(Programs, "mesh_loop.py"), "127.96.78.20", "7000", "300", gate]);
        await loop.WaitForOutputAsync("paused", TimeSpan.FromSeconds(60));
        two.Kill(); // between two connects: no exchange is cut, so every failure would be the mesh's
        await two.WaitForExitAsync(TimeSpan.FromSeconds(10));
        await File.WriteAllTextAsync(gate, "");
        var exit = await loop.WaitForExitAsync(TimeSpan.FromSeconds(120));
        File.Delete(gate);

        Assert.True(exit == 0, $"exit {exit}: {loop.Stdout}\n{loop.Stderr}");
        var lines = loop.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains("failures 0", lines);
        var before = lines.Single(l => l.StartsWith("before ", StringComparison.Ordinal));
        Assert.Contains("one=", before, StringComparison.Ordinal);
        Assert.Contains("two=", before, StringComparison.Ordinal);
        Assert.Equal("after one=200", lines.Single(l => l.StartsWith("after ", StringComparison.Ordinal)));

        // The first connect that picked the dead endpoint was refused, retried on "one" in the same call, and ejected it.
        var cluster = (await MeshAsync()).Clusters.Single(c => c.Name == "outbound|7000||echo-killed");
        Assert.True(cluster.Endpoints!.Single(e => e.Port == p2).Ejected == true, JsonSerializer.Serialize(cluster));
    }

    [Fact]
    public async Task Mesh_Blackhole_RefusesAtOnce_AndPassthroughLeavesTheConnectAlone()
    {
        var port = AxEnvironment.FreePort();
        using var direct = Echo(port, "direct");
        await WaitListeningAsync(direct);
        await ApplyAsync(new MeshUpdateRequest
        {
            Services =
            [
                new MeshServiceDto { Key = "127.96.7.2:7000", Vip = "127.96.7.2:7000", Mode = "blackhole" },
                new MeshServiceDto { Key = $"127.0.0.1:{port}", Vip = $"127.0.0.1:{port}", Mode = "passthrough" },
            ],
        });

        var refused = await ax.RunUnderAxAsync([], ["python3", Path.Combine(Programs, "client.py"), "127.96.7.2", "7000", "x"]);
        var passed = await ax.RunUnderAxAsync([], ["python3", Path.Combine(Programs, "client.py"), "127.0.0.1", port.ToString(), "y"]);

        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("ConnectionRefusedError", refused.Stderr, StringComparison.Ordinal);
        Assert.True(passed.ExitCode == 0, passed.ToString());
        Assert.Contains("reply=direct:y", passed.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mesh_OpenConnections_CountAgainstTheCircuitBreaker_UntilTheyClose()
    {
        var port = AxEnvironment.FreePort();
        using var server = Echo(port, "cb");
        await WaitListeningAsync(server);
        await ApplyAsync(new MeshUpdateRequest
        {
            Clusters = [new MeshClusterDto { Name = "outbound|7000||echo-cb", MaxConnections = 1, Endpoints = [new MeshEndpointDto { Address = "127.0.0.1", Port = port }] }],
            Services = [new MeshServiceDto { Key = "127.96.7.3:7000", Vip = "127.96.7.3:7000", Clusters = [new MeshWeightedClusterDto { Name = "outbound|7000||echo-cb" }] }],
        });

        // One client keeps its connection open; a second one is over max_connections and is refused.
        using var holder = ax.StartUnderAx([], ["python3", "-c",
            "import socket,time,sys; s=socket.create_connection(('127.96.7.3',7000)); print('open', flush=True); sys.stdin.readline()"]);
        await holder.WaitForOutputAsync("open", TimeSpan.FromSeconds(20));
        var endpoint = (await MeshAsync()).Clusters.Single(c => c.Name == "outbound|7000||echo-cb").Endpoints!.Single();
        Assert.Equal(1, endpoint.ActiveConnections);
        var over = await ax.RunUnderAxAsync([], ["python3", Path.Combine(Programs, "client.py"), "127.96.7.3", "7000", "over"]);
        Assert.Contains("ConnectionRefusedError", over.Stderr, StringComparison.Ordinal);

        holder.Kill();
        // The daemon learns of the close from its socket sweep (every 2 s).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while ((await MeshAsync()).Clusters.Single(c => c.Name == "outbound|7000||echo-cb").Endpoints!.Single().ActiveConnections != 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the closed connection's slot never came back");
            await Task.Delay(200);
        }
        var after = await ax.RunUnderAxAsync([], ["python3", Path.Combine(Programs, "client.py"), "127.96.7.3", "7000", "after"]);
        Assert.True(after.ExitCode == 0, after.ToString());
        Assert.Contains("reply=cb:after", after.Stdout, StringComparison.Ordinal);
    }
}
