using System.Text;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Core.V3;
using Envoy.Extensions.Filters.Network.TcpProxy.V3;
using Google.Protobuf.WellKnownTypes;
using Istio.AppSwitch.Xds.Resources;

namespace Istio.AppSwitch.Xds.Tests.Resources;

/// <summary>
/// Small hand-written dumps for what the corpus lacks: unknown fields and enum names, opaque Anys in unusual places,
/// <c>@type</c> as plain data, proto defaults.
/// </summary>
public sealed class ConfigDumpReaderSchemaTests
{
    private const string ClusterPath = "$.configs[0].dynamic_active_clusters[0].cluster";

    [Fact]
    public void Read_ClusterWithoutOptionalFields_ReadsProtoDefaults()
    {
        // proto3 JSON omits defaults: no lb_policy is ROUND_ROBIN, no type is STATIC, no priority is 0.
        var result = ConfigDumpReader.Read(ClusterDump("""
            "name": "plain", "load_assignment": {"cluster_name": "plain", "endpoints": [{"lb_endpoints": [{}]}]}
            """));

        var cluster = Assert.Single(result.DynamicClusters).Resource;
        Assert.Equal(Cluster.Types.LbPolicy.RoundRobin, cluster.LbPolicy);
        Assert.Equal(Cluster.Types.DiscoveryType.Static, cluster.Type);
        Assert.Null(cluster.ConnectTimeout);
        Assert.Equal(0u, cluster.LoadAssignment.Endpoints[0].Priority);
        Assert.Equal(HealthStatus.Unknown, cluster.LoadAssignment.Endpoints[0].LbEndpoints[0].HealthStatus);
        Assert.Empty(result.UnknownFields);
    }

    [Fact]
    public void Read_UnknownFields_StripsAndRecordsEachWithPathAndValue()
    {
        var result = ConfigDumpReader.Read(ClusterDump("""
            "name": "c", "hosts": [{"socket_address": {"address": "10.0.0.1"}}],
            "circuit_breakers": {"thresholds": [{"max_connections": 5, "max_retry_budget": 1}]}
            """));

        Assert.True(result.Succeeded);
        Assert.Equal(
            [
                new UnknownField(ClusterPath + ".hosts", "envoy.config.cluster.v3.Cluster", "hosts", UnknownFieldKind.Field, """[{"socket_address": {"address": "10.0.0.1"}}]"""),
                new UnknownField(ClusterPath + ".circuit_breakers.thresholds[0].max_retry_budget", "envoy.config.cluster.v3.CircuitBreakers.Thresholds", "max_retry_budget", UnknownFieldKind.Field, "1"),
            ],
            result.UnknownFields);
        Assert.Equal(1, result.UnknownFieldCounts["envoy.config.cluster.v3.Cluster.hosts"]);
        var cluster = Assert.Single(result.DynamicClusters).Resource;
        Assert.Equal(5u, cluster.CircuitBreakers.Thresholds[0].MaxConnections);
    }

    [Fact]
    public void Read_UnknownEnumNames_RecordsThemAndLeavesTheDefault()
    {
        var result = ConfigDumpReader.Read(ClusterDump("""
            "name": "c", "lb_policy": "FANCY",
            "common_lb_config": {"override_host_status": {"statuses": ["HEALTHY", "SPARKLY", "DRAINING"]}}
            """));

        Assert.True(result.Succeeded);
        var cluster = Assert.Single(result.DynamicClusters).Resource;
        Assert.Equal(Cluster.Types.LbPolicy.RoundRobin, cluster.LbPolicy);
        Assert.Equal([HealthStatus.Healthy, HealthStatus.Draining], cluster.CommonLbConfig.OverrideHostStatus.Statuses);
        Assert.Equal(
            [
                new UnknownField(ClusterPath + ".lb_policy", "envoy.config.cluster.v3.Cluster", "lb_policy", UnknownFieldKind.EnumValue, "\"FANCY\""),
                new UnknownField(ClusterPath + ".common_lb_config.override_host_status.statuses[1]", "envoy.config.core.v3.HealthStatusSet", "statuses", UnknownFieldKind.EnumValue, "\"SPARKLY\""),
            ],
            result.UnknownFields);
    }

