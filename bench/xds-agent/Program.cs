using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Threading.Channels;
using Envoy.Config.Core.V3;
using Google.Protobuf;
using Istio.AppSwitch.Bench.Translation;
using Istio.AppSwitch.Daemon;
using Istio.AppSwitch.Tests.Common.Xds;
using Istio.AppSwitch.Xds.Sidecar;
using Istio.AppSwitch.XdsAgent;
using Istio.AppSwitch.XdsAgent.Sinks;
using Microsoft.Extensions.Logging;
using static Istio.AppSwitch.Tests.Common.Xds.XdsTestResources;
using SocketAddress = Envoy.Config.Core.V3.SocketAddress;

// Usage: XdsAgent.Bench [services] [endpoints] [changes] [inprocess|api]
// The latency of one EDS change: from just before the management server writes the DeltaDiscoveryResponse to the
// moment the sink returned (MeshStore.Apply returned, or the daemon answered POST /v1/mesh), as the agent stamps it.
var services = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1000;
var endpoints = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : services * 5;
const int Warmup = 40;
var changes = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 50;
var mode = args.Length > 3 ? args[3] : "inprocess";

var input = SyntheticMesh.Create(services, endpoints);
await using var server = await XdsManagementServer.StartAsync();
var directory = Directory.CreateTempSubdirectory("ax-bench-xds-").FullName;
await using var daemon = DaemonHost.Create(new DaemonOptions
{
    ApiSocketPath = Path.Combine(directory, "ax.sock"),
    HandleSignals = false,
    MinimumLogLevel = LogLevel.Warning,
});
await daemon.StartAsync();
using var api = mode == "api" ? new ApiMeshSink(daemon.Options.ApiSocketPath) : null;
IMeshSink sink = api is not null ? api : new InProcessMeshSink(daemon.Mesh);

var pushes = Channel.CreateUnbounded<MeshPushResult>();
await using var agent = new XdsAgent(
    new XdsAgentOptions
    {
        Pilot = PilotConnectionOptions.Parse($"127.0.0.1:{server.Port}"),
        Node = new XdsNodeOptions
        {
            Id = SidecarNodeId.Create(IPAddress.Parse("127.0.0.5"), "bench-1", "default"),
            ClusterId = "Kubernetes",
            IstioVersion = "1.24.0",
            ServiceAccount = "bench",
        },
        OnPushed = result => pushes.Writer.TryWrite(result),
    },
    sink);
agent.Start();

// The initial sync, in Envoy's order.
await WaitForRequestAsync(ClusterType);
await server.PushAsync(XdsManagementServer.DeltaResponse(ClusterType, "c1", input.Clusters.Select(c => (c.Name, "1", (IMessage)c))));
await WaitForRequestAsync(EndpointType);
await server.PushAsync(XdsManagementServer.DeltaResponse(EndpointType, "e1", input.Endpoints.Select(e => (e.ClusterName, "1", (IMessage)e))));
await WaitForRequestAsync(ListenerType);
await server.PushAsync(XdsManagementServer.DeltaResponse(ListenerType, "l1", input.Listeners.Select(l => (l.Name, "1", (IMessage)l))));
if (input.RouteConfigurations.Count > 0)
{
    await WaitForRequestAsync(RouteType);
    await server.PushAsync(XdsManagementServer.DeltaResponse(RouteType, "r1", input.RouteConfigurations.Select(r => (r.Name, "1", (IMessage)r))));
}

// The agent waits for every route config an HTTP listener names, so the initial sync is one push.
var initial = await pushes.Reader.ReadAsync();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"mesh: {services} services, {endpoints} endpoints; sink {sink.Description}; initial sync: {daemon.Mesh.Describe().Services.Count} services, {daemon.Mesh.Describe().Clusters.Count} clusters, {initial.Elapsed.TotalMilliseconds:F1} ms in the agent"));

// Each change moves one endpoint of one cluster (a pod replaced), a different cluster each time.
var latencies = new List<double>();
var inAgent = new List<double>();
var random = new Random(1);
var assignments = input.Endpoints.ToList();
for (var i = 0; i < changes + Warmup; i++)
{
    var assignment = assignments[random.Next(assignments.Count)].Clone();
    var endpoint = assignment.Endpoints[0].LbEndpoints[0].Endpoint;
    endpoint.Address = new Address { SocketAddress = new SocketAddress { Address = $"10.200.{i / 250}.{i % 250}", PortValue = endpoint.Address.SocketAddress.PortValue } };
    var sent = Stopwatch.GetTimestamp();
    await server.PushAsync(XdsManagementServer.DeltaResponse(EndpointType, $"e{i + 2}", [(assignment.ClusterName, $"{i + 2}", assignment)]));
    var result = await pushes.Reader.ReadAsync();
    if (result.ClusterUpserts != 1 || result.ServiceUpserts != 0)
    {
        throw new InvalidOperationException($"expected one cluster upsert, got {result}");
    }

    // The first changes run code the JIT has not optimized yet; a daemon that runs for hours does not.
    if (i >= Warmup)
    {
        latencies.Add(Stopwatch.GetElapsedTime(sent, result.CompletedTimestamp).TotalMilliseconds);
        inAgent.Add(result.Elapsed.TotalMilliseconds);
    }
}

latencies.Sort();
inAgent.Sort();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"one EDS change applied, over {latencies.Count} changes: median {Percentile(latencies, 0.5):F2} ms, p99 {Percentile(latencies, 0.99):F2} ms, min {latencies[0]:F2} ms, max {latencies[^1]:F2} ms"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"  of which in the agent (consistent snapshot to the sink's answer): median {Percentile(inAgent, 0.5):F2} ms, p99 {Percentile(inAgent, 0.99):F2} ms"));
await agent.StopAsync();
Directory.Delete(directory, recursive: true);
return 0;

static double Percentile(List<double> sorted, double p) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

async Task WaitForRequestAsync(string typeUrl)
{
    while (!server.Requests.Any(r => r.TypeUrl == typeUrl))
    {
        await Task.Delay(5);
    }
}
