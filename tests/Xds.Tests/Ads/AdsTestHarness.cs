using System.Collections.Immutable;
using System.Net;
using System.Threading.Channels;
using Envoy.Service.Discovery.V3;
using Istio.AppSwitch.Grpc;
using Istio.AppSwitch.Tests.Common.Xds;
using Istio.AppSwitch.Xds.Ads;
using Istio.AppSwitch.Xds.Client;
using Istio.AppSwitch.Xds.Sidecar;
using static Istio.AppSwitch.Tests.Common.Xds.XdsTestResources;

namespace Istio.AppSwitch.Xds.Tests.Ads;

/// <summary>What a watcher saw, in order.</summary>
internal sealed class RecordingWatcher : IXdsWatcher
{
    private readonly Channel<object> _events = Channel.CreateUnbounded<object>();

    public List<object> All { get; } = [];

    public void OnChanged(XdsSnapshot snapshot, XdsChange change) => Add((snapshot, change));

    public void OnResourceError(string typeUrl, string name, string reason) => Add((typeUrl, name, reason));

    public void OnAmbientError(XdsAmbientError error) => Add(error);

    /// <summary>Waits for the first event of type <typeparamref name="T"/> that matches, skipping the others.</summary>
    public async Task<T> WaitForAsync<T>(Func<T, bool>? match = null, TimeSpan? timeout = null)
    {
        using var cancellation = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var next = await _events.Reader.ReadAsync(cancellation.Token);
            if (next is T typed && (match is null || match(typed)))
            {
                return typed;
            }
        }
    }

    public Task<XdsSnapshot> WaitForSnapshotAsync(Func<XdsSnapshot, bool> match) =>
        WaitForAsync<(XdsSnapshot Snapshot, XdsChange Change)>(e => match(e.Snapshot)).ContinueWith(t => t.Result.Snapshot, TaskScheduler.Default);

    private void Add(object item)
    {
        lock (All)
        {
            All.Add(item);
        }

        _events.Writer.TryWrite(item);
    }
}

/// <summary>A management server, an <see cref="XdsClient"/> pointed at it, and the resources of a small mesh.</summary>
internal sealed class AdsTestHarness : IAsyncDisposable
{
    public static readonly string Reviews = Outbound("reviews", 9080);
    public static readonly string Ratings = Outbound("ratings", 9080);
    public const string Passthrough = "PassthroughCluster";
    public const string RouteName = "9080";

    private Http2GrpcChannel? _channel;

    private AdsTestHarness(XdsManagementServer server) => Server = server;

    public XdsManagementServer Server { get; }

    public XdsClient Client { get; private set; } = null!;

    public RecordingWatcher Watcher { get; } = new();

