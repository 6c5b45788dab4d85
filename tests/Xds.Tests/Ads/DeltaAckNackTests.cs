using Envoy.Config.Cluster.V3;
using Envoy.Config.Endpoint.V3;
using Google.Protobuf.WellKnownTypes;
using Istio.AppSwitch.Tests.Common.Xds;
using Istio.AppSwitch.Xds.Ads;
using Istio.AppSwitch.Xds.Client;
using static Istio.AppSwitch.Tests.Common.Xds.XdsTestResources;
using static Istio.AppSwitch.Xds.Tests.Ads.AdsTestHarness;

namespace Istio.AppSwitch.Xds.Tests.Ads;

/// <summary>DeltaAggregatedResources against the test management server: ACKs, NACKs, updates and removals.</summary>
public sealed class DeltaAckNackTests
{
    [Fact]
    public async Task InitialPush_AllTypes_AckedInEnvoyOrderAndSnapshotConsistent()
    {
        await using var harness = await StartAsync(AdsVariant.Delta);
        await harness.InitialDeltaPushAsync();

        var snapshot = await harness.Watcher.WaitForSnapshotAsync(s => s.Routes.Resources.Count == 1);
        Assert.True(snapshot.IsConsistent);
        Assert.Equal([Passthrough, Ratings, Reviews], snapshot.Clusters.Resources.Keys);
        Assert.Equal(2, snapshot.Endpoints.Values<ClusterLoadAssignment>()[Reviews].Endpoints[0].LbEndpoints.Count);
        Assert.Equal(["0.0.0.0_9080", "127.96.0.1_3306"], snapshot.Listeners.Resources.Keys);
        Assert.Equal("rt1", snapshot.Routes.Resources[RouteName].Version);
        Assert.Equal("c1", snapshot.Clusters.Version);
        Assert.Same(snapshot, harness.Client.Snapshot);
    }

    [Fact]
    public async Task Push_BeforeRoutesArrive_ReportsThemPendingNotHalfApplied()
    {
        await using var harness = await StartAsync(AdsVariant.Delta);
        var server = harness.Server;
        await server.NextDeltaRequestAsync();
        await server.PushAsync(XdsManagementServer.DeltaResponse(ClusterType, "c1", [(Reviews, "1", EdsCluster(Reviews))]));
        var afterClusters = await harness.Watcher.WaitForSnapshotAsync(s => s.Clusters.Resources.Count == 1);

        // The cluster is there, its endpoints are not: a consumer sees exactly what is missing.
        Assert.False(afterClusters.IsConsistent);
        Assert.Equal([Reviews], afterClusters.Pending.Endpoints);
        for (var i = 0; i < 3; i++)
        {
            await server.NextDeltaRequestAsync(); // ACK, EDS, LDS
        }

        await server.PushAsync(XdsManagementServer.DeltaResponse(ListenerType, "l1",
            [("0.0.0.0_9080", "1", HttpListener("0.0.0.0_9080", 9080, RouteName))]));
        var afterListeners = await harness.Watcher.WaitForSnapshotAsync(s => s.Listeners.Resources.Count == 1);
        Assert.Equal([RouteName], afterListeners.Pending.Routes);

        await server.NextDeltaRequestAsync(); // ACK
        await server.NextDeltaRequestAsync(); // RDS
        await server.PushAsync(XdsManagementServer.DeltaResponse(RouteType, "r1", [(RouteName, "1", Routes(RouteName, Reviews, Ratings))]));
        var afterRoutes = await harness.Watcher.WaitForSnapshotAsync(s => s.Routes.Resources.Count == 1);

        // The route sends to ratings, which CDS never delivered: pending, not silently dropped.
        Assert.Equal([Ratings], afterRoutes.Pending.Clusters);
        Assert.Equal([Reviews], afterRoutes.Pending.Endpoints);
    }

