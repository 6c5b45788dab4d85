using Envoy.Config.Cluster.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Istio.AppSwitch.Xds.Translation;

namespace Istio.AppSwitch.Xds.Tests.Translation;

/// <summary>
/// What each kind of route and filter does to the mode of a service, on small meshes written here in Istio's shape
/// (the corpus has no weighted, fault or mirror VirtualService applied; crd-inputs/ holds the CRDs these stand for).
/// </summary>
public sealed class MeshTranslatorRoutesTests
{
    private const string Vip = "10.0.0.10";

    private static readonly Cluster[] Clusters =
    [
        EnvoyJson.Parse<Cluster>("""{"name": "outbound|9080|v1|reviews.default.svc.cluster.local", "type": "EDS", "lb_policy": "LEAST_REQUEST"}"""),
        EnvoyJson.Parse<Cluster>("""{"name": "outbound|9080|v2|reviews.default.svc.cluster.local", "type": "EDS"}"""),
        EnvoyJson.Parse<Cluster>("""
            {"name": "outbound|9080|v3|reviews.default.svc.cluster.local", "type": "EDS", "lb_policy": "RING_HASH",
             "ring_hash_lb_config": {"minimum_ring_size": "2048"},
             "circuit_breakers": {"thresholds": [{"max_connections": 100}]},
             "outlier_detection": {"consecutive_5xx": 7, "interval": "5s", "base_ejection_time": "900s", "max_ejection_percent": 100}}
            """),
    ];

    private static Listener HttpListener => EnvoyJson.Parse<Listener>("""
        {
          "name": "0.0.0.0_9080",
          "address": {"socket_address": {"address": "0.0.0.0", "port_value": 9080}},
          "traffic_direction": "OUTBOUND",
          "filter_chains": [{
            "filter_chain_match": {"transport_protocol": "raw_buffer", "application_protocols": ["http/1.1", "h2c"]},
            "filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
              "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
              "stat_prefix": "outbound_0.0.0.0_9080",
              "rds": {"route_config_name": "9080", "config_source": {"ads": {}}},
              "http_filters": [
                {"name": "envoy.filters.http.fault", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"}},
                {"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}
              ]}}]
          }]
        }
        """);

    private static OutboundService Translate(string routes, string hostExtra = "")
    {
        var config = EnvoyJson.Parse<RouteConfiguration>($$"""
            {"name": "9080", "virtual_hosts": [{
              "name": "reviews.default.svc.cluster.local:9080",
              "domains": ["reviews.default.svc.cluster.local", "reviews", "{{Vip}}", "{{Vip}}:9080"],
              {{hostExtra}}
              "routes": {{routes}}
            }]}
            """);
        var translation = MeshTranslator.Translate(new TranslationInput(Clusters, [], [HttpListener], [config]));
        var service = translation.FindOutbound($"{Vip}:9080");
        Assert.NotNull(service);
        return service;
    }

    private static string Route(string action, string match = """{"prefix": "/"}""", string extra = "") =>
        $$"""{"match": {{match}}, "route": {{action}} {{extra}}}""";

    private const string V1 = """{"cluster": "outbound|9080|v1|reviews.default.svc.cluster.local"}""";
    private const string V2 = """{"cluster": "outbound|9080|v2|reviews.default.svc.cluster.local"}""";

    [Fact]
    public void Translate_WeightedClusters_FastWithWeights()
    {
        var service = Translate("""
            [{"match": {"prefix": "/"}, "route": {"weighted_clusters": {"clusters": [
            {"name": "outbound|9080|v1|reviews.default.svc.cluster.local", "weight": 75},
            {"name": "outbound|9080|v2|reviews.default.svc.cluster.local", "weight": 25}]}}}]
            """);

        Assert.Equal(TranslationMode.Fast, service.Mode);
        Assert.Equal(
            [new WeightedDestination("outbound|9080|v1|reviews.default.svc.cluster.local", 75), new WeightedDestination("outbound|9080|v2|reviews.default.svc.cluster.local", 25)],
            service.Destinations.ToArray());
        Assert.Equal(["reviews", "reviews.default.svc.cluster.local"], service.DnsNames.ToArray());
    }

    [Fact]
    public void Translate_HeaderMatchToAnotherCluster_ChainsL7RouteMatch()
    {
        const string ByUser = """{"prefix": "/", "headers": [{"name": "end-user", "string_match": {"exact": "jason"}}]}""";
        var service = Translate($"[{Route(V2, ByUser)}, {Route(V1)}]");

        Assert.Equal(TranslationMode.Chain, service.Mode);
        Assert.Equal("l7_route_match", Assert.Single(service.Causes).Code);
        Assert.Equal(2, service.Destinations.Length);
    }

    [Fact]
    public void Translate_PathMatchToSameCluster_StaysFast()
    {
        var service = Translate($$"""[{{Route(V1, """{"path": "/healthz"}""")}}, {{Route(V1)}}]""");

        Assert.Equal(TranslationMode.Fast, service.Mode);
    }

