using System.Diagnostics;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Listener.V3;
using Istio.AppSwitch.Bench.Translation;
using Istio.AppSwitch.Xds.Resources;
using Istio.AppSwitch.Xds.Tests.Resources;
using Istio.AppSwitch.Xds.Translation;

namespace Istio.AppSwitch.Xds.Tests.Translation;

/// <summary>Every config dump of the corpus, the partial ones, and a synthetic mesh at scale.</summary>
public sealed class MeshTranslatorCorpusTests
{
    public static TheoryData<string> Dumps()
    {
        var data = new TheoryData<string>();
        foreach (var dir in new[] { "sidecar-full", "sidecar-partial" })
        {
            foreach (var file in Directory.GetFiles(Corpus.PathOf(dir)).Order(StringComparer.Ordinal))
            {
                data.Add($"{dir}/{Path.GetFileName(file)}");
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Dumps))]
    public void Translate_EveryCorpusDump_SucceedsWithDiagnosticsOnly(string path)
    {
        var dump = ConfigDumpReader.Read(Corpus.ReadText(path));
        Assert.True(dump.Succeeded, string.Join("; ", dump.Errors));

        var translation = MeshTranslator.Translate(dump);

        Assert.DoesNotContain(translation.Diagnostics, d => d.Severity == DiagnosticSeverity.Error);
        Assert.All(translation.Outbound, o => Assert.Equal(o.Mode == TranslationMode.Chain, !o.Causes.IsEmpty));
        Assert.All(translation.Inbound, i => Assert.Equal(i.Mode == TranslationMode.Chain, !i.Causes.IsEmpty));
        Assert.NotEmpty(TranslationJsonWriter.ToJson(translation));
    }

    [Fact]
    public void Translate_EdsDump_EndpointsWithWeightsAndHealthFromPlainCollections()
    {
        // The EDS-only dump has no clusters; fed with the cluster istiod would send, its endpoints come through.
        var dump = ConfigDumpReader.Read(Corpus.ReadText(Corpus.EdsEndpoints));
        var reviews = "outbound|9080||reviews.default.svc.cluster.local";
        var cluster = EnvoyJson.Parse<Cluster>($$"""{"name": "{{reviews}}", "type": "EDS", "eds_cluster_config": {"service_name": "{{reviews}}"}, "lb_policy": "LEAST_REQUEST"}""");

        var translation = MeshTranslator.Translate(new TranslationInput(
            [cluster],
            dump.DynamicEndpoints.Select(e => e.Resource).ToList(),
            [],
            []));

        var policy = translation.Clusters[reviews];
        Assert.True(policy.HasEndpointAssignment);
        Assert.Equal(["10.244.0.192", "10.244.0.193", "10.244.0.195"], policy.Endpoints.Select(e => e.Address).Order(StringComparer.Ordinal).ToArray());
        Assert.All(policy.Endpoints, e =>
        {
            Assert.Equal(9080u, e.Port);
            Assert.Equal(1u, e.Weight);
            Assert.Equal(0u, e.Priority);
            Assert.Equal(EndpointHealth.Healthy, e.Health);
            Assert.True(e.Usable);
        });
    }

    [Fact]
    public void Translate_RouteRetriesDump_SubsetClusterLeastRequestAndGatewayRouteFast()
    {
        // istioctl describe's testdata: a gateway route config (http.8080) whose routes all go to productpage, with
        // Istio's default retry policy, and the v1 subset cluster with LEAST_REQUEST and default circuit breakers.
        var dump = ConfigDumpReader.Read(Corpus.ReadText(Corpus.RouteRetriesAndCluster));
        var listener = EnvoyJson.Parse<Listener>("""
            {"name": "0.0.0.0_8080", "address": {"socket_address": {"address": "0.0.0.0", "port_value": 8080}},
             "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
               "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
               "stat_prefix": "http.8080", "rds": {"route_config_name": "http.8080", "config_source": {"ads": {}}},
               "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}]}}]}]}
            """);
        var productpage = EnvoyJson.Parse<Cluster>("""{"name": "outbound|9080||productpage.default.svc.cluster.local", "type": "EDS"}""");
        var input = TranslationInput.FromConfigDump(dump);
        var translation = MeshTranslator.Translate(input with
        {
            Listeners = [listener],
            Clusters = [.. input.Clusters, productpage],
        });

        var subset = translation.Clusters["outbound|9080|v1|productpage.default.svc.cluster.local"];
        Assert.Equal(LoadBalancerPolicy.LeastRequest, subset.LbPolicy);
        Assert.Equal(uint.MaxValue, subset.MaxConnections);
        Assert.Equal(UpstreamTlsMode.IstioAutoMtls, subset.UpstreamTls);

        var gateway = translation.FindOutbound("0.0.0.0/0:8080");
        Assert.NotNull(gateway);
        Assert.Equal(["outbound|9080||productpage.default.svc.cluster.local"], gateway.Destinations.Select(d => d.Cluster).ToArray());
        // Path matches that all lead to productpage do not need L7 routing, but there is no catch-all: Envoy answers 404
        // for other paths, which ax cannot.
        Assert.Equal(TranslationMode.Chain, gateway.Mode);
        Assert.Equal([ChainReason.L7RouteMatch], gateway.Causes.Select(c => c.Reason).ToArray());
    }

    [Fact]
    public void Translate_SyntheticMesh10kServices50kEndpoints_UnderTwoSeconds()
    {
        var input = SyntheticMesh.Create(10_000, 50_000);
        MeshTranslator.Translate(SyntheticMesh.Create(100, 500)); // warm-up

        var watch = Stopwatch.StartNew();
        var translation = MeshTranslator.Translate(input);
        watch.Stop();

        Assert.Equal(10_000, translation.Outbound.Length);
        Assert.All(translation.Outbound, o => Assert.Equal(TranslationMode.Fast, o.Mode));
        Assert.Equal(50_000, translation.Clusters.Values.Sum(c => c.Endpoints.Length));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"translation took {watch.Elapsed.TotalMilliseconds} ms");
    }
}