    [Fact]
    public async Task UpdateAndRemoval_ClusterRemoved_EdsUnsubscribedAndResourceErrorReported()
    {
        await using var harness = await StartAsync(AdsVariant.Delta);
        await harness.InitialDeltaPushAsync();
        var server = harness.Server;

        var nonce = await server.PushAsync(XdsManagementServer.DeltaResponse(ClusterType, "c2",
            [(Reviews, "r2", EdsCluster(Reviews, connectTimeoutSeconds: 3))], Ratings));
        AssertDeltaAck(await server.NextDeltaRequestAsync(), ClusterType, nonce);
        var unsubscribe = await server.NextDeltaRequestAsync();
        Assert.Equal(EndpointType, unsubscribe.TypeUrl);
        Assert.Empty(unsubscribe.ResourceNamesSubscribe);
        Assert.Equal(new[] { Ratings }, unsubscribe.ResourceNamesUnsubscribe);

        var removed = await harness.Watcher.WaitForAsync<(string TypeUrl, string Name, string Reason)>();
        Assert.Equal((ClusterType, Ratings), (removed.TypeUrl, removed.Name));
        var snapshot = harness.Client.Snapshot;
        Assert.Equal([Passthrough, Reviews], snapshot.Clusters.Resources.Keys);
        Assert.Equal(3, snapshot.Clusters.Values<Cluster>()[Reviews].ConnectTimeout.Seconds);
        Assert.Equal("r2", snapshot.Clusters.Resources[Reviews].Version);

        // Its endpoints went with it, and the route that still names it reports it pending.
        Assert.Equal([Reviews], snapshot.Endpoints.Resources.Keys);
        Assert.Equal([Ratings], snapshot.Pending.Clusters);
    }

    [Fact]
    public async Task BadPush_EmptyNameAndWrongTypeUrl_NackedWithDetailAndLastGoodKept()
    {
        await using var harness = await StartAsync(AdsVariant.Delta);
        await harness.InitialDeltaPushAsync();
        var server = harness.Server;
        var before = harness.Client.Snapshot;

        var bad = XdsManagementServer.DeltaResponse(ClusterType, "c2",
            [(Reviews, "r2", EdsCluster(Reviews, connectTimeoutSeconds: 1)), (string.Empty, "r2", EdsCluster(string.Empty))]);
        bad.Resources.Add(new Envoy.Service.Discovery.V3.Resource
        {
            Name = "not-a-cluster",
            Version = "r2",
            Resource_ = Any.Pack(Endpoints("not-a-cluster", 80, "127.0.0.1")),
        });
        var nonce = await server.PushAsync(bad);

        var nack = await server.NextDeltaRequestAsync();
        Assert.Equal(ClusterType, nack.TypeUrl);
        Assert.Equal(nonce, nack.ResponseNonce);
        Assert.NotNull(nack.ErrorDetail);
        Assert.Equal(3, nack.ErrorDetail.Code);
        Assert.Contains("rejected 2 of 3", nack.ErrorDetail.Message, StringComparison.Ordinal);
        Assert.Contains("the name is empty", nack.ErrorDetail.Message, StringComparison.Ordinal);
        Assert.Contains($"not-a-cluster: type URL '{EndpointType}'", nack.ErrorDetail.Message, StringComparison.Ordinal);

        var ambient = await harness.Watcher.WaitForAsync<XdsAmbientError>();
        Assert.Equal(XdsAmbientErrorKind.Nack, ambient.Kind);
        Assert.Equal(ClusterType, ambient.TypeUrl);
        Assert.Same(before, harness.Client.Snapshot);
        Assert.Equal(10, harness.Client.Snapshot.Clusters.Values<Cluster>()[Reviews].ConnectTimeout.Seconds);

        nonce = await server.PushAsync(XdsManagementServer.DeltaResponse(ClusterType, "c3",
            [(Reviews, "r3", EdsCluster(Reviews, connectTimeoutSeconds: 1))]));
        AssertDeltaAck(await server.NextDeltaRequestAsync(), ClusterType, nonce);
        var snapshot = await harness.Watcher.WaitForSnapshotAsync(s => s.Clusters.Version == "c3");
        Assert.Equal(1, snapshot.Clusters.Values<Cluster>()[Reviews].ConnectTimeout.Seconds);
        Assert.False(server.TryPeekRequest(out _));
    }
}
