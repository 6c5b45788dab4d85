using Envoy.Config.Cluster.V3;
using Google.Protobuf;
using Istio.AppSwitch.Tests.Common.Xds;
using Istio.AppSwitch.Xds.Ads;
using Istio.AppSwitch.Xds.Resources;
using Istio.AppSwitch.Xds.Tests.Resources;
using static Istio.AppSwitch.Tests.Common.Xds.XdsTestResources;

namespace Istio.AppSwitch.Xds.Tests.Ads;

/// <summary>What istiod really sent a sidecar (the DeathStarBench dump), pushed again over Delta ADS.</summary>
public sealed class CorpusPushTests(DeathStarBenchDumpFixture dump) : IClassFixture<DeathStarBenchDumpFixture>
{
    [Fact]
    public async Task DeltaPush_RealSidecarConfig_EveryTypeAckedAndSubscriptionsFollow()
    {
        var clusters = Served(dump.Result.DynamicClusters);
        var endpoints = Served(dump.Result.DynamicEndpoints);
        var listeners = Served(dump.Result.DynamicListeners);
        var routes = Served(dump.Result.DynamicRouteConfigurations);
        await using var harness = await AdsTestHarness.StartAsync(AdsVariant.Delta);
        var server = harness.Server;
        await server.NextDeltaRequestAsync();

        var nonce = await server.PushAsync(XdsManagementServer.DeltaResponse(ClusterType, "2023-01-01T00:00:00Z/1", clusters));
        AdsTestHarness.AssertDeltaAck(await server.NextDeltaRequestAsync(), ClusterType, nonce);
        var eds = await server.NextDeltaRequestAsync();
        var edsNames = dump.Result.DynamicClusters.Where(c => c.Resource.Type == Cluster.Types.DiscoveryType.Eds)
            .Select(c => c.Resource.EdsClusterConfig.ServiceName is { Length: > 0 } s ? s : c.Name).Distinct().Order(StringComparer.Ordinal);
        Assert.Equal(edsNames, eds.ResourceNamesSubscribe);
        await server.NextDeltaRequestAsync(); // LDS

        nonce = await server.PushAsync(XdsManagementServer.DeltaResponse(EndpointType, "1", endpoints));
        AdsTestHarness.AssertDeltaAck(await server.NextDeltaRequestAsync(), EndpointType, nonce);
        nonce = await server.PushAsync(XdsManagementServer.DeltaResponse(ListenerType, "1", listeners));
        AdsTestHarness.AssertDeltaAck(await server.NextDeltaRequestAsync(), ListenerType, nonce);
        var rds = await server.NextDeltaRequestAsync();
        Assert.Equal(RouteType, rds.TypeUrl);
        nonce = await server.PushAsync(XdsManagementServer.DeltaResponse(RouteType, "1", routes));
        AdsTestHarness.AssertDeltaAck(await server.NextDeltaRequestAsync(), RouteType, nonce);

        var snapshot = await harness.Watcher.WaitForSnapshotAsync(s => s.Routes.Resources.Count > 0);
        Assert.Equal(clusters.Count, snapshot.Clusters.Resources.Count);
        Assert.Equal(listeners.Count, snapshot.Listeners.Resources.Count);
        Assert.Equal(rds.ResourceNamesSubscribe.Count, snapshot.Routes.Resources.Count);
        Assert.Empty(snapshot.Pending.Routes);
    }

    private static List<(string Name, string Version, IMessage Resource)> Served<T>(IEnumerable<DumpedResource<T>> resources)
        where T : IMessage<T> =>
        [.. resources.OrderBy(r => r.State != DumpedResourceState.Active).DistinctBy(r => r.Name)
            .Select(r => (r.Name, r.VersionInfo, (IMessage)r.Resource))];
}
