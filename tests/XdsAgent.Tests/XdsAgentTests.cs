using Google.Protobuf;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Tests.Common.Xds;
using Istio.AppSwitch.Xds.Ads;
using Istio.AppSwitch.XdsAgent.Mesh;
using static Istio.AppSwitch.Tests.Common.Xds.XdsTestResources;
using static Istio.AppSwitch.XdsAgent.Tests.AgentHarness;

namespace Istio.AppSwitch.XdsAgent.Tests;

/// <summary>
/// The agent between a real ADS management server and a real daemon: what the server pushes is what
/// <c>GET /v1/mesh</c> shows, update by update, over both ADS variants.
/// </summary>
public sealed class XdsAgentTests
{
    // The placeholder MeshStore keeps only the last request, so deltas read back wrong until the real store lands.

    private static MeshClusterDto Cluster(MeshStateDto mesh, string name) => Assert.Single(mesh.Clusters, c => c.Name == name);

    [Theory]
    [InlineData(AdsVariant.Delta)]
    [InlineData(AdsVariant.StateOfTheWorld)]
    public async Task InitialPush_TwoVipListeners_DaemonHasServicesAndClusters(AdsVariant variant)
    {
        await using var harness = await StartAsync(variant);

        var push = await harness.InitialSyncAsync();

        Assert.True(push.Replace);
        Assert.Equal((2, 2), (push.ServiceUpserts, push.ClusterUpserts));
        var mesh = await harness.Api.GetMeshAsync();
        Assert.Equal(["127.96.0.1:7000", "127.96.0.2:7000"], mesh.Services.Select(s => s.Key));
        Assert.Equal(["127.96.0.1:7000", "127.96.0.2:7000"], mesh.Services.Select(s => s.Vip));
        Assert.Equal(EchoA, Assert.Single(mesh.Services[0].Clusters!).Name);
        Assert.Equal(ListenerA, mesh.Services[0].Listener);
        Assert.Equal("127.0.0.10", Assert.Single(Cluster(mesh, EchoA).Endpoints!).Address);
        Assert.Equal(7000, Assert.Single(Cluster(mesh, EchoB).Endpoints!).Port);
        Assert.Equal("least_request", Cluster(mesh, EchoA).LbPolicy);
        Assert.Equal("10s", Cluster(mesh, EchoA).ConnectTimeout);
        Assert.Contains("lds=l1", mesh.Version, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(AdsVariant.Delta)]
    [InlineData(AdsVariant.StateOfTheWorld)]
    public async Task EdsUpdate_OneClusterMoves_OnlyThatClusterIsSent(AdsVariant variant)
    {
        await using var harness = await StartAsync(variant);
        await harness.InitialSyncAsync();

        await harness.SetAsync(EndpointType, "e2", [(EchoA, Endpoints(EchoA, 7000, "127.0.0.12", "127.0.0.13"))]);
        var push = await harness.NextPushAsync();

        Assert.False(push.Replace);
        Assert.Equal((0, 0, 1, 0), (push.ServiceUpserts, push.ServiceDeletes, push.ClusterUpserts, push.ClusterDeletes));
        var mesh = await harness.Api.GetMeshAsync();
        Assert.Equal(["127.0.0.12", "127.0.0.13"], Cluster(mesh, EchoA).Endpoints!.Select(e => e.Address));
        Assert.Equal("127.0.0.11", Assert.Single(Cluster(mesh, EchoB).Endpoints!).Address);
        Assert.Equal(2, mesh.Services.Count);
        Assert.Contains("eds=e2", mesh.Version, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(AdsVariant.Delta)]
    [InlineData(AdsVariant.StateOfTheWorld)]
    public async Task ListenerRemoved_ServiceAndItsClusterGone(AdsVariant variant)
    {
        await using var harness = await StartAsync(variant);
        await harness.InitialSyncAsync();

        await harness.SetAsync(ListenerType, "l2", [], ListenerB);
        var push = await harness.NextPushAsync();

        Assert.Equal((0, 1, 0, 1), (push.ServiceUpserts, push.ServiceDeletes, push.ClusterUpserts, push.ClusterDeletes));
        var mesh = await harness.Api.GetMeshAsync();
        Assert.Equal(["127.96.0.1:7000"], mesh.Services.Select(s => s.Key));
        Assert.Equal([EchoA], mesh.Clusters.Select(c => c.Name));
    }

    [Theory]
    [InlineData(AdsVariant.Delta)]
    [InlineData(AdsVariant.StateOfTheWorld)]
    public async Task BadResource_Nacked_MeshUnchanged(AdsVariant variant)
    {
        await using var harness = await StartAsync(variant);
        await harness.InitialSyncAsync();
        var before = await harness.Api.GetMeshAsync();

        // A good change (A's connect timeout) next to a cluster without a name: the whole push is rejected.
        IMessage[] bad = [EdsCluster(EchoA, connectTimeoutSeconds: 1), EdsCluster(EchoB), new Envoy.Config.Cluster.V3.Cluster { Name = "", Type = Envoy.Config.Cluster.V3.Cluster.Types.DiscoveryType.Static }];
        if (variant == AdsVariant.Delta)
        {
            await harness.Server.PushAsync(XdsManagementServer.DeltaResponse(ClusterType, "c2",
                [(EchoA, "c2", bad[0]), ("", "c2", bad[2])]));
        }
        else
        {
            await harness.Server.PushAsync(XdsManagementServer.SotwResponse(ClusterType, "c2", bad));
        }

        await harness.WaitForRequestAsync(ClusterType, match: r => (r.Delta is { } delta ? delta.ErrorDetail : r.Sotw!.ErrorDetail) is not null);
        Assert.False(await harness.AnyPushWithinAsync(TimeSpan.FromMilliseconds(300)));
        var after = await harness.Api.GetMeshAsync();
        Assert.Equal("10s", Cluster(after, EchoA).ConnectTimeout);
        Assert.Equal(before.Version, after.Version);
        Assert.Equal(before.Services.Select(s => s.Key), after.Services.Select(s => s.Key));
        Assert.Equal(1, harness.Agent.Pushes);
    }

    [Theory]
    [InlineData(AdsVariant.Delta)]
    [InlineData(AdsVariant.StateOfTheWorld)]
    public async Task ServerRestart_ListenerDeletedMeanwhile_RulesStayThenResyncRemovesIt(AdsVariant variant)
    {
        await using var harness = await StartAsync(variant);
        await harness.InitialSyncAsync();
        var port = harness.Server.Port;

        // Pilot away: the agent reconnects in the background and the daemon keeps every rule.
        await harness.Server.StopAsync();
        await Task.Delay(300);
        Assert.Equal(2, (await harness.Api.GetMeshAsync()).Services.Count);

        harness.ExpectNewStream();
        await harness.Server.RestartAsync(new XdsManagementServerOptions { Port = port });
        await harness.WaitForRequestAsync(ClusterType);
        await harness.ResendAsync(ClusterType, "c1");
        await harness.WaitForRequestAsync(EndpointType, subscribing: variant == AdsVariant.StateOfTheWorld);
        await harness.ResendAsync(EndpointType, "e1");
        await harness.WaitForRequestAsync(ListenerType);
        await harness.SetAsync(ListenerType, "l2", [(ListenerA, TcpListener(ListenerA, "127.96.0.1", 7000, EchoA))], ListenerB);

        var push = await harness.NextPushAsync();
        Assert.Equal((1, 1), (push.ServiceDeletes, push.ClusterDeletes));
        var mesh = await harness.Api.GetMeshAsync();
        Assert.Equal(["127.96.0.1:7000"], mesh.Services.Select(s => s.Key));
        Assert.Equal([EchoA], mesh.Clusters.Select(c => c.Name));
    }

    [Fact]
    public async Task DaemonRestarted_PushFailsThenReplacesEverything()
    {
        await using var harness = await StartAsync(AdsVariant.Delta);
        await harness.InitialSyncAsync();
        var socket = harness.Daemon.Options.ApiSocketPath;

        // The daemon goes away: the next change cannot be pushed, and is retried with backoff.
        await harness.Daemon.StopAsync();
        await harness.SetAsync(EndpointType, "e2", [(EchoA, Endpoints(EchoA, 7000, "127.0.0.12"))]);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (harness.Agent.Failures == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.True(harness.Agent.Failures > 0);

        // A new daemon on the same socket holds nothing: the retry is a replace that gives it the whole mesh.
        await using var restarted = Istio.AppSwitch.Daemon.DaemonHost.Create(harness.Daemon.Options);
        await restarted.StartAsync();
        var push = await harness.NextPushAsync();

        Assert.True(push.Replace);
        var mesh = restarted.Mesh.Describe();
        Assert.Equal(2, mesh.Services.Count);
        Assert.Equal("127.0.0.12", Assert.Single(Assert.Single(mesh.Clusters, c => c.Name == EchoA).Endpoints!).Address);
        Assert.Equal(socket, restarted.Options.ApiSocketPath);
    }

    [Theory]
    [InlineData(AdsVariant.Delta)]
    [InlineData(AdsVariant.StateOfTheWorld)]
    public async Task EdsUpdates_TranslatedAlone_SameRulesAsAWholeTranslation(AdsVariant variant)
    {
        // An EDS-only change re-translates only the clusters whose endpoints changed: the result must be what a
        // translation of the whole snapshot gives, including an assignment that disappears.
        await using var harness = await StartAsync(variant);
        await harness.InitialSyncAsync();

        await harness.SetAsync(EndpointType, "e2", [(EchoA, Endpoints(EchoA, 7000, "127.0.0.20", "127.0.0.21"))]);
        await harness.NextPushAsync();
        await harness.SetAsync(EndpointType, "e3", [(EchoB, Endpoints(EchoB, 7000))]);
        await harness.NextPushAsync();

        var whole = MeshRuleMapper.Map(Xds.Translation.MeshTranslator.Translate(XdsAgent.ToTranslationInput(harness.Agent.Client.Snapshot)));
        Assert.True(MeshDiff.IsEmpty(MeshDiff.Compute(harness.Agent.Applied, whole, replace: false)));
        Assert.Equal(["127.0.0.20", "127.0.0.21"], harness.Agent.Applied.Clusters[EchoA].Endpoints!.Select(e => e.Address));
        Assert.Empty(harness.Agent.Applied.Clusters[EchoB].Endpoints!);
    }

    [Fact]
    public async Task ListenerNamesAClusterPilotNeverSends_HeldBackUntilTheDoesNotExistTimeout_ThenChained()
    {
        await using var harness = await StartAsync(AdsVariant.Delta, doesNotExistTimeout: TimeSpan.FromSeconds(1.5));
        await harness.InitialSyncAsync();
        var ghost = Outbound("ghost", 7000);

        // A new listener to a cluster CDS does not hold: pushing it now would route to nothing, so nothing is pushed...
        await harness.SetAsync(ListenerType, "l2", [(ListenerGhost, TcpListener(ListenerGhost, "127.96.0.3", 7000, ghost))]);
        Assert.False(await harness.AnyPushWithinAsync(TimeSpan.FromSeconds(0.8)));

        // ...until the cluster has been missing for the timeout: then the rest goes through, the service chained.
        var push = await harness.NextPushAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1, push.ServiceUpserts);
        var service = (await harness.Api.GetMeshAsync()).Services.Single(s => s.Vip == "127.96.0.3:7000");
        Assert.Equal("chain", service.Mode);
    }

    [Fact]
    public async Task ManySnapshotsDuringOnePush_Coalesced()
    {
        await using var harness = await StartAsync(AdsVariant.Delta);
        await harness.InitialSyncAsync();

        // Ten EDS changes back to back: pushes may coalesce, and the last one always reaches the daemon.
        for (var i = 0; i < 10; i++)
        {
            await harness.SetAsync(EndpointType, $"e{i + 2}", [(EchoA, Endpoints(EchoA, 7000, $"127.0.1.{i}"))]);
        }

        MeshPushResult push;
        var pushes = 0;
        do
        {
            push = await harness.NextPushAsync();
            pushes++;
        }
        while (!push.Version.Contains("eds=e11", StringComparison.Ordinal));

        Assert.InRange(pushes, 1, 10);
        var mesh = await harness.Api.GetMeshAsync();
        Assert.Equal("127.0.1.9", Assert.Single(Cluster(mesh, EchoA).Endpoints!).Address);
    }
}
