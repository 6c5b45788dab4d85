using System.Text.Json.Nodes;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Core.V3;
using Envoy.Config.Listener.V3;
using Envoy.Extensions.Filters.Http.Router.V3;
using Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Envoy.Extensions.Filters.Network.TcpProxy.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Istio.AppSwitch.Xds.Resources;

namespace Istio.AppSwitch.Xds.Tests.Resources;

/// <summary>
/// The whole Istio 1.18.2 sidecar dump of DeathStarBench (<c>sidecar-full</c>): every section, every dynamic resource.
/// </summary>
public sealed class ConfigDumpReaderDeathStarBenchTests(DeathStarBenchDumpFixture dump) : IClassFixture<DeathStarBenchDumpFixture>
{
    private const string Version = "2025-02-17T14:49:37Z/296";
    private const string LuaTypeUrl = "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua";

    private ConfigDumpReadResult Result => dump.Result;

    [Fact]
    public void Read_DeathStarBenchDump_Succeeds()
    {
        Assert.Empty(Result.Errors);
        Assert.True(Result.Succeeded);
        Assert.Equal(7, Result.Dump.Configs.Count);
    }

    [Fact]
    public void Read_DeathStarBenchDump_ListsDynamicResourcesByState()
    {
        // The corpus README counts 143 clusters, 143 ClusterLoadAssignments and 92 route configs, static ones
        // included, and 142 (dynamic) listeners. Two of those listeners Envoy rejected: they are error_state only.
        Assert.Equal(138, Result.DynamicClusters.Count);
        Assert.All(Result.DynamicClusters, c => Assert.Equal(DumpedResourceState.Active, c.State));
        Assert.Equal(142, Result.DynamicListeners.Count);
        Assert.Equal(140, Result.DynamicListeners.Count(l => l.State == DumpedResourceState.Active));
        Assert.Equal(2, Result.DynamicListeners.Count(l => l.State == DumpedResourceState.Rejected));
        Assert.Equal(90, Result.DynamicRouteConfigurations.Count);
        Assert.Equal(138, Result.DynamicEndpoints.Count);

        Assert.Equal(143, Result.DynamicClusters.Count + Result.Static.Clusters.Count);
        Assert.Equal(143, Result.DynamicEndpoints.Count + Result.Static.Endpoints.Count);
        Assert.Equal(92, Result.DynamicRouteConfigurations.Count + Result.Static.RouteConfigurations.Count);
    }

