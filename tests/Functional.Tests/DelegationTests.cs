using System.Text.Json;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Functional.Tests.Harness;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Functional.Tests;

/// <summary>A daemon of its own: a registered sidecar takes every chained connection of its daemon.</summary>
public sealed class DelegationEnvironment : AxEnvironment;

[CollectionDefinition(Name)]
public sealed class DelegationCollection : ICollectionFixture<DelegationEnvironment>
{
    public const string Name = "ax daemon with a delegation sidecar";
}

/// <summary>
/// Socket delegation round trips through a real sidecar process (docs/delegation.md): a python3 program that
/// registers over the daemon's API socket, receives live sockets with SCM_RIGHTS and a PROXY v2 header, and moves
/// the bytes itself. Outbound, the application's socket becomes one end of a socketpair; inbound, accept returns one.
/// The applications under ax are unchanged programs, blocking (python3) and nonblocking (node).
/// </summary>
[Collection(DelegationCollection.Name)]
public sealed class DelegationTests(DelegationEnvironment ax)
{
    private static readonly string Programs = Path.Combine(AppContext.BaseDirectory, "Programs");

    private ExternalProcess StartSidecar(int upstreamPort) => ExternalProcess.Start("python3",
        [Path.Combine(Programs, "test_sidecar.py"), ax.ApiSocket, "127.0.0.1", upstreamPort.ToString()]);

