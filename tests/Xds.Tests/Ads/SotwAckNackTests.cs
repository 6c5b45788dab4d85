using Envoy.Config.Cluster.V3;
using Envoy.Config.Endpoint.V3;
using Google.Protobuf.WellKnownTypes;
using Istio.AppSwitch.Tests.Common.Xds;
using Istio.AppSwitch.Xds.Ads;
using Istio.AppSwitch.Xds.Client;
using static Istio.AppSwitch.Tests.Common.Xds.XdsTestResources;
using static Istio.AppSwitch.Xds.Tests.Ads.AdsTestHarness;

namespace Istio.AppSwitch.Xds.Tests.Ads;

/// <summary>StreamAggregatedResources against the test management server: versions, nonces, ACKs and NACKs.</summary>
public sealed class SotwAckNackTests
{
    [Fact]
    public async Task InitialPush_AllTypes_AckedWithVersionAndNonce()
    {
        await using var harness = await StartAsync(AdsVariant.StateOfTheWorld);
        await harness.InitialSotwPushAsync();

        var snapshot = await harness.Watcher.WaitForSnapshotAsync(s => s.Routes.Resources.Count == 1);
        Assert.True(snapshot.IsConsistent);
        Assert.Equal([Passthrough, Ratings, Reviews], snapshot.Clusters.Resources.Keys);
        Assert.Equal("e1", snapshot.Endpoints.Version);
        Assert.Equal("l1", snapshot.Listeners.Resources["0.0.0.0_9080"].Version);
    }

    [Fact]
    public async Task SmallerSet_ClusterLeftOut_RemovedAndEdsResubscribedWithFullList()
    {
        await using var harness = await StartAsync(AdsVariant.StateOfTheWorld);
        await harness.InitialSotwPushAsync();
        var server = harness.Server;

        var nonce = await server.PushAsync(XdsManagementServer.SotwResponse(ClusterType, "c2",
            EdsCluster(Reviews, connectTimeoutSeconds: 2), OriginalDstCluster(Passthrough)));
        AssertSotwAck(await server.NextSotwRequestAsync(), ClusterType, "c2", nonce);

        // SotW has no unsubscribe: the new request lists every name still wanted, with the EDS version and nonce.
        var eds = await server.NextSotwRequestAsync();
        Assert.Equal(EndpointType, eds.TypeUrl);
        Assert.Equal(new[] { Reviews }, eds.ResourceNames);
        Assert.Equal("e1", eds.VersionInfo);
        Assert.NotEmpty(eds.ResponseNonce);

        var removed = await harness.Watcher.WaitForAsync<(string TypeUrl, string Name, string Reason)>();
        Assert.Equal((ClusterType, Ratings), (removed.TypeUrl, removed.Name));
        var snapshot = harness.Client.Snapshot;
        Assert.Equal([Passthrough, Reviews], snapshot.Clusters.Resources.Keys);
        Assert.Equal(2, snapshot.Clusters.Values<Cluster>()[Reviews].ConnectTimeout.Seconds);
        Assert.Equal([Reviews], snapshot.Endpoints.Resources.Keys);

        // An EDS response for one name leaves the others as they were (absence means nothing for EDS).
        nonce = await server.PushAsync(XdsManagementServer.SotwResponse(EndpointType, "e2", Endpoints(Reviews, 9080, "127.0.0.13")));
        AssertSotwAck(await server.NextSotwRequestAsync(), EndpointType, "e2", nonce, Reviews);
        snapshot = await harness.Watcher.WaitForSnapshotAsync(s => s.Endpoints.Version == "e2");
        Assert.Equal("127.0.0.13", snapshot.Endpoints.Values<ClusterLoadAssignment>()[Reviews].Endpoints[0].LbEndpoints[0].Endpoint.Address.SocketAddress.Address);
    }

    [Fact]
    public async Task BadPush_WrongTypeInAny_NackCarriesPreviousVersionThenGoodPushAcked()
    {
        await using var harness = await StartAsync(AdsVariant.StateOfTheWorld);
        await harness.InitialSotwPushAsync();
        var server = harness.Server;
        var before = harness.Client.Snapshot;

        var bad = XdsManagementServer.SotwResponse(ClusterType, "c2", EdsCluster(Reviews), EdsCluster(string.Empty));
        bad.Resources.Add(Any.Pack(Endpoints(Ratings, 9080, "127.0.0.1")));
        var nonce = await server.PushAsync(bad);

        var nack = await server.NextSotwRequestAsync();
        Assert.Equal(ClusterType, nack.TypeUrl);
        Assert.Equal("c1", nack.VersionInfo);
        Assert.Equal(nonce, nack.ResponseNonce);
        Assert.Equal(3, nack.ErrorDetail.Code);
        Assert.Contains("rejected 2 of 3", nack.ErrorDetail.Message, StringComparison.Ordinal);
        Assert.Contains("the name is empty", nack.ErrorDetail.Message, StringComparison.Ordinal);
        Assert.Contains($"type URL '{EndpointType}' is not the expected '{ClusterType}'", nack.ErrorDetail.Message, StringComparison.Ordinal);
        Assert.Equal(XdsAmbientErrorKind.Nack, (await harness.Watcher.WaitForAsync<XdsAmbientError>()).Kind);
        Assert.Same(before, harness.Client.Snapshot);

        // Nothing else moved: no EDS change follows a NACK.
        nonce = await server.PushAsync(XdsManagementServer.SotwResponse(ClusterType, "c3", EdsCluster(Reviews), EdsCluster(Ratings)));
        AssertSotwAck(await server.NextSotwRequestAsync(), ClusterType, "c3", nonce);
        var snapshot = await harness.Watcher.WaitForSnapshotAsync(s => s.Clusters.Version == "c3");
        Assert.Equal([Ratings, Reviews], snapshot.Clusters.Resources.Keys);
        Assert.False(server.TryPeekRequest(out _));
    }
}