    [Fact]
    public void Translate_NoCatchAllRoute_ChainsBecauseEnvoyWouldAnswer404()
    {
        var service = Translate($$"""[{{Route(V1, """{"prefix": "/api"}""")}}]""");

        Assert.Equal(ChainReason.L7RouteMatch, Assert.Single(service.Causes).Reason);
    }

    [Theory]
    [InlineData("""{"typed_per_filter_config": {"envoy.filters.http.fault": {"@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault", "abort": {"http_status": 503, "percentage": {"numerator": 10}}}}}""", "fault_injection")]
    [InlineData("""{"request_headers_to_add": [{"header": {"key": "x-a", "value": "b"}}]}""", "header_mutation")]
    public void Translate_RouteLevelBehaviour_Chains(string routeExtra, string code)
    {
        var extra = routeExtra.Trim()[1..^1];
        var service = Translate($$"""[{"match": {"prefix": "/"}, "route": {{V1}}, {{extra}}}]""");

        Assert.Equal(TranslationMode.Chain, service.Mode);
        Assert.Equal(code, Assert.Single(service.Causes).Code);
    }

    [Theory]
    [InlineData("\"request_mirror_policies\": [{\"cluster\": \"outbound|9080|v2|reviews.default.svc.cluster.local\"}]", "mirroring")]
    [InlineData("\"prefix_rewrite\": \"/v2/\"", "rewrite")]
    [InlineData("\"hash_policy\": [{\"header\": {\"header_name\": \"x-user\"}}]", "l7_hash_policy")]
    [InlineData("\"hash_policy\": [{\"cookie\": {\"name\": \"session\", \"ttl\": \"0s\"}}]", "l7_hash_policy")]
    [InlineData("\"retry_policy\": {\"retry_on\": \"5xx,gateway-error\", \"num_retries\": 3}", "l7_retry_policy")]
    [InlineData("\"cluster_header\": \"x-cluster\"", "dynamic_cluster_specifier")]
    public void Translate_RouteActionBehaviour_Chains(string actionField, string code)
    {
        var action = actionField.StartsWith("\"cluster_header\"", StringComparison.Ordinal)
            ? $"{{{actionField}}}"
            : $$"""{"cluster": "outbound|9080|v1|reviews.default.svc.cluster.local", {{actionField}}}""";
        var service = Translate($"[{Route(action)}]");

        Assert.Equal(TranslationMode.Chain, service.Mode);
        Assert.Contains(code, service.Causes.Select(c => c.Code));
    }

    [Fact]
    public void Translate_RedirectAndDirectResponse_Chain()
    {
        var redirect = Translate("""[{"match": {"prefix": "/"}, "redirect": {"host_redirect": "example.com"}}]""");
        var direct = Translate("""[{"match": {"prefix": "/"}, "direct_response": {"status": 404}}]""");

        Assert.Equal("redirect", Assert.Single(redirect.Causes).Code);
        Assert.Equal("direct_response", Assert.Single(direct.Causes).Code);
    }

    [Fact]
    public void Translate_SourceIpHashAndIstioDefaultRetries_FastWithHash()
    {
        var service = Translate("""
            [{"match": {"prefix": "/"}, "route": {
            "cluster": "outbound|9080|v3|reviews.default.svc.cluster.local",
            "timeout": "15s",
            "hash_policy": [{"connection_properties": {"source_ip": true}}],
            "retry_policy": {"retry_on": "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes", "num_retries": 2, "retriable_status_codes": [503]}}}]
            """);

        Assert.Equal(TranslationMode.Fast, service.Mode);
        Assert.True(service.HashOnSourceIp);
        Assert.Equal(2, service.ConnectRetries);
        Assert.Equal(TimeSpan.FromSeconds(15), service.Timeout);
    }

    [Fact]
    public void Translate_LuaAndExtAuthzHttpFilters_Chain()
    {
        var listener = HttpListener;
        var hcm = listener.FilterChains[0].Filters[0];
        var json = new Google.Protobuf.JsonFormatter(Google.Protobuf.JsonFormatter.Settings.Default.WithTypeRegistry(Istio.AppSwitch.Xds.Resources.EnvoyTypeRegistry.Registry)).Format(listener);
        var withFilters = json.Replace(
            "\"httpFilters\": [",
            """
            "httpFilters": [
              {"name": "envoy.filters.http.lua", "typedConfig": {"@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua"}},
              {"name": "envoy.filters.http.ext_authz", "typedConfig": {"@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz"}},
              {"name": "envoy.filters.http.wasm", "typedConfig": {"@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"}},
            """,
            StringComparison.Ordinal);
        Assert.NotEqual(json, withFilters);
        // Lua, ext_authz and Wasm are not generated: the reader keeps them as opaque Anys with their type URL, as here.
        var dumpJson =
            """{"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump", "dynamic_listeners": [{"name": "0.0.0.0_9080", "active_state": {"listener": {"@type": "type.googleapis.com/envoy.config.listener.v3.Listener", """
            + withFilters.Trim()[1..^1]
            + "}}}]}]}";
        var parsed = Istio.AppSwitch.Xds.Resources.ConfigDumpReader.Read(dumpJson);
        Assert.True(parsed.Succeeded, string.Join("; ", parsed.Errors));
        var config = EnvoyJson.Parse<RouteConfiguration>($$"""{"name": "9080", "virtual_hosts": [{"name": "r", "domains": ["{{Vip}}"], "routes": [{{Route(V1)}}]}]}""");

        var translation = MeshTranslator.Translate(new TranslationInput(Clusters, [], [parsed.DynamicListeners[0].Resource], [config]));

        var service = translation.FindOutbound($"{Vip}:9080");
        Assert.NotNull(service);
        Assert.Equal(["lua", "ext_authz", "wasm"], service.Causes.Select(c => c.Code).ToArray());
        Assert.NotNull(hcm);
    }

