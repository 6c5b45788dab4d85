using System.Diagnostics;
using System.Text.Json.Nodes;
using Envoy.Config.Listener.V3;
using Istio.AppSwitch.Xds.Resources;
using Istio.AppSwitch.Xds.Tests.Resources;
using Istio.AppSwitch.Xds.Translation;

namespace Istio.AppSwitch.Xds.Tests.Translation;

/// <summary>The whole Istio 1.18.2 DeathStarBench sidecar, translated.</summary>
public sealed class MeshTranslatorDeathStarBenchTests(DeathStarBenchDumpFixture dump) : IClassFixture<DeathStarBenchDumpFixture>
{
    private const string MongoUser = "outbound|27017||mongodb-user.hr2.svc.cluster.local";

    private MeshTranslation Translation => MeshTranslator.Translate(dump.Result);

    [Fact]
    public void Translate_VipPortTcpListener_FastToItsLeastRequestCluster()
    {
        var translation = Translation;

        var service = translation.FindOutbound("10.68.54.170:27017");
        Assert.NotNull(service);
        Assert.Equal("10.68.54.170_27017", service.Listener);
        Assert.Equal(ServiceProtocol.Tcp, service.Protocol);
        Assert.Equal(TranslationMode.Fast, service.Mode);
        Assert.Empty(service.Causes);
        Assert.Equal([new WeightedDestination(MongoUser, 1)], service.Destinations.ToArray());
        Assert.Equal(["mongodb-user.hr2.svc.cluster.local"], service.DnsNames.ToArray());

        var cluster = translation.Clusters[MongoUser];
        Assert.Equal(ClusterDiscovery.Eds, cluster.Discovery);
        Assert.Equal(LoadBalancerPolicy.LeastRequest, cluster.LbPolicy);
        Assert.Equal(2u, cluster.ChoiceCount);
        Assert.Equal(TimeSpan.FromSeconds(10), cluster.ConnectTimeout);
        Assert.Equal(uint.MaxValue, cluster.MaxConnections);
        Assert.Null(cluster.OutlierDetection);
        Assert.Equal(UpstreamTlsMode.IstioAutoMtls, cluster.UpstreamTls);
        Assert.True(cluster.LocalityWeighted);

        // Endpoints as the dump lists them, counted independently of the reader.
        var cla = dump.Section("EndpointsConfigDump")["dynamic_endpoint_configs"]!.AsArray()
            .Single(e => (string?)e!["endpoint_config"]!["cluster_name"] == MongoUser)!["endpoint_config"]!;
        var lbEndpoints = cla["endpoints"]!.AsArray().SelectMany(l => l!["lb_endpoints"]!.AsArray()).ToList();
        Assert.Equal(lbEndpoints.Count, cluster.Endpoints.Length);
        var endpoint = Assert.Single(cluster.Endpoints);
        Assert.Equal("172.16.188.17", endpoint.Address);
        Assert.Equal(27017u, endpoint.Port);
        Assert.Equal(1u, endpoint.Weight);
        Assert.Equal(0u, endpoint.Priority);
        Assert.Equal(EndpointHealth.Healthy, endpoint.Health);
        Assert.True(endpoint.Usable);
        Assert.True(endpoint.IstioMtls);
    }

    [Fact]
    public void Translate_HttpRouteWithIstioDefaultRetryPolicy_StaysFast()
    {
        // 0.0.0.0_9080 → RDS "9080" → virtual host reviews.default...:9080, whose one catch-all route carries Istio's
        // default retry_policy (connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes; 2 retries).
        var service = Translation.FindOutbound("10.68.111.247:9080");

        Assert.NotNull(service);
        Assert.Equal("0.0.0.0_9080", service.Listener);
        Assert.Equal("9080/reviews.default.svc.cluster.local:9080", service.RouteConfig);
        Assert.Equal(ServiceProtocol.Http, service.Protocol);
        Assert.Equal(TranslationMode.Fast, service.Mode);
        Assert.Empty(service.Causes);
        Assert.Equal(2, service.ConnectRetries);
        Assert.Null(service.Timeout); // "timeout": "0s" disables the route timeout.
        Assert.Equal(["outbound|9080||reviews.default.svc.cluster.local"], service.Destinations.Select(d => d.Cluster));
        Assert.Contains("reviews.default.svc.cluster.local", service.DnsNames);
    }

