using Istio.AppSwitch.Tests.Common.Xds;
using Istio.AppSwitch.Xds.Ads;
using Istio.AppSwitch.Xds.Client;
using static Istio.AppSwitch.Tests.Common.Xds.XdsTestResources;
using static Istio.AppSwitch.Xds.Tests.Ads.AdsTestHarness;

namespace Istio.AppSwitch.Xds.Tests.Ads;

/// <summary>The management server goes away mid-stream and comes back on the same port (grpc-go's ads_stream_restart_test).</summary>
public sealed class RestartTests
{
    [Fact]
    public async Task ServerRestart_Delta_ReconnectsAndResubscribesWithInitialResourceVersions()
    {
        await using var harness = await StartAsync(AdsVariant.Delta);
        await harness.InitialDeltaPushAsync();
        var before = await harness.Watcher.WaitForSnapshotAsync(s => s.Routes.Resources.Count == 1);
        var port = harness.Server.Port;

        await harness.Server.StopAsync();
        var lost = await harness.Watcher.WaitForAsync<XdsAmbientError>(e => e.Kind == XdsAmbientErrorKind.ConnectionLost);
        Assert.Null(lost.TypeUrl);
        Assert.Same(before, harness.Client.Snapshot); // served from cache while Pilot is away

        await harness.Server.RestartAsync(new XdsManagementServerOptions { Port = port });
        var cds = await harness.Server.NextRequestAsync();
        Assert.Equal(2, cds.Stream);
        Assert.Equal(ClusterType, cds.TypeUrl);
        Assert.NotNull(cds.Delta!.Node); // a new stream is a new first message
        Assert.Empty(cds.Delta.ResponseNonce);
        Assert.Equal(
            new Dictionary<string, string> { [Passthrough] = "p1", [Ratings] = "r1", [Reviews] = "r1" },
            cds.Delta.InitialResourceVersions);

        var eds = await harness.Server.NextDeltaRequestAsync();
        Assert.Equal(EndpointType, eds.TypeUrl);
        Assert.Equal(new[] { Ratings, Reviews }, eds.ResourceNamesSubscribe);
        Assert.Equal(new Dictionary<string, string> { [Ratings] = "r1", [Reviews] = "r1" }, eds.InitialResourceVersions);
        Assert.Null(eds.Node);

        var lds = await harness.Server.NextDeltaRequestAsync();
        Assert.Equal(ListenerType, lds.TypeUrl);
        Assert.Equal(2, lds.InitialResourceVersions.Count);
        var rds = await harness.Server.NextDeltaRequestAsync();
        Assert.Equal(RouteType, rds.TypeUrl);
        Assert.Equal(new[] { RouteName }, rds.ResourceNamesSubscribe);
        Assert.Equal("rt1", rds.InitialResourceVersions[RouteName]);

        // The new stream works: a push on it is ACKed with its nonce.
        var nonce = await harness.Server.PushAsync(XdsManagementServer.DeltaResponse(ClusterType, "c2", [], Passthrough));
        AssertDeltaAck(await harness.Server.NextDeltaRequestAsync(), ClusterType, nonce);
        Assert.Equal(2, harness.Server.StreamCount);
    }

    [Fact]
    public async Task ServerRestart_Sotw_ReconnectsAndResubscribesWithVersionsAndNames()
    {
        await using var harness = await StartAsync(AdsVariant.StateOfTheWorld);
        await harness.InitialSotwPushAsync();
        var before = await harness.Watcher.WaitForSnapshotAsync(s => s.Routes.Resources.Count == 1);
        var port = harness.Server.Port;

        await harness.Server.StopAsync();
        await harness.Watcher.WaitForAsync<XdsAmbientError>(e => e.Kind == XdsAmbientErrorKind.ConnectionLost);

        // Let a few reconnects fail against the closed port: the cache must not care.
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        Assert.Same(before, harness.Client.Snapshot);
        await harness.Server.RestartAsync(new XdsManagementServerOptions { Port = port });

        var requests = new List<Envoy.Service.Discovery.V3.DiscoveryRequest>();
        for (var i = 0; i < 4; i++)
        {
            requests.Add(await harness.Server.NextSotwRequestAsync());
        }

        Assert.Equal([ClusterType, EndpointType, ListenerType, RouteType], requests.Select(r => r.TypeUrl));
        Assert.Equal(["c1", "e1", "l1", "rt1"], requests.Select(r => r.VersionInfo));
        Assert.All(requests, r => Assert.Empty(r.ResponseNonce));
        Assert.NotNull(requests[0].Node);
        Assert.All(requests.Skip(1), r => Assert.Null(r.Node));
        Assert.Equal(new[] { Ratings, Reviews }, requests[1].ResourceNames);
        Assert.Equal(new[] { RouteName }, requests[3].ResourceNames);

        // The server has nothing new: it answers with the same version, and the client ACKs without a change.
        var nonce = await harness.Server.PushAsync(XdsManagementServer.SotwResponse(ClusterType, "c1",
            EdsCluster(Reviews), EdsCluster(Ratings), OriginalDstCluster(Passthrough)));
        AssertSotwAck(await harness.Server.NextSotwRequestAsync(), ClusterType, "c1", nonce);
        Assert.Equal(before.Clusters.Resources.Keys, harness.Client.Snapshot.Clusters.Resources.Keys);
    }
}
