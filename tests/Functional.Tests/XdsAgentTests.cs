using System.Text.Json;
using Istio.AppSwitch.Functional.Tests.Harness;
using Istio.AppSwitch.Tests.Common.Tools;
using Istio.AppSwitch.Tests.Common.Xds;
using Istio.AppSwitch.Xds.Resources;
using Istio.AppSwitch.Xds.Tests.Resources;
using static Istio.AppSwitch.Tests.Common.Xds.XdsTestResources;

namespace Istio.AppSwitch.Functional.Tests;

/// <summary>
/// End to end: a real ADS management server plays istiod, a real <c>ax daemon --pilot</c> (or a separate
/// <c>ax xds-agent</c>) follows it, and a real client under <c>ax run</c> connects to the VIP the listener names and
/// reaches the endpoint EDS names, then the next one after an EDS push. Every address is loopback.
/// </summary>
[Collection(AxCollection.Name)]
public sealed class XdsAgentTests : IAsyncLifetime
{
    private const string NodeId = "sidecar~127.0.0.5~client-1.default~default.svc.cluster.local";
    private static readonly string Programs = Path.Combine(AppContext.BaseDirectory, "Programs");
    private static readonly string Echo = Outbound("echo-e2e", 7000);

    private readonly string _directory = Directory.CreateTempSubdirectory("ax-xds-").FullName;
    private readonly List<ExternalProcess> _processes = [];
    private XdsManagementServer _server = null!;

    private string ApiSocket => Path.Combine(_directory, "ax.sock");