    public static XdsNodeOptions NodeOptions { get; } = new()
    {
        Id = SidecarNodeId.Create(IPAddress.Parse("127.0.0.5"), "productpage-v1-6b746f74dc-9stvs", "default"),
        ClusterId = "Kubernetes",
        IstioVersion = "1.24.0",
        ServiceAccount = "bookinfo-productpage",
        Labels = ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [
            KeyValuePair.Create("app", "productpage"), KeyValuePair.Create("version", "v1")]),
        ExtraMetadata = ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [XdsNodeOptions.ParseMetaArgument("MESH_ID=cluster.local")]),
    };

    public static async Task<AdsTestHarness> StartAsync(AdsVariant variant, XdsManagementServerOptions? serverOptions = null,
        Func<Uri, GrpcChannelOptions>? channelOptions = null, Func<GrpcMetadata>? headers = null)
    {
        var harness = new AdsTestHarness(await XdsManagementServer.StartAsync(serverOptions));
        harness._channel = new Http2GrpcChannel(channelOptions?.Invoke(harness.Server.Address) ?? new GrpcChannelOptions { Address = harness.Server.Address });
        harness.Client = new XdsClient(harness._channel, new XdsClientOptions
        {
            Node = XdsNodeBuilder.Build(NodeOptions),
            Variant = variant,
            CallHeaders = headers,
            Backoff = new XdsBackoffOptions(TimeSpan.FromMilliseconds(50), 2, TimeSpan.FromMilliseconds(400)),
            Random = new Random(7),
        });
        harness.Client.Watch(harness.Watcher);
        harness.Client.Start();
        return harness;
    }

    /// <summary>
    /// The initial Delta exchange: CDS, EDS for the EDS clusters, LDS, RDS for the HTTP listener, each ACKed, in
    /// Envoy's order. Asserts every request on the way.
    /// </summary>
    public async Task InitialDeltaPushAsync()
    {
        var cds = await Server.NextDeltaRequestAsync();
        Assert.Equal(ClusterType, cds.TypeUrl);
        Assert.Empty(cds.ResourceNamesSubscribe);
        Assert.Empty(cds.ResponseNonce);
        Assert.NotNull(cds.Node);

        var nonce = await Server.PushAsync(XdsManagementServer.DeltaResponse(ClusterType, "c1",
            [(Reviews, "r1", EdsCluster(Reviews)), (Ratings, "r1", EdsCluster(Ratings)), (Passthrough, "p1", OriginalDstCluster(Passthrough))]));
        AssertDeltaAck(await Server.NextDeltaRequestAsync(), ClusterType, nonce);
        var eds = await Server.NextDeltaRequestAsync();
        Assert.Equal(EndpointType, eds.TypeUrl);
        Assert.Equal(new[] { Ratings, Reviews }, eds.ResourceNamesSubscribe);
        Assert.Null(eds.Node);
        var lds = await Server.NextDeltaRequestAsync();
        Assert.Equal(ListenerType, lds.TypeUrl);
        Assert.Empty(lds.ResourceNamesSubscribe);

        nonce = await Server.PushAsync(XdsManagementServer.DeltaResponse(EndpointType, "e1",
            [(Reviews, "r1", Endpoints(Reviews, 9080, "127.0.0.10", "127.0.0.11")), (Ratings, "r1", Endpoints(Ratings, 9080, "127.0.0.12"))]));
        AssertDeltaAck(await Server.NextDeltaRequestAsync(), EndpointType, nonce);

        nonce = await Server.PushAsync(XdsManagementServer.DeltaResponse(ListenerType, "l1",
            [("0.0.0.0_9080", "l1", HttpListener("0.0.0.0_9080", 9080, RouteName)),
             ("127.96.0.1_3306", "l1", TcpListener("127.96.0.1_3306", "127.96.0.1", 3306, Passthrough))]));
        AssertDeltaAck(await Server.NextDeltaRequestAsync(), ListenerType, nonce);
        var rds = await Server.NextDeltaRequestAsync();
        Assert.Equal(RouteType, rds.TypeUrl);
        Assert.Equal(new[] { RouteName }, rds.ResourceNamesSubscribe);

        nonce = await Server.PushAsync(XdsManagementServer.DeltaResponse(RouteType, "rt1",
            [(RouteName, "rt1", Routes(RouteName, Reviews, Ratings))]));
        AssertDeltaAck(await Server.NextDeltaRequestAsync(), RouteType, nonce);
    }

    /// <summary>The same exchange over SotW: every ACK echoes version and nonce, EDS and RDS name their resources.</summary>
    public async Task InitialSotwPushAsync()
    {
        var cds = await Server.NextSotwRequestAsync();
        Assert.Equal(ClusterType, cds.TypeUrl);
        Assert.Empty(cds.ResourceNames);
        Assert.Empty(cds.VersionInfo);
        Assert.Empty(cds.ResponseNonce);
        Assert.NotNull(cds.Node);

        var nonce = await Server.PushAsync(XdsManagementServer.SotwResponse(ClusterType, "c1",
            EdsCluster(Reviews), EdsCluster(Ratings), OriginalDstCluster(Passthrough)));
        AssertSotwAck(await Server.NextSotwRequestAsync(), ClusterType, "c1", nonce);
        var eds = await Server.NextSotwRequestAsync();
        Assert.Equal(EndpointType, eds.TypeUrl);
        Assert.Equal(new[] { Ratings, Reviews }, eds.ResourceNames);
        Assert.Empty(eds.VersionInfo);
        Assert.Null(eds.Node);
        var lds = await Server.NextSotwRequestAsync();
        Assert.Equal(ListenerType, lds.TypeUrl);

        nonce = await Server.PushAsync(XdsManagementServer.SotwResponse(EndpointType, "e1",
            Endpoints(Reviews, 9080, "127.0.0.10", "127.0.0.11"), Endpoints(Ratings, 9080, "127.0.0.12")));
        AssertSotwAck(await Server.NextSotwRequestAsync(), EndpointType, "e1", nonce, Ratings, Reviews);

        nonce = await Server.PushAsync(XdsManagementServer.SotwResponse(ListenerType, "l1",
            HttpListener("0.0.0.0_9080", 9080, RouteName), TcpListener("127.96.0.1_3306", "127.96.0.1", 3306, Passthrough)));
        AssertSotwAck(await Server.NextSotwRequestAsync(), ListenerType, "l1", nonce);
        var rds = await Server.NextSotwRequestAsync();
        Assert.Equal(RouteType, rds.TypeUrl);
        Assert.Equal(new[] { RouteName }, rds.ResourceNames);

        nonce = await Server.PushAsync(XdsManagementServer.SotwResponse(RouteType, "rt1", Routes(RouteName, Reviews, Ratings)));
        AssertSotwAck(await Server.NextSotwRequestAsync(), RouteType, "rt1", nonce, RouteName);
    }

    public static void AssertDeltaAck(DeltaDiscoveryRequest request, string typeUrl, string nonce)
    {
        Assert.Equal(typeUrl, request.TypeUrl);
        Assert.Equal(nonce, request.ResponseNonce);
        Assert.Null(request.ErrorDetail);
        Assert.Empty(request.ResourceNamesSubscribe);
        Assert.Empty(request.ResourceNamesUnsubscribe);
    }

    public static void AssertSotwAck(DiscoveryRequest request, string typeUrl, string version, string nonce, params string[] names)
    {
        Assert.Equal(typeUrl, request.TypeUrl);
        Assert.Equal(version, request.VersionInfo);
        Assert.Equal(nonce, request.ResponseNonce);
        Assert.Null(request.ErrorDetail);
        Assert.Equal(names, request.ResourceNames);
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
        _channel?.Dispose();
    }
}
