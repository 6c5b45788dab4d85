using System.Collections.Immutable;
using System.Net;
using System.Threading.Channels;
using Google.Protobuf;
using Istio.AppSwitch.Daemon;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Tests.Common.Xds;
using Istio.AppSwitch.Xds.Ads;
using Istio.AppSwitch.Xds.Sidecar;
using Istio.AppSwitch.XdsAgent.Sinks;
using Microsoft.Extensions.Logging;
using static Istio.AppSwitch.Tests.Common.Xds.XdsTestResources;

namespace Istio.AppSwitch.XdsAgent.Tests;

/// <summary>
/// A real ADS management server, a real daemon in this process (REST API on a Unix socket), and an agent between
/// them that programs the daemon over its API, as <c>ax xds-agent --api</c> does. The server plays istiod: it keeps
/// the resources of each type and sends them as Delta changes or SotW full sets.
/// </summary>
internal sealed class AgentHarness : IAsyncDisposable
{
    public static readonly string EchoA = Outbound("echo-a", 7000);
    public static readonly string EchoB = Outbound("echo-b", 7000);
    public const string ListenerA = "127.96.0.1_7000";
    public const string ListenerB = "127.96.0.2_7000";
    public const string ListenerGhost = "127.96.0.3_7000";

    private readonly Dictionary<string, SortedDictionary<string, IMessage>> _state = new(StringComparer.Ordinal);
    private readonly Channel<MeshPushResult> _pushes = Channel.CreateUnbounded<MeshPushResult>();
    private readonly string _directory;
    private int _stream;

    private AgentHarness(AdsVariant variant, XdsManagementServer server, DaemonHost daemon, string directory, TimeSpan? doesNotExistTimeout)
    {
        Variant = variant;
        Server = server;
        Daemon = daemon;
        _directory = directory;
        Api = new AxApiClient(daemon.Options.ApiSocketPath);
        Sink = new ApiMeshSink(daemon.Options.ApiSocketPath);
        Agent = new XdsAgent(
            new XdsAgentOptions
            {
                Pilot = PilotConnectionOptions.Parse($"127.0.0.1:{server.Port}"),
                Node = new XdsNodeOptions
                {
                    Id = SidecarNodeId.Create(IPAddress.Parse("127.0.0.5"), "client-5d8f7c9b4-x2x7q", "default"),
                    ClusterId = "Kubernetes",
                    IstioVersion = "1.24.0",
                    ServiceAccount = "client",
                    Labels = ImmutableSortedDictionary<string, string>.Empty.Add("app", "client"),
                },
                Variant = variant,
                PilotBackoff = new XdsBackoffOptions(TimeSpan.FromMilliseconds(50), 2, TimeSpan.FromMilliseconds(400)),
                SinkBackoff = new XdsBackoffOptions(TimeSpan.FromMilliseconds(50), 2, TimeSpan.FromMilliseconds(400)),
                OnPushed = result => _pushes.Writer.TryWrite(result),
                DoesNotExistTimeout = doesNotExistTimeout ?? TimeSpan.FromSeconds(15),
            },
            Sink);
    }

    public AdsVariant Variant { get; }

    public XdsManagementServer Server { get; }

    public DaemonHost Daemon { get; }

    public AxApiClient Api { get; }

    public ApiMeshSink Sink { get; }

    public XdsAgent Agent { get; }

    public static async Task<AgentHarness> StartAsync(AdsVariant variant, TimeSpan? doesNotExistTimeout = null)
    {
        var directory = Directory.CreateTempSubdirectory("axa-").FullName;
        var daemon = DaemonHost.Create(new DaemonOptions
        {
            ApiSocketPath = Path.Combine(directory, "ax.sock"),
            HandleSignals = false,
            MinimumLogLevel = LogLevel.Warning,
        });
        await daemon.StartAsync();
        var server = await XdsManagementServer.StartAsync();
        var harness = new AgentHarness(variant, server, daemon, directory, doesNotExistTimeout);
        harness.Agent.Start();
        return harness;
    }