    [Fact]
    public void Read_DeathStarBenchDump_KeepsStaticResourcesApart()
    {
        var bootstrapClusters = new[] { "agent", "prometheus_stats", "sds-grpc", "xds-grpc", "zipkin" };
        Assert.Equal(bootstrapClusters, Result.Static.Clusters.Select(c => c.Name).Order(StringComparer.Ordinal));
        Assert.Equal(bootstrapClusters, Result.Static.Endpoints.Select(e => e.Name).Order(StringComparer.Ordinal));
        Assert.All(Result.Static.Clusters, c => Assert.Equal(DumpedResourceState.Static, c.State));
        Assert.DoesNotContain(Result.DynamicClusters, c => bootstrapClusters.Contains(c.Name));
        Assert.Equal([15090u, 15021u], Result.Static.Listeners.Select(l => l.Resource.Address.SocketAddress.PortValue));
        Assert.Equal(2, Result.Static.RouteConfigurations.Count);

        Assert.NotNull(Result.Static.Bootstrap);
        Assert.Equal(ApiConfigSource.Types.ApiType.Grpc, Result.Static.Bootstrap.DynamicResources.AdsConfig.ApiType);
        Assert.StartsWith("sidecar~", Result.Static.Bootstrap.Node.Id, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_DeathStarBenchDump_DecodesEveryDynamicResourceOfTheFile()
    {
        // Count and name what the file holds with plain JSON, independently of the reader.
        var clusters = dump.Section("ClustersConfigDump")["dynamic_active_clusters"]!.AsArray();
        Assert.Equal(
            clusters.Select(c => (string)c!["cluster"]!["name"]!),
            Result.DynamicClusters.Select(c => c.Name));

        var listeners = dump.Section("ListenersConfigDump")["dynamic_listeners"]!.AsArray();
        Assert.Equal(
            listeners.Select(l => (string?)l!["name"] ?? (string)l!["error_state"]!["failed_configuration"]!["name"]!),
            Result.DynamicListeners.Select(l => l.Name));

        var routes = dump.Section("RoutesConfigDump")["dynamic_route_configs"]!.AsArray();
        Assert.Equal(
            routes.Select(r => (string)r!["route_config"]!["name"]!),
            Result.DynamicRouteConfigurations.Select(r => r.Name));

        var endpoints = dump.Section("EndpointsConfigDump")["dynamic_endpoint_configs"]!.AsArray();
        Assert.Equal(
            endpoints.Select(e => (string)e!["endpoint_config"]!["cluster_name"]!),
            Result.DynamicEndpoints.Select(e => e.Name));

        Assert.Equal(
            clusters.Select(c => (string)c!["version_info"]!),
            Result.DynamicClusters.Select(c => c.VersionInfo));
        Assert.Equal(
            routes.Select(r => (string)r!["version_info"]!),
            Result.DynamicRouteConfigurations.Select(r => r.VersionInfo));
        Assert.All(Result.DynamicListeners.Where(l => l.State == DumpedResourceState.Active), l => Assert.Equal(Version, l.VersionInfo));
        Assert.All(Result.DynamicEndpoints, e => Assert.Empty(e.VersionInfo));
        Assert.All(Result.DynamicClusters, c => Assert.NotNull(c.LastUpdated));
    }

    [Fact]
    public void Read_DeathStarBenchDump_EveryTypedConfigIsDecodedOrOpaque()
    {
        var typedConfigs = Result.DynamicListeners.SelectMany(l => TypedConfigsOf(l.Resource)).ToList();
        Assert.NotEmpty(typedConfigs);
        foreach (var config in typedConfigs)
        {
            if (config.IsOpaque())
            {
                Assert.True(config.Value.IsEmpty, config.TypeUrl);
            }
            else
            {
                Assert.NotNull(config.Unpack(EnvoyTypeRegistry.Registry));
            }
        }
        Assert.Contains(typedConfigs, c => c.Is(TcpProxy.Descriptor));
        Assert.Contains(typedConfigs, c => c.Is(HttpConnectionManager.Descriptor));
        Assert.Contains(typedConfigs, c => c.Is(Router.Descriptor));
    }

    [Fact]
    public void Read_DeathStarBenchDump_CountsEveryOpaqueTypeUrl()
    {
        // Outermost Anys only: the MetadataExchange configs nested in Wasm filter configs are inside opaque JSON.
        // http_inspector and raw_buffer are generated (proto/roots.txt, for docs/envoy-chaining.md): decoded, not opaque.
        var expected = new Dictionary<string, int>
        {
            ["type.googleapis.com/envoy.config.trace.v3.ZipkinConfig"] = 1,
            ["type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog"] = 400,
            ["type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"] = 105,
            ["type.googleapis.com/envoy.extensions.filters.http.grpc_stats.v3.FilterConfig"] = 105,
            [LuaTypeUrl] = 4,
            ["type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"] = 105,
            ["type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst"] = 2,
            ["type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"] = 99,
            ["type.googleapis.com/envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig"] = 105,
            ["type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"] = 112,
            ["type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions"] = 90,
            ["type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange"] = 157,
            ["type.googleapis.com/istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig"] = 97,
            ["type.googleapis.com/stats.PluginConfig"] = 260,
            ["type.googleapis.com/udpa.type.v1.TypedStruct"] = 21,
        };
        Assert.Equal(expected.OrderBy(p => p.Key, StringComparer.Ordinal), Result.OpaqueCounts);
        Assert.Equal(expected.Values.Sum(), Result.OpaqueResources.Count);
        Assert.All(Result.OpaqueResources, o => Assert.Equal(o.TypeUrl, (string?)JsonNode.Parse(o.Json)!["@type"]));
    }

    [Fact]
    public void Read_DeathStarBenchDump_KeepsLuaFilterOpaqueAndCounted()
    {
        Assert.Equal(4, Result.OpaqueCounts[LuaTypeUrl]);

        // The EnvoyFilter's Lua filter has no source code, so Envoy rejected the virtualInbound listener holding it.
        var rejected = Result.DynamicListeners.Where(l => l.State == DumpedResourceState.Rejected).ToList();
        Assert.Equal(2, rejected.Count);
        Assert.All(rejected, l =>
        {
            Assert.Equal("virtualInbound", l.Name);
            Assert.Contains("LuaValidationError", l.ErrorDetails, StringComparison.Ordinal);
        });
        Assert.Equal(new DateTimeOffset(2025, 2, 17, 15, 17, 48, 372, TimeSpan.Zero), rejected[0].LastUpdated);

        var luaFilters = rejected
            .SelectMany(l => l.Resource.FindNetworkFilters<HttpConnectionManager>())
            .SelectMany(hcm => hcm.Config.HttpFilters)
            .Where(f => f.TypedConfig?.TypeUrl == LuaTypeUrl)
            .ToList();
        Assert.Equal(4, luaFilters.Count);
        Assert.All(luaFilters, f =>
        {
            Assert.Equal("envoy.filters.http.lua", f.Name);
            Assert.True(f.TypedConfig.IsOpaque());
            Assert.Equal(ByteString.Empty, f.TypedConfig.Value);
        });

        var luaJson = Result.OpaqueResources.Where(o => o.TypeUrl == LuaTypeUrl).ToList();
        Assert.All(luaJson, o =>
        {
            Assert.Contains(".error_state.failed_configuration.filter_chains[", o.Path, StringComparison.Ordinal);
            Assert.Equal(new JsonObject(), JsonNode.Parse(o.Json)!["default_source_code"], JsonNode.DeepEquals);
        });
    }

    [Fact]
    public void Read_DeathStarBenchDump_DropsNoKnownField()
    {
        // The protos ax generates still define every field this Envoy 1.26 dump uses, deprecated ones included
        // (max_grpc_timeout, HeaderMatcher.exact_match), so nothing was stripped.
        Assert.Empty(Result.UnknownFields);
        Assert.Empty(Result.UnknownFieldCounts);
    }

    [Fact]
    public void Read_VipPortListener_TcpProxyNamesOutboundCluster()
    {
        var listener = Single(Result.DynamicListeners, "10.68.227.3_53");

        Assert.Equal(Version, listener.VersionInfo);
        Assert.Equal("10.68.227.3", listener.Resource.Address.SocketAddress.Address);
        Assert.Equal(53u, listener.Resource.Address.SocketAddress.PortValue);
        Assert.Equal(TrafficDirection.Outbound, listener.Resource.TrafficDirection);
        var tcpProxy = Assert.Single(listener.Resource.FindNetworkFilters<TcpProxy>());
        Assert.Equal("envoy.filters.network.tcp_proxy", tcpProxy.Filter.Name);
        Assert.Equal("outbound|53||kube-dns-upstream.kube-system.svc.cluster.local", tcpProxy.Config.Cluster);
        Assert.Equal(tcpProxy.Config.Cluster, tcpProxy.Config.StatPrefix);
        Assert.Contains(listener.Resource.FilterChains[0].Filters, f => f.Name == "istio.stats" && f.TypedConfig.IsOpaque());
    }

    [Fact]
    public void Read_VirtualOutbound_RoutesUnmatchedTrafficToPassthrough()
    {
        var listener = Single(Result.DynamicListeners, "virtualOutbound").Resource;

        Assert.Equal(15001u, listener.Address.SocketAddress.PortValue);
        Assert.True(listener.UseOriginalDst);
        Assert.Equal(
            [("virtualOutbound-blackhole", "BlackHoleCluster"), ("virtualOutbound-catchall-tcp", "PassthroughCluster")],
            listener.FindNetworkFilters<TcpProxy>().Select(t => (t.FilterChain.Name, t.Config.Cluster)));
    }

    [Fact]
    public void Read_HttpListener_UsesRdsAndRouterFilter()
    {
        var listener = Single(Result.DynamicListeners, "0.0.0.0_9090").Resource;

        var hcm = Assert.Single(listener.FindNetworkFilters<HttpConnectionManager>()).Config;
        Assert.Equal("9090", hcm.Rds.RouteConfigName);
        Assert.NotNull(hcm.Rds.ConfigSource.Ads);
        Assert.Equal(
            ["istio.metadata_exchange", "envoy.filters.http.grpc_stats", "istio.alpn", "envoy.filters.http.fault", "envoy.filters.http.cors", "istio.stats", "envoy.filters.http.router"],
            hcm.HttpFilters.Select(f => f.Name));
        Assert.Single(hcm.FindHttpFilters<Router>());
        Assert.Single(hcm.FindHttpFilters<Envoy.Extensions.Filters.Http.Fault.V3.HTTPFault>());
    }

    [Fact]
    public void Read_OutboundCluster_LeastRequestOverEds()
    {
        var cluster = Single(Result.DynamicClusters, "outbound|53||kube-dns-upstream.kube-system.svc.cluster.local").Resource;

        Assert.Equal(Cluster.Types.DiscoveryType.Eds, cluster.Type);
        Assert.Equal(Cluster.Types.LbPolicy.LeastRequest, cluster.LbPolicy);
        Assert.Equal(Duration.FromTimeSpan(TimeSpan.FromSeconds(10)), cluster.ConnectTimeout);
        Assert.Equal("outbound|53||kube-dns-upstream.kube-system.svc.cluster.local", cluster.EdsClusterConfig.ServiceName);
        var thresholds = Assert.Single(cluster.CircuitBreakers.Thresholds);
        Assert.Equal(uint.MaxValue, thresholds.MaxConnections);
        Assert.Equal(uint.MaxValue, thresholds.MaxRequests);
        Assert.True(thresholds.TrackRemaining);
        Assert.NotNull(cluster.CommonLbConfig.LocalityWeightedLbConfig);
        Assert.Equal(122, Result.DynamicClusters.Count(c => c.Resource.LbPolicy == Cluster.Types.LbPolicy.LeastRequest));
    }

    [Fact]
    public void Read_PassthroughCluster_OriginalDstWithOpaqueProtocolOptions()
    {
        var cluster = Single(Result.DynamicClusters, "PassthroughCluster").Resource;

        Assert.Equal(Cluster.Types.DiscoveryType.OriginalDst, cluster.Type);
        Assert.Equal(Cluster.Types.LbPolicy.ClusterProvided, cluster.LbPolicy);
        // An opaque Any inside a map, inside the packed Cluster, inside the dump: its type URL survives.
        var options = cluster.TypedExtensionProtocolOptions["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"];
        Assert.Equal("type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions", options.TypeUrl);
        Assert.True(options.IsOpaque());
        Assert.Equal(15, Result.DynamicClusters.Count(c => c.Resource.Type == Cluster.Types.DiscoveryType.OriginalDst));
    }

    [Fact]
    public void Read_RouteConfiguration_CarriesIstioDefaultRetryPolicy()
    {
        var routeConfig = Single(Result.DynamicRouteConfigurations, "recommendation.hotel-res.svc.cluster.local:8085");

        Assert.Equal(Version, routeConfig.VersionInfo);
        Assert.False(routeConfig.Resource.ValidateClusters);
        Assert.True(routeConfig.Resource.IgnorePortInHostMatching);
        var virtualHost = Assert.Single(routeConfig.Resource.VirtualHosts);
        Assert.Equal(["*"], virtualHost.Domains);
        Assert.True(virtualHost.IncludeRequestAttemptCount);
        var route = Assert.Single(virtualHost.Routes);
        Assert.Equal("/", route.Match.Prefix);
        Assert.Equal("outbound|8085||recommendation.hotel-res.svc.cluster.local", route.Route_.Cluster);
        Assert.Equal(new Duration(), route.Route_.Timeout);

        var retry = route.Route_.RetryPolicy;
        Assert.Equal("connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes", retry.RetryOn);
        Assert.Equal(2u, retry.NumRetries);
        Assert.Equal(5L, retry.HostSelectionRetryMaxAttempts);
        Assert.Equal([503u], retry.RetriableStatusCodes);
        var predicate = Assert.Single(retry.RetryHostPredicate);
        Assert.Equal("envoy.retry_host_predicates.previous_hosts", predicate.Name);
        Assert.True(predicate.TypedConfig.IsOpaque());

        var allRetryPolicies = Result.DynamicRouteConfigurations
            .SelectMany(r => r.Resource.VirtualHosts)
            .SelectMany(v => v.Routes)
            .Where(r => r.Route_?.RetryPolicy is not null)
            .Select(r => r.Route_.RetryPolicy)
            .ToList();
        Assert.Equal(112, allRetryPolicies.Count);
        Assert.All(allRetryPolicies, p => Assert.Equal(retry, p));
    }

    [Fact]
    public void Read_EndpointConfig_CarriesEndpointAddress()
    {
        var assignment = Single(Result.DynamicEndpoints, "outbound|9090||text-service.social-network.svc.cluster.local").Resource;

        Assert.Equal(140u, assignment.Policy.OverprovisioningFactor);
        var locality = Assert.Single(assignment.Endpoints);
        Assert.Equal(1u, locality.LoadBalancingWeight);
        var endpoint = Assert.Single(locality.LbEndpoints);
        Assert.Equal("172.16.18.254", endpoint.Endpoint.Address.SocketAddress.Address);
        Assert.Equal(9090u, endpoint.Endpoint.Address.SocketAddress.PortValue);
        Assert.Equal(HealthStatus.Healthy, endpoint.HealthStatus);
        Assert.Equal(1u, endpoint.LoadBalancingWeight);
        Assert.Equal(
            "text-service;social-network;text-service;;Kubernetes",
            endpoint.Metadata.FilterMetadata["istio"].Fields["workload"].StringValue);
    }

    private static DumpedResource<T> Single<T>(IEnumerable<DumpedResource<T>> resources, string name)
        where T : IMessage<T> =>
        Assert.Single(resources, r => r.Name == name && r.State == DumpedResourceState.Active);

    private static IEnumerable<Any> TypedConfigsOf(Listener listener)
    {
        foreach (var filter in listener.ListenerFilters.Where(f => f.TypedConfig is not null))
        {
            yield return filter.TypedConfig;
        }
        foreach (var chain in listener.AllFilterChains())
        {
            if (chain.TransportSocket?.TypedConfig is { } socket)
            {
                yield return socket;
            }
            foreach (var filter in chain.Filters)
            {
                yield return filter.TypedConfig;
                if (filter.TypedConfig.TryUnpackConfig(out HttpConnectionManager? hcm))
                {
                    foreach (var httpFilter in hcm.HttpFilters)
                    {
                        yield return httpFilter.TypedConfig;
                    }
                }
            }
        }
    }
}