    [Fact]
    public async Task ChainedConnects_OutboundAndInbound_GoToTheSidecarAsLiveSockets()
    {
        var upstream = AxEnvironment.FreePort();
        var serverPort = AxEnvironment.FreePort();
        using var echo = ExternalProcess.Start("python3", [Path.Combine(Programs, "echo_server.py"), "127.0.0.1", upstream.ToString(), "up"]);
        await echo.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));
        await ax.UpdateMeshAsync(new MeshUpdateRequest
        {
            Clusters = [new MeshClusterDto { Name = "outbound|80||deleg", ConnectTimeout = "2s", Endpoints = [new MeshEndpointDto { Address = "127.0.0.1", Port = upstream }] }],
            Services =
            [
                new MeshServiceDto
                {
                    Key = "127.96.10.1:80", Vip = "127.96.10.1:80", Mode = "chain", Reasons = ["fault_injection"],
                    Clusters = [new MeshWeightedClusterDto { Name = "outbound|80||deleg" }],
                },
            ],
            Inbound = [new MeshInboundPortDto { Key = $"deleg:{serverPort}", Selector = "app=deleg-srv", Port = serverPort, Mode = "chain", Reasons = ["ext_authz"] }],
        });
        using var sidecar = StartSidecar(upstream);
        await sidecar.WaitForOutputAsync("registered", TimeSpan.FromSeconds(20));
        Assert.Contains("test-sidecar", await SidecarsAsync(), StringComparison.Ordinal);

        // Outbound: a blocking python client and a nonblocking node client, each to the chained VIP.
        var blocking = await ax.RunUnderAxAsync(["--name", "deleg-py"],
            ["python3", Path.Combine(Programs, "inbound_client.py"), "127.0.0.1", "127.96.10.1", "80", "one"]);
        var nonblocking = await ax.RunUnderAxAsync(["--name", "deleg-node"],
            ["node", Path.Combine(Programs, "client.js"), "127.96.10.1", "80", "two"]);
        Assert.True(blocking.ExitCode == 0, blocking.ToString());
        Assert.StartsWith("reply=up:one local=", blocking.Stdout.Trim(), StringComparison.Ordinal);
        Assert.True(nonblocking.ExitCode == 0, nonblocking.ToString());
        // getpeername on the application's end of the pair answers the VIP it asked for.
        Assert.Equal("reply=up:two peer=127.96.10.1:80", nonblocking.Stdout.Trim());
        await sidecar.WaitForOutputAsync("dst=127.96.10.1:80", TimeSpan.FromSeconds(10));
        Assert.Equal(2, sidecar.Stdout.Split('\n').Count(l => l.StartsWith("delegated outbound", StringComparison.Ordinal)));

        // Inbound: the server's accept returns its end of a pair; the client's socket went to the sidecar.
        using var server = ax.StartUnderAx(["--name", "deleg-srv", "--labels", "app=deleg-srv"],
            ["python3", Path.Combine(Programs, "inbound_server.py"), "127.0.0.1", serverPort.ToString(), "srv"]);
        await server.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));
        var client = await ExternalProcess.RunAsync("python3",
            [Path.Combine(Programs, "inbound_client.py"), "127.0.0.2", "127.0.0.1", serverPort.ToString(), "three"], TimeSpan.FromSeconds(30));
        Assert.StartsWith("reply=srv:three local=127.0.0.2:", client.Stdout.Trim(), StringComparison.Ordinal);
        var clientPort = client.Stdout.Trim().Split(':')[^1];
        await sidecar.WaitForOutputAsync($"delegated inbound", TimeSpan.FromSeconds(10));
        Assert.Contains($"src=127.0.0.2:{clientPort} dst=127.0.0.1:{serverPort}", sidecar.Stdout, StringComparison.Ordinal);
        // accept() and getpeername() on the pair's end both name the real client.
        Assert.Contains($"accepted 127.0.0.2:{clientPort} getpeername=127.0.0.2:{clientPort}", server.Stdout, StringComparison.Ordinal);
        Assert.Equal(1, (await ax.AppCountersAsync("deleg-srv")).GetProperty("delegated").GetInt64());

        // Without the sidecar, a chained inbound connection is denied again, never allowed.
        sidecar.Kill();
        await WaitUntilAsync(async () => !(await SidecarsAsync()).Contains("test-sidecar", StringComparison.Ordinal));
        var after = await ExternalProcess.RunAsync("python3",
            [Path.Combine(Programs, "inbound_client.py"), "127.0.0.2", "127.0.0.1", serverPort.ToString(), "four"], TimeSpan.FromSeconds(30));
        Assert.Equal("reset", after.Stdout.Trim());
    }

    [Fact]
    public async Task AxProxy_UnderAx_DropsByLabelAndPort_AndTakesTheRestDirect_ThroughTheProxysOwnFastConnect()
    {
        var upstream = AxEnvironment.FreePort();
        using var echo = ExternalProcess.Start("python3", [Path.Combine(Programs, "echo_server.py"), "127.0.0.1", upstream.ToString(), "up"]);
        await echo.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));
        MeshServiceDto Chained(string vip) => new()
        {
            Key = vip,
            Vip = vip,
            Mode = "chain",
            Reasons = ["header_mutation"],
            DnsNames = ["echo.default.svc.cluster.local"],
            Clusters = [new MeshWeightedClusterDto { Name = "outbound|80||axproxy" }],
        };
        await ax.UpdateMeshAsync(new MeshUpdateRequest
        {
            Clusters = [new MeshClusterDto { Name = "outbound|80||axproxy", ConnectTimeout = "2s", Endpoints = [new MeshEndpointDto { Address = "127.0.0.1", Port = upstream }] }],
            Services = [Chained("127.96.10.2:80"), Chained("127.96.10.2:81")],
        });
        var directory = Directory.CreateTempSubdirectory("ax-proxy-").FullName;
        try
        {
            var config = Path.Combine(directory, "proxy.json");
            await File.WriteAllTextAsync(config, """
                {"plugins": [
                  {"type": "drop", "match": {"port": 81}},
                  {"type": "drop", "match": {"labels": {"team": "untrusted"}}},
                  {"type": "direct"}
                ]}
                """);
            // ax proxy runs under ax itself: its direct connect to the VIP is resolved by ax to the endpoint (the
            // registered sidecar's own connects are never delegated back to it).
            using var proxy = ax.StartUnderAx(["--name", "ax-proxy"],
                [AxEnvironment.AxPath, "proxy", "--api", ax.ApiSocket, "--config", config, "--directions", "outbound"]);
            await proxy.WaitForOutputAsync("registered with", TimeSpan.FromSeconds(30));

            var direct = await ax.RunUnderAxAsync(["--name", "axp-ok", "--labels", "team=web"],
                ["node", Path.Combine(Programs, "client.js"), "127.96.10.2", "80", "hi"]);
            var droppedByPort = await ax.RunUnderAxAsync(["--name", "axp-port", "--labels", "team=web"],
                ["python3", Path.Combine(Programs, "inbound_client.py"), "127.0.0.1", "127.96.10.2", "81", "no"]);
            var droppedByLabel = await ax.RunUnderAxAsync(["--name", "axp-label", "--labels", "team=untrusted"],
                ["python3", Path.Combine(Programs, "inbound_client.py"), "127.0.0.1", "127.96.10.2", "80", "no"]);

            Assert.True(direct.ExitCode == 0, $"{direct}\nproxy: {proxy.Output}");
            Assert.Equal("reply=up:hi peer=127.96.10.2:80", direct.Stdout.Trim());
            Assert.Contains(droppedByPort.Stdout.Trim(), new[] { "eof", "reset" });
            Assert.Contains(droppedByLabel.Stdout.Trim(), new[] { "eof", "reset" });
            var proxyCounters = await ax.AppCountersAsync("ax-proxy");
            Assert.Equal(1, proxyCounters.GetProperty("redirected").GetInt64());
            Assert.Equal(0, proxyCounters.GetProperty("delegated").GetInt64());
            proxy.Signal();
            await proxy.WaitForExitAsync(TimeSpan.FromSeconds(10));
            await WaitUntilAsync(async () => !(await SidecarsAsync()).Contains("ax-proxy", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task InboundChainPortWithAnL7Rule_DelegatedWithWhatThePeekSaw()
    {
        var port = AxEnvironment.FreePort();
        // An L7 rule on a chained port: ax peeks at the request, decides the RBAC, and hands the connection on with the
        // detected protocol and the authority in the metadata.
        await ax.ProgramInboundAsync("app=deleg-l7", port, """
            {"engines": [{"action": "allow", "policies": [{"name": "site", "permissions": [{"urlPath": {"path": {"prefix": "/"}}}], "principals": [{"any": true}]}]}]}
            """, mode: "chain");
        var root = Directory.CreateTempSubdirectory("ax-deleg-l7-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(root, "ok.txt"), "fine\n");
            using var server = ax.StartUnderAx(["--name", "deleg-l7", "--labels", "app=deleg-l7"],
                ["python3", "-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", root, port.ToString()]);
            await ax.WaitForServiceAsync(port, server);
            using var sidecar = StartSidecar(AxEnvironment.FreePort());
            await sidecar.WaitForOutputAsync("registered", TimeSpan.FromSeconds(20));

            var ok = await ExternalProcess.RunAsync("curl", ["-sS", "--max-time", "10", "-H", "Host: shop.example", $"http://127.0.0.1:{port}/ok.txt"], TimeSpan.FromSeconds(30));

            Assert.True(ok.ExitCode == 0, $"{ok}\nsidecar: {sidecar.Output}");
            Assert.Equal("fine\n", ok.Stdout);
            await sidecar.WaitForOutputAsync($"dst=127.0.0.1:{port} protocol=http/1.1 authority=shop.example", TimeSpan.FromSeconds(10));
            sidecar.Kill();
            await WaitUntilAsync(async () => !(await SidecarsAsync()).Contains("test-sidecar", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary><c>ax get sidecars -o json</c>.</summary>
    private async Task<string> SidecarsAsync() => (await ax.AxAsync("get", "sidecars", "-o", "json")).Stdout;

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(50);
        }
    }
}