    [Fact]
    public void Read_EnumAsNumber_KeepsTheNumber()
    {
        var result = ConfigDumpReader.Read(ClusterDump("\"name\": \"c\", \"lb_policy\": 1, \"dns_lookup_family\": 42"));

        var cluster = Assert.Single(result.DynamicClusters).Resource;
        Assert.Equal(Cluster.Types.LbPolicy.LeastRequest, cluster.LbPolicy);
        Assert.Equal(42, (int)cluster.DnsLookupFamily);
    }

    [Fact]
    public void Read_TypeKeyInsideStruct_IsPlainData()
    {
        var result = ConfigDumpReader.Read(ClusterDump("""
            "name": "c", "metadata": {"filter_metadata": {"istio": {"@type": "type.googleapis.com/not.Generated", "n": 1}}}
            """));

        Assert.Empty(result.OpaqueResources);
        var istio = Assert.Single(result.DynamicClusters).Resource.Metadata.FilterMetadata["istio"];
        Assert.Equal("type.googleapis.com/not.Generated", istio.Fields["@type"].StringValue);
        Assert.Equal(1, istio.Fields["n"].NumberValue);
    }

    [Fact]
    public void Read_OpaqueAnyInMapOfRoute_KeepsTypeUrlAndJson()
    {
        var json = """
            {"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump", "dynamic_route_configs": [{"route_config": {
              "@type": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration", "name": "r",
              "virtual_hosts": [{"name": "v", "domains": ["*"], "typed_per_filter_config": {
                "envoy.filters.http.lua": {"@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.LuaPerRoute", "disabled": true}}}]}}]}]}
            """;

        var result = ConfigDumpReader.Read(json);

        var opaque = Assert.Single(result.OpaqueResources);
        Assert.Equal("type.googleapis.com/envoy.extensions.filters.http.lua.v3.LuaPerRoute", opaque.TypeUrl);
        Assert.Equal("$.configs[0].dynamic_route_configs[0].route_config.virtual_hosts[0].typed_per_filter_config['envoy.filters.http.lua']", opaque.Path);
        // The original text, as it was written.
        Assert.Equal("""{"@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.LuaPerRoute", "disabled": true}""", opaque.Json);
        var perRoute = Assert.Single(result.DynamicRouteConfigurations).Resource.VirtualHosts[0].TypedPerFilterConfig["envoy.filters.http.lua"];
        Assert.Equal(opaque.TypeUrl, perRoute.TypeUrl);
        Assert.True(perRoute.IsOpaque());
    }

    [Fact]
    public void Read_WellKnownTypesInAny_StayAsTheyAre()
    {
        // The reader's placeholder is an Any of google.protobuf.Empty; a real one next to an opaque one must survive.
        var result = ConfigDumpReader.Read(ClusterDump("""
            "name": "c",
            "filters": [
              {"name": "empty", "typed_config": {"@type": "type.googleapis.com/google.protobuf.Empty", "value": {}}},
              {"name": "opaque", "typed_config": {"@type": "type.googleapis.com/istio.Unknown", "x": [1, 2]}},
              {"name": "struct", "typed_config": {"@type": "type.googleapis.com/google.protobuf.Struct", "value": {"a": 1}}},
              {"name": "tcp", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", "cluster": "x"}},
              {"name": "nested", "typed_config": {"@type": "type.googleapis.com/google.protobuf.Any", "value": {"@type": "type.googleapis.com/istio.Unknown"}}}
            ]
            """));

        var filters = Assert.Single(result.DynamicClusters).Resource.Filters;
        Assert.Equal("type.googleapis.com/google.protobuf.Empty", filters[0].TypedConfig.TypeUrl);
        Assert.False(filters[0].TypedConfig.IsOpaque());
        Assert.Equal("type.googleapis.com/istio.Unknown", filters[1].TypedConfig.TypeUrl);
        Assert.True(filters[1].TypedConfig.IsOpaque());
        Assert.Equal(1, filters[2].TypedConfig.Unpack<Struct>().Fields["a"].NumberValue);
        Assert.True(filters[3].TypedConfig.TryUnpackConfig(out TcpProxy? tcpProxy));
        Assert.Equal("x", tcpProxy.Cluster);
        Assert.Equal("type.googleapis.com/istio.Unknown", filters[4].TypedConfig.Unpack<Any>().TypeUrl);
        Assert.Equal(
            ["$.configs[0].dynamic_active_clusters[0].cluster.filters[1].typed_config", "$.configs[0].dynamic_active_clusters[0].cluster.filters[4].typed_config.value"],
            result.OpaqueResources.Select(o => o.Path));
        Assert.Equal(2, result.OpaqueCounts["type.googleapis.com/istio.Unknown"]);
    }