    /// <summary>
    /// Answers the agent's first requests as istiod does: CDS (two EDS clusters), EDS for them, LDS (a VIP listener per
    /// cluster), each after the agent asked for it; then waits for the agent's push.
    /// </summary>
    public async Task<MeshPushResult> InitialSyncAsync()
    {
        await WaitForRequestAsync(ClusterType);
        await SetAsync(ClusterType, "c1", [(EchoA, EdsCluster(EchoA)), (EchoB, EdsCluster(EchoB))]);
        await WaitForRequestAsync(EndpointType, subscribing: true);
        await SetAsync(EndpointType, "e1", [(EchoA, Endpoints(EchoA, 7000, "127.0.0.10")), (EchoB, Endpoints(EchoB, 7000, "127.0.0.11"))]);
        await WaitForRequestAsync(ListenerType);
        await SetAsync(ListenerType, "l1", [
            (ListenerA, TcpListener(ListenerA, "127.96.0.1", 7000, EchoA)),
            (ListenerB, TcpListener(ListenerB, "127.96.0.2", 7000, EchoB))]);
        return await NextPushAsync();
    }

    /// <summary>
    /// Changes the server's resources of one type and sends them: the changes and removals over Delta, the whole set
    /// over SotW.
    /// </summary>
    public async Task SetAsync(string typeUrl, string version, IEnumerable<(string Name, IMessage Resource)> upserts, params string[] removed)
    {
        var state = State(typeUrl);
        var changed = upserts.ToList();
        foreach (var (name, resource) in changed)
        {
            state[name] = resource;
        }

        foreach (var name in removed)
        {
            state.Remove(name);
        }

        await SendAsync(typeUrl, version, changed, removed);
    }

    /// <summary>Sends the whole current set of a type (what istiod does on a new stream).</summary>
    public Task ResendAsync(string typeUrl, string version, params string[] removed) =>
        SendAsync(typeUrl, version, [.. State(typeUrl).Select(r => (r.Key, r.Value))], removed);

    /// <summary>Waits for a request of <paramref name="typeUrl"/> on the current stream (for EDS, one naming resources).</summary>
    public async Task<XdsRecordedRequest> WaitForRequestAsync(string typeUrl, bool subscribing = false, Func<XdsRecordedRequest, bool>? match = null)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var found = Server.Requests.FirstOrDefault(r => r.Stream >= _stream && r.TypeUrl == typeUrl &&
                (!subscribing || (r.Delta?.ResourceNamesSubscribe.Count ?? r.Sotw!.ResourceNames.Count) > 0) && (match?.Invoke(r) ?? true));
            if (found is not null)
            {
                return found;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"no {typeUrl} request; received:\n{string.Join("\n", Server.Requests)}");
            }

            await Task.Delay(10);
        }
    }

    /// <summary>Marks the streams so far as old: the next waits look at the next stream only.</summary>
    public void ExpectNewStream() => _stream = Server.StreamCount + 1;

    /// <summary>The next push the daemon accepted.</summary>
    public async Task<MeshPushResult> NextPushAsync(TimeSpan? timeout = null)
    {
        using var cancellation = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        return await _pushes.Reader.ReadAsync(cancellation.Token);
    }

    /// <summary>Whether a push arrives within <paramref name="wait"/>.</summary>
    public async Task<bool> AnyPushWithinAsync(TimeSpan wait)
    {
        using var cancellation = new CancellationTokenSource(wait);
        try
        {
            await _pushes.Reader.WaitToReadAsync(cancellation.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Agent.DisposeAsync();
        await Server.DisposeAsync();
        await Daemon.DisposeAsync();
        Api.Dispose();
        Sink.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private SortedDictionary<string, IMessage> State(string typeUrl)
    {
        if (!_state.TryGetValue(typeUrl, out var state))
        {
            _state[typeUrl] = state = new SortedDictionary<string, IMessage>(StringComparer.Ordinal);
        }

        return state;
    }

    private async Task SendAsync(string typeUrl, string version, List<(string Name, IMessage Resource)> changed, string[] removed)
    {
        if (Variant == AdsVariant.Delta)
        {
            await Server.PushAsync(XdsManagementServer.DeltaResponse(typeUrl, version, changed.Select(c => (c.Name, version, c.Resource)), removed));
        }
        else
        {
            await Server.PushAsync(XdsManagementServer.SotwResponse(typeUrl, version, [.. State(typeUrl).Values]));
        }
    }
}
