using Envoy.Config.Cluster.V3;
using Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Istio.AppSwitch.Xds.Resources;
using Istio.AppSwitch.Xds.Resources.Decoding;
using Istio.AppSwitch.Xds.Tests.Resources;
using static Istio.AppSwitch.Tests.Common.Xds.XdsTestResources;

namespace Istio.AppSwitch.Xds.Tests.Resources.Decoding;

public sealed class XdsResourceDecoderTests(DeathStarBenchDumpFixture dump) : IClassFixture<DeathStarBenchDumpFixture>
{
    [Fact]
    public void Decode_EveryDynamicResourceOfARealSidecar_Accepted()
    {
        Assert.True(dump.Result.Succeeded);
        AssertAllValid(ClusterDecoder.Instance, Served(dump.Result.DynamicClusters));
        AssertAllValid(EndpointDecoder.Instance, Served(dump.Result.DynamicEndpoints));
        AssertAllValid(ListenerDecoder.Instance, Served(dump.Result.DynamicListeners));
        AssertAllValid(RouteDecoder.Instance, Served(dump.Result.DynamicRouteConfigurations));
    }

    [Fact]
    public void Dependencies_RealSidecar_EdsNamesAndRouteNames()
    {
        var cluster = dump.Result.DynamicClusters.Select(c => c.Resource).First(c => c.Type == Cluster.Types.DiscoveryType.Eds);
        Assert.Equal([cluster.EdsClusterConfig.ServiceName], ClusterDecoder.Instance.Dependencies(cluster));
        var names = dump.Result.DynamicListeners.SelectMany(l => ListenerDecoder.RouteConfigNames(l.Resource)).ToHashSet();
        Assert.Subset(dump.Result.DynamicRouteConfigurations.Select(r => r.Name).ToHashSet(), names);
    }

    [Fact]
    public void EdsServiceName_EmptyServiceName_FallsBackToClusterName()
    {
        var cluster = EdsCluster("outbound|80||a.default.svc.cluster.local");
        cluster.EdsClusterConfig.ServiceName = string.Empty;
        Assert.Equal(cluster.Name, ClusterDecoder.EdsServiceName(cluster));
        Assert.Null(ClusterDecoder.EdsServiceName(OriginalDstCluster("PassthroughCluster")));
    }

    [Fact]
    public void Decode_DuplicateNamesGarbageAndWrongType_EveryErrorReported()
    {
        var garbage = new Any { TypeUrl = XdsTypeUrls.Cluster, Value = ByteString.CopyFrom(0xFF, 0xFF, 0xFF) };
        var result = ClusterDecoder.Instance.Decode([
            (Any.Pack(EdsCluster("a")), "1", null),
            (Any.Pack(EdsCluster("a")), "1", null),
            (garbage, "1", null),
            (Any.Pack(Routes("r")), "1", null),
            (Any.Pack(EdsCluster("b")), "1", "not-b"),
        ]);

        Assert.Equal(["a"], result.Resources.Select(r => r.Name));
        Assert.Equal(4, result.Errors.Count);
        Assert.Equal(new XdsResourceError("a", "the name appears more than once in the response"), result.Errors[0]);
        Assert.Null(result.Errors[1].Name);
        Assert.StartsWith("the resource does not parse", result.Errors[1].Reason, StringComparison.Ordinal);
        Assert.Contains("is not the expected", result.Errors[2].Reason, StringComparison.Ordinal);
        Assert.Equal("b", result.Errors[3].Name);
        Assert.Contains("'not-b'", result.Errors[3].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_ListenerWithEmptyRdsNameOrScopedRoutes_Rejected()
    {
        var emptyRds = HttpListener("l1", 80, string.Empty);
        var scoped = HttpListener("l2", 81, "r");
        var manager = scoped.FilterChains[0].Filters[0].TypedConfig.Unpack<HttpConnectionManager>();
        manager.ScopedRoutes = new ScopedRoutes { Name = "s" };
        scoped.FilterChains[0].Filters[0].TypedConfig = Any.Pack(manager);

        var result = ListenerDecoder.Instance.Decode([(Any.Pack(emptyRds), "1", null), (Any.Pack(scoped), "1", null)]);

        Assert.Empty(result.Resources);
        Assert.Contains("empty route_config_name", result.Errors[0].Reason, StringComparison.Ordinal);
        Assert.Contains("neither rds nor route_config", result.Errors[1].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_RouteAndEndpointProblems_Rejected()
    {
        var routes = Routes("r", "outbound|80||a");
        routes.VirtualHosts.Add(routes.VirtualHosts[0].Clone());
        routes.VirtualHosts[0].Domains.Clear();
        var endpoints = Endpoints("e", 80, "127.0.0.1");
        endpoints.Endpoints[0].LbEndpoints[0].Endpoint.Address = null;

        Assert.Equal(
            "virtual host 'a:r' has no domains, virtual host 'a:r' appears more than once",
            Assert.Single(RouteDecoder.Instance.DecodeOne(Any.Pack(routes), "1").Errors).Reason);
        Assert.Equal("an endpoint has no address", Assert.Single(EndpointDecoder.Instance.DecodeOne(Any.Pack(endpoints), "1").Errors).Reason);
    }

    // A dump can hold a listener twice (active and warming or draining); what a server sends is one of each name.
    private static IEnumerable<T> Served<T>(IEnumerable<DumpedResource<T>> resources)
        where T : IMessage<T> =>
        resources.OrderBy(r => r.State != DumpedResourceState.Active).DistinctBy(r => r.Name).Select(r => r.Resource);

    private static void AssertAllValid<T>(XdsResourceDecoder decoder, IEnumerable<T> resources)
        where T : IMessage<T>
    {
        var list = resources.ToList();
        Assert.NotEmpty(list);
        var result = decoder.Decode(list.Select(r => (Any.Pack(r), "1", (string?)null)));
        Assert.True(result.Errors.Count == 0, string.Join("\n", result.Errors.Take(5)));
        Assert.Equal(list.Count, result.Resources.Count);
    }
}