    [Fact]
    public void Translate_SniffedVipListener_SameClusterForHttpAndTcpIsFast()
    {
        // HTTP chain (RDS) and default TCP chain both go to jaeger: ax does not need to sniff.
        var service = Translation.FindOutbound("10.68.66.148:16686");

        Assert.NotNull(service);
        Assert.Equal(ServiceProtocol.Sniffed, service.Protocol);
        Assert.Equal(TranslationMode.Fast, service.Mode);
        Assert.Equal(["outbound|16686||jaeger.social-network.svc.cluster.local"], service.Destinations.Select(d => d.Cluster));
    }

    [Fact]
    public void Translate_VirtualOutboundAndOriginalDst_Passthrough()
    {
        var translation = Translation;

        // virtualOutbound: ALLOW_ANY → PassthroughCluster; its 15001 loop-guard chain (BlackHoleCluster) is not for apps.
        var catchAll = translation.FindOutbound("0.0.0.0/0:*");
        Assert.NotNull(catchAll);
        Assert.Equal("virtualOutbound", catchAll.Listener);
        Assert.Equal(TranslationMode.Passthrough, catchAll.Mode);
        Assert.Equal(0, catchAll.PrefixLength);

        var passthrough = translation.Clusters["PassthroughCluster"];
        Assert.Equal(ClusterDiscovery.OriginalDst, passthrough.Discovery);
        Assert.Equal(LoadBalancerPolicy.ClusterProvided, passthrough.LbPolicy);
        Assert.Equal(TranslationMode.Passthrough, passthrough.Mode);
        Assert.Equal(TranslationMode.Blackhole, translation.Clusters["BlackHoleCluster"].Mode);

        // The allow_any virtual host of 0.0.0.0_80 and every ORIGINAL_DST cluster (headless services) are passthrough.
        Assert.Equal(TranslationMode.Passthrough, translation.FindOutbound("0.0.0.0/0:80")!.Mode);
        Assert.Equal(15, translation.Clusters.Values.Count(c => c.Discovery == ClusterDiscovery.OriginalDst));
        Assert.All(translation.Clusters.Values.Where(c => c.Discovery == ClusterDiscovery.OriginalDst), c => Assert.Equal(TranslationMode.Passthrough, c.Mode));
    }

    [Fact]
    public void Translate_DeathStarBench_AllClustersAndNoChainedServices()
    {
        var translation = Translation;

        Assert.Equal(138, translation.Clusters.Count);
        Assert.Equal(122, translation.Clusters.Values.Count(c => c.LbPolicy == LoadBalancerPolicy.LeastRequest));
        Assert.Equal(160, translation.Outbound.Length);
        Assert.Equal(122, translation.Outbound.Count(o => o.Mode == TranslationMode.Fast));
        Assert.DoesNotContain(translation.Outbound, o => o.Mode == TranslationMode.Chain);
        // A VIP_PORT listener wins over the same VIP in a 0.0.0.0_PORT route, as Envoy's listener match does: no conflicts.
        Assert.DoesNotContain(translation.Diagnostics, d => d.Severity >= DiagnosticSeverity.Warning);
    }

    [Fact]
    public void Translate_RejectedVirtualInbound_NotTranslatedButNoted()
    {
        // Envoy NACKed virtualInbound (the EnvoyFilter's Lua filter has no source code): Envoy does not run it, so
        // neither does ax; the translation says so.
        var translation = Translation;

        Assert.Empty(translation.Inbound);
        var notes = translation.Diagnostics.Where(d => d.ResourceName == "virtualInbound").ToList();
        Assert.Equal(2, notes.Count);
        Assert.All(notes, n =>
        {
            Assert.Equal(DiagnosticSeverity.Info, n.Severity);
            Assert.Contains("LuaValidationError", n.Message, StringComparison.Ordinal);
        });
    }