    public async Task InitializeAsync() => _server = await XdsManagementServer.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var process in Enumerable.Reverse(_processes))
        {
            process.Signal();
            try
            {
                await process.WaitForExitAsync(TimeSpan.FromSeconds(10));
            }
            catch (TimeoutException)
            {
                process.Kill();
            }

            process.Dispose();
        }

        await _server.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task DaemonWithPilot_EdsMovesTheEndpoint_NewConnectsReachTheNewServer()
    {
        var (first, second) = (await StartEchoAsync("srv-a"), await StartEchoAsync("srv-b"));
        var daemon = await StartDaemonAsync(["--pilot", $"127.0.0.1:{_server.Port}", "--node-id", NodeId]);

        await InitialPushAsync(first, delta: true);
        await WaitForEndpointAsync(first, daemon);
        var before = await ConnectAsync("127.96.5.1");

        await _server.PushAsync(XdsManagementServer.DeltaResponse(EndpointType, "e2", [(Echo, "e2", Endpoints(Echo, second, "127.0.0.1"))]));
        await WaitForEndpointAsync(second, daemon);
        var after = await ConnectAsync("127.96.5.1");

        Assert.Equal("reply=srv-a:ping peer=127.96.5.1:7000 nodelay=1", before);
        Assert.Equal("reply=srv-b:ping peer=127.96.5.1:7000 nodelay=1", after);
    }

    [Fact]
    public async Task SeparateAgentOverSotw_ProgramsTheDaemonThroughItsApi()
    {
        var port = await StartEchoAsync("srv-c");
        var daemon = await StartDaemonAsync([]);
        var agent = ExternalProcess.Start(AxEnvironment.AxPath,
            ["xds-agent", "--pilot", $"127.0.0.1:{_server.Port}", "--node-id", NodeId, "--sotw", "--api", ApiSocket]);
        _processes.Add(agent);

        await InitialPushAsync(port, delta: false);
        await WaitForEndpointAsync(port, daemon, agent);
        var reply = await ConnectAsync("127.96.5.1");

        Assert.Equal("reply=srv-c:ping peer=127.96.5.1:7000 nodelay=1", reply);
        Assert.Contains("xds-agent: applied replace", agent.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DaemonWithPilot_CorpusRoutesAndDestinationRule_DescribeNamesTheIstioResources()
    {
        // istioctl describe's testdata: route config http.8080 (every route from VirtualService default/bookinfo) and the
        // v1 subset cluster of DestinationRule default/productpage, pushed as istiod would, with loopback endpoints and
        // VIP listeners of this test's own (127.96.93.0/24). The test's own cluster is the one the routes name.
        var dump = ConfigDumpReader.Read(Corpus.ReadText(Corpus.RouteRetriesAndCluster));
        Assert.True(dump.Succeeded, string.Join("; ", dump.Errors));
        var subset = dump.DynamicClusters.Single().Resource;
        var routes = dump.DynamicRouteConfigurations.Single().Resource;
        const string productpage = "outbound|9080||productpage.default.svc.cluster.local";
        var port = await StartEchoAsync("productpage-v1");
        await StartDaemonAsync(["--pilot", $"127.0.0.1:{_server.Port}", "--node-id", NodeId]);

        await NextRequestAsync(ClusterType);
        await _server.PushAsync(XdsManagementServer.DeltaResponse(ClusterType, "c1", [(subset.Name, "c1", subset), (productpage, "c1", EdsCluster(productpage))]));
        await NextRequestAsync(EndpointType);
        await _server.PushAsync(XdsManagementServer.DeltaResponse(EndpointType, "e1",
            [(subset.Name, "e1", Endpoints(subset.Name, port, "127.0.0.1")), (productpage, "e1", Endpoints(productpage, port, "127.0.0.1"))]));
        await NextRequestAsync(ListenerType);
        var http = HttpListener("127.96.93.2_9080", 9080, routes.Name);
        http.Address.SocketAddress.Address = "127.96.93.2";
        await _server.PushAsync(XdsManagementServer.DeltaResponse(ListenerType, "l1",
            [("127.96.93.1_9080", "l1", TcpListener("127.96.93.1_9080", "127.96.93.1", 9080, subset.Name)), ("127.96.93.2_9080", "l1", http)]));
        await NextRequestAsync(RouteType);
        await _server.PushAsync(XdsManagementServer.DeltaResponse(RouteType, "r1", [(routes.Name, "r1", routes)]));

        var described = await DescribeWhenPresentAsync("127.96.93.1:9080");
        Assert.Contains("Istio resources: DestinationRule default/productpage\n", described, StringComparison.Ordinal);
        Assert.Contains("Mode:         fast", described, StringComparison.Ordinal);
        // The rule is live: a real client reaches the subset's endpoint through it.
        Assert.Equal("reply=productpage-v1:ping peer=127.96.93.1:9080 nodelay=1", await ConnectAsync("127.96.93.1", 9080));

        await DescribeWhenPresentAsync("127.96.93.2:9080");
        var json = await ExternalProcess.RunAsync(AxEnvironment.AxPath, ["describe", "ref", "127.96.93.2:9080", "-o", "json", "--api", ApiSocket], TimeSpan.FromSeconds(30));
        Assert.True(json.ExitCode == 0, json.ToString());
        using var document = JsonDocument.Parse(json.Stdout);
        var resource = Assert.Single(document.RootElement.GetProperty("istioResources").EnumerateArray());
        Assert.Equal("VirtualService", resource.GetProperty("kind").GetString());
        Assert.Equal("default", resource.GetProperty("namespace").GetString());
        Assert.Equal("bookinfo", resource.GetProperty("name").GetString());
        Assert.Equal("/apis/networking.istio.io/v1alpha3/namespaces/default/virtual-service/bookinfo", resource.GetProperty("raw").GetString());
        var yaml = await ExternalProcess.RunAsync(AxEnvironment.AxPath, ["describe", "ref", "127.96.93.2:9080", "-o", "yaml", "--api", ApiSocket], TimeSpan.FromSeconds(30));
        Assert.Contains("kind: VirtualService", yaml.Stdout, StringComparison.Ordinal);
    }

    // ax describe ref KEY, retried until the agent has pushed the service (the daemon answers 404 before).
    private async Task<string> DescribeWhenPresentAsync(string key)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var result = await ExternalProcess.RunAsync(AxEnvironment.AxPath, ["describe", "ref", key, "--api", ApiSocket], TimeSpan.FromSeconds(30));
            if (result.ExitCode == 0 && result.Stdout.Contains("Istio resources:", StringComparison.Ordinal))
            {
                return result.Stdout.ReplaceLineEndings("\n");
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"ax describe ref {key} never named its Istio resources: {result}");
            }

            await Task.Delay(100);
        }
    }

    private async Task<int> StartEchoAsync(string name)
    {
        var port = AxEnvironment.FreePort();
        var server = ExternalProcess.Start("python3", [Path.Combine(Programs, "echo_server.py"), "127.0.0.1", port.ToString(), name]);
        _processes.Add(server);
        await server.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));
        return port;
    }

    private async Task<ExternalProcess> StartDaemonAsync(string[] extra)
    {
        var daemon = ExternalProcess.Start(AxEnvironment.AxPath, ["daemon", "--api", ApiSocket, "--keeper-linger", "0s", .. extra]);
        _processes.Add(daemon);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!File.Exists(ApiSocket) || !File.Exists(ApiSocket + ".launch"))
        {
            if (daemon.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"ax daemon did not start.\n{daemon.Stderr}");
            }

            await Task.Delay(25);
        }

        return daemon;
    }

    // What istiod sends a new sidecar, in Envoy's order: CDS, EDS for the EDS clusters, LDS (one VIP listener).
    private async Task InitialPushAsync(int port, bool delta)
    {
        await NextRequestAsync(ClusterType);
        await PushAsync(delta, ClusterType, "c1", Echo, EdsCluster(Echo, connectTimeoutSeconds: 2));
        await NextRequestAsync(EndpointType);
        await PushAsync(delta, EndpointType, "e1", Echo, Endpoints(Echo, port, "127.0.0.1"));
        await NextRequestAsync(ListenerType);
        await PushAsync(delta, ListenerType, "l1", "127.96.5.1_7000", TcpListener("127.96.5.1_7000", "127.96.5.1", 7000, Echo));
    }

    private async Task NextRequestAsync(string typeUrl)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!_server.Requests.Any(r => r.TypeUrl == typeUrl))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"no {typeUrl} request; received:\n{string.Join("\n", _server.Requests)}");
            }

            await Task.Delay(20);
        }
    }

    private Task PushAsync(bool delta, string typeUrl, string version, string name, Google.Protobuf.IMessage resource) => delta
        ? _server.PushAsync(XdsManagementServer.DeltaResponse(typeUrl, version, [(name, version, resource)]))
        : _server.PushAsync(XdsManagementServer.SotwResponse(typeUrl, version, resource));

    /// <summary>Waits until <c>ax get mesh</c> shows the echo cluster's one endpoint on <paramref name="port"/>.</summary>
    private async Task WaitForEndpointAsync(int port, ExternalProcess daemon, ExternalProcess? agent = null)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        ProcessResult mesh;
        while (true)
        {
            mesh = await ExternalProcess.RunAsync(AxEnvironment.AxPath, ["get", "mesh", "-o", "json", "--api", ApiSocket], TimeSpan.FromSeconds(30));
            if (mesh.ExitCode == 0)
            {
                using var json = JsonDocument.Parse(mesh.Stdout);
                var ports = json.RootElement.GetProperty("clusters").EnumerateArray()
                    .Where(c => c.GetProperty("name").GetString() == Echo)
                    .SelectMany(c => c.GetProperty("endpoints").EnumerateArray()).Select(e => e.GetProperty("port").GetInt32()).ToList();
                if (ports.SequenceEqual([port]))
                {
                    return;
                }
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"the mesh never showed port {port}: {mesh}\ndaemon: {daemon.Stderr}\nagent: {agent?.Stderr}");
            }

            await Task.Delay(50);
        }
    }

    private async Task<string> ConnectAsync(string vip, int port = 7000)
    {
        var result = await ExternalProcess.RunAsync(AxEnvironment.AxPath,
            ["run", "--api", ApiSocket, "--", "python3", Path.Combine(Programs, "client.py"), vip, port.ToString(System.Globalization.CultureInfo.InvariantCulture), "ping"],
            TimeSpan.FromSeconds(60));
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Stdout.Trim();
    }
}