    [Fact]
    public void Read_JsonNamesInsteadOfProtoNames_AreAccepted()
    {
        var result = ConfigDumpReader.Read(ClusterDump("\"name\": \"c\", \"lbPolicy\": \"MAGLEV\", \"connectTimeout\": \"1.5s\""));

        var cluster = Assert.Single(result.DynamicClusters).Resource;
        Assert.Equal(Cluster.Types.LbPolicy.Maglev, cluster.LbPolicy);
        Assert.Equal(Duration.FromTimeSpan(TimeSpan.FromMilliseconds(1500)), cluster.ConnectTimeout);
        Assert.Empty(result.UnknownFields);
    }

    [Fact]
    public void Read_WarmingAndDrainingListeners_ListsOneEntryPerState()
    {
        var json = """
            {"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump", "dynamic_listeners": [{
              "name": "l",
              "active_state": {"version_info": "1", "listener": {"@type": "type.googleapis.com/envoy.config.listener.v3.Listener", "name": "l"}},
              "warming_state": {"version_info": "2", "listener": {"@type": "type.googleapis.com/envoy.config.listener.v3.Listener", "name": "l"}},
              "draining_state": {"version_info": "0", "listener": {"@type": "type.googleapis.com/envoy.config.listener.v3.Listener", "name": "l"}},
              "error_state": {"version_info": "3", "details": "bad", "failed_configuration": {"@type": "type.googleapis.com/envoy.config.listener.v3.Listener", "name": "l"}}}]}]}
            """;

        var listeners = ConfigDumpReader.Read(json).DynamicListeners;

        Assert.Equal(
            [
                (DumpedResourceState.Active, "1", (string?)null),
                (DumpedResourceState.Warming, "2", null),
                (DumpedResourceState.Draining, "0", null),
                (DumpedResourceState.Rejected, "3", "bad"),
            ],
            listeners.Select(l => (l.State, l.VersionInfo, l.ErrorDetails)));
        Assert.All(listeners, l => Assert.Equal("l", l.Name));
        Assert.Equal("$.configs[0].dynamic_listeners[0].warming_state.listener", listeners[1].Path);
    }

    [Fact]
    public void Read_EmptyDump_SucceedsWithNothing()
    {
        var result = ConfigDumpReader.Read("{}");

        Assert.True(result.Succeeded);
        Assert.Empty(result.Dump.Configs);
        Assert.Empty(result.DynamicListeners);
        Assert.Null(result.Static.Bootstrap);
    }

    [Fact]
    public void Read_Utf8Bytes_SameAsText()
    {
        var text = Corpus.ReadText(Corpus.RouteRetriesAndCluster);

        var fromText = ConfigDumpReader.Read(text);
        var fromBytes = ConfigDumpReader.Read(Encoding.UTF8.GetBytes(text));

        Assert.Equal(fromText.Dump, fromBytes.Dump);
        Assert.Equal(fromText.OpaqueResources, fromBytes.OpaqueResources);
    }

    private static string ClusterDump(string clusterFields) => $$$"""
        {"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
          "dynamic_active_clusters": [{"cluster": {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", {{{clusterFields}}}}}]}]}
        """;
}