    [Fact]
    public void Translate_EnvoyFilterLuaOnInboundPort_ChainsWithReasonLua()
    {
        // Fed the virtualInbound istiod sent (the one Envoy rejected), port 8083's HTTP chains carry the Lua filter the
        // EnvoyFilter injected: chained with reason `lua`. Its TCP chains and the catch-all do not have it.
        var rejected = dump.Result.DynamicListeners.First(l => l.Name == "virtualInbound" && l.State == DumpedResourceState.Rejected).Resource;
        var translation = MeshTranslator.Translate(new TranslationInput([], [], [rejected], []));

        var port = translation.FindInbound(8083);
        Assert.NotNull(port);
        Assert.Equal(TranslationMode.Chain, port.Mode);
        var lua = Assert.Single(port.Causes, c => c.Reason == ChainReason.Lua);
        Assert.Equal("lua", lua.Code);
        Assert.Contains("envoy.filters.http.lua", lua.Detail, StringComparison.Ordinal);
        Assert.Equal(PeerAuthenticationMode.Permissive, port.PeerAuthentication);
        Assert.Equal(ServiceProtocol.Sniffed, port.Protocol);

        var catchAll = translation.FindInbound(0);
        Assert.NotNull(catchAll);
        Assert.DoesNotContain(catchAll.Causes, c => c.Reason == ChainReason.Lua);
        Assert.Equal(TranslationMode.Fast, catchAll.Mode);
        Assert.Equal(TranslationMode.Blackhole, translation.FindInbound(15006)!.Mode);
    }

    [Fact]
    public void Translate_DeathStarBench_WellUnderOneSecond()
    {
        var input = TranslationInput.FromConfigDump(dump.Result);
        MeshTranslator.Translate(input); // warm-up: JIT and the protobuf descriptors.

        var watch = Stopwatch.StartNew();
        var translation = MeshTranslator.Translate(input);
        watch.Stop();

        Assert.NotEmpty(translation.Outbound);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"translation took {watch.Elapsed.TotalMilliseconds} ms");
    }

    [Fact]
    public void Translate_Twice_GivesEqualJson()
    {
        // Pure: the same input gives the same output, byte for byte.
        Assert.Equal(TranslationJsonWriter.ToJson(Translation), TranslationJsonWriter.ToJson(Translation));
    }

    [Fact]
    public void ToJson_DeathStarBench_HasTheDocumentedSchema()
    {
        var json = JsonNode.Parse(TranslationJsonWriter.ToJson(Translation))!.AsObject();

        Assert.Equal("ax.translation/v1", (string?)json["schema"]);
        Assert.Equal(["schema", "outbound", "inbound", "clusters", "diagnostics"], json.Select(p => p.Key));
        var service = json["outbound"]!.AsArray().Single(o => (string?)o!["key"] == "10.68.54.170:27017")!.AsObject();
        Assert.Equal(
            ["key", "address", "prefix_length", "port", "dns_names", "listener", "route_config", "protocol", "mode", "reasons", "destinations", "hash_on_source_ip", "connect_retries", "timeout_ms", "istio_resources"],
            service.Select(p => p.Key));
        Assert.Equal("fast", (string?)service["mode"]);
        Assert.Equal("tcp", (string?)service["protocol"]);
        var cluster = json["clusters"]!.AsArray().Single(c => (string?)c!["name"] == MongoUser)!;
        Assert.Equal("least_request", (string?)cluster["lb_policy"]);
        Assert.Equal("istio_auto_mtls", (string?)cluster["upstream_tls"]);
        Assert.Equal(10000, (long?)cluster["connect_timeout_ms"]);
        Assert.Equal("healthy", (string?)cluster["endpoints"]![0]!["health"]);
    }
}