    [Fact]
    public void Translate_TcpWeightedClustersAndSourceIpHash_Fast()
    {
        var listener = EnvoyJson.Parse<Listener>("""
            {"name": "10.0.0.20_3306", "address": {"socket_address": {"address": "10.0.0.20", "port_value": 3306}},
             "filter_chains": [{"filters": [{"name": "envoy.filters.network.tcp_proxy", "typed_config": {
               "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
               "stat_prefix": "mysql",
               "weighted_clusters": {"clusters": [
                 {"name": "outbound|9080|v1|reviews.default.svc.cluster.local", "weight": 90},
                 {"name": "outbound|9080|v3|reviews.default.svc.cluster.local", "weight": 10}]},
               "hash_policy": [{"source_ip": {}}]}}]}]}
            """);

        var translation = MeshTranslator.Translate(new TranslationInput(Clusters, [], [listener], []));

        var service = translation.FindOutbound("10.0.0.20:3306");
        Assert.NotNull(service);
        Assert.Equal(TranslationMode.Fast, service.Mode);
        Assert.True(service.HashOnSourceIp);
        Assert.Equal([90u, 10u], service.Destinations.Select(d => d.Weight).ToArray());

        var ring = translation.Clusters["outbound|9080|v3|reviews.default.svc.cluster.local"];
        Assert.Equal(LoadBalancerPolicy.RingHash, ring.LbPolicy);
        Assert.Equal(2048ul, ring.MinimumRingSize);
        Assert.Equal(100u, ring.MaxConnections);
        Assert.Equal(new OutlierDetectionPolicy(7, null, null, TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(15), 100), ring.OutlierDetection);
        // proto3 JSON omits ROUND_ROBIN: an absent lb_policy is round robin, not unknown.
        Assert.Equal(LoadBalancerPolicy.RoundRobin, translation.Clusters["outbound|9080|v2|reviews.default.svc.cluster.local"].LbPolicy);
        Assert.Equal(TimeSpan.FromSeconds(5), translation.Clusters["outbound|9080|v2|reviews.default.svc.cluster.local"].ConnectTimeout);
        Assert.Equal(1024u, translation.Clusters["outbound|9080|v2|reviews.default.svc.cluster.local"].MaxConnections);
    }

    [Fact]
    public void Translate_UpstreamTls_ExplicitIstioMutualAndOriginationChain()
    {
        var mutual = EnvoyJson.Parse<Cluster>("""
            {"name": "outbound|443||secure.default.svc.cluster.local", "type": "EDS",
             "transport_socket": {"name": "envoy.transport_sockets.tls", "typed_config": {
               "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
               "common_tls_context": {"alpn_protocols": ["istio-peer-exchange", "istio"], "tls_certificate_sds_secret_configs": [{"name": "default"}]}}}}
            """);
        var origination = EnvoyJson.Parse<Cluster>("""
            {"name": "outbound|443||api.example.com", "type": "STRICT_DNS",
             "transport_socket": {"name": "envoy.transport_sockets.tls", "typed_config": {
               "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext", "sni": "api.example.com"}}}
            """);

        var translation = MeshTranslator.Translate(new TranslationInput([mutual, origination], [], [], []));

        Assert.Equal(UpstreamTlsMode.IstioMutual, translation.Clusters[mutual.Name].UpstreamTls);
        Assert.Equal("upstream_mtls", Assert.Single(translation.Clusters[mutual.Name].Causes).Code);
        Assert.Equal(UpstreamTlsMode.Tls, translation.Clusters[origination.Name].UpstreamTls);
        Assert.Equal(TranslationMode.Chain, translation.Clusters[origination.Name].Mode);
        Assert.Equal(ClusterDiscovery.StrictDns, translation.Clusters[origination.Name].Discovery);
    }

    [Fact]
    public void ChainReasons_EveryReasonHasAStableSnakeCaseCodeAndText()
    {
        var codes = ChainReasons.All.Select(r => r.Code()).ToList();

        Assert.Equal(codes.Count, codes.Distinct(StringComparer.Ordinal).Count());
        Assert.All(codes, c => Assert.Matches("^[a-z][a-z0-9_]*$", c));
        Assert.All(ChainReasons.All, r => Assert.False(string.IsNullOrWhiteSpace(r.Text())));
    }
}
