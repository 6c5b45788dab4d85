using System.Text.Json;
using Envoy.Config.Listener.V3;
using Istio.AppSwitch.Xds.Resources;
using Istio.AppSwitch.Xds.Tests.Resources;
using Istio.AppSwitch.Xds.Translation;

namespace Istio.AppSwitch.Xds.Tests.Translation;

/// <summary>
/// The Istio resources behind each rule, as <c>istioctl x describe</c> names them, read from the corpus: the
/// VirtualService on istiod's routes, the DestinationRule on its clusters, the AuthorizationPolicies in its RBAC policy
/// names (enforced and CUSTOM shadow rules).
/// </summary>
public sealed class MeshTranslatorIstioResourcesTests
{
    private const string Subset = "outbound|9080|v1|productpage.default.svc.cluster.local";
    private const string Productpage = "outbound|9080||productpage.default.svc.cluster.local";
    private const string BookinfoPath = "/apis/networking.istio.io/v1alpha3/namespaces/default/virtual-service/bookinfo";
    private const string ProductpagePath = "/apis/networking.istio.io/v1alpha3/namespaces/default/destination-rule/productpage";

    [Theory]
    [InlineData(BookinfoPath, "VirtualService", "default", "bookinfo")]
    [InlineData(ProductpagePath, "DestinationRule", "default", "productpage")]
    [InlineData("/apis/networking.istio.io/v1alpha3/namespaces/istio-system/gateway/ingress", "Gateway", "istio-system", "ingress")]
    [InlineData("/apis/networking.istio.io/v1beta1/namespaces/shop/sidecar/default", "Sidecar", "shop", "default")]
    [InlineData("/apis/example.io/v1/namespaces/a/some-new-kind/b", "some-new-kind", "a", "b")]
    public void ParsePath_IstiodConfigPath_KindNamespaceNameAndRawKept(string path, string kind, string ns, string name)
    {
        var resource = IstioResource.ParsePath(path);

        Assert.Equal(new IstioResource(kind, ns, name, path), resource);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("bookinfo")]
    [InlineData("/apis/networking.istio.io/v1alpha3/namespaces/default/virtual-service")]
    [InlineData("/apis/networking.istio.io/v1alpha3/namespaces/default/virtual-service/bookinfo/extra")]
    [InlineData("/apis/networking.istio.io/v1alpha3/ns/default/virtual-service/bookinfo")]
    [InlineData("/apis/networking.istio.io/v1alpha3/namespaces//virtual-service/bookinfo")]
    public void ParsePath_NotAConfigPath_Null(string? path) => Assert.Null(IstioResource.ParsePath(path));

    [Theory]
    [InlineData("ns[default]-policy[httpbin]-rule[0]", "default", "httpbin")]
    [InlineData("istio-ext-authz-ns[default]-policy[ext-authz]-rule[12]", "default", "ext-authz")]
    public void ParseRbacPolicyName_IstiodPolicyName_AuthorizationPolicy(string policy, string ns, string name)
    {
        Assert.Equal(new IstioResource("AuthorizationPolicy", ns, name, policy), IstioResource.ParseRbacPolicyName(policy));
    }

    [Theory]
    [InlineData("allow-all")]
    [InlineData("ns[default]-policy[httpbin]")]
    [InlineData("ns[default]-policy[httpbin]-rule[x]")]
    [InlineData("xns[default]-policy[httpbin]-rule[0]")]
    [InlineData("ns[]-policy[httpbin]-rule[0]")]
    public void ParseRbacPolicyName_OtherName_Null(string policy) => Assert.Null(IstioResource.ParseRbacPolicyName(policy));

    [Fact]
    public void Translate_RouteRetriesDump_RoutesNameTheVirtualServiceAndTheSubsetClusterItsDestinationRule()
    {
        var translation = TranslateRouteDump();

        var subset = translation.Clusters[Subset];
        Assert.Equal([new IstioResource("DestinationRule", "default", "productpage", ProductpagePath)], subset.IstioResources.ToArray());
        Assert.Empty(translation.Clusters[Productpage].IstioResources);

        // Five routes of one VirtualService: one resource.
        var gateway = translation.FindOutbound("0.0.0.0/0:8080");
        Assert.NotNull(gateway);
        Assert.Equal([new IstioResource("VirtualService", "default", "bookinfo", BookinfoPath)], gateway.IstioResources.ToArray());

        var tcp = translation.FindOutbound("127.96.0.40:9080");
        Assert.NotNull(tcp);
        Assert.Equal(TranslationMode.Fast, tcp.Mode);
        Assert.Equal(["DestinationRule default/productpage"], tcp.IstioResources.Select(r => r.ToString()).ToArray());
    }

    [Fact]
    public void Translate_RouteRetriesDump_JsonCarriesTheResourcesWithTheirRawPaths()
    {
        using var json = JsonDocument.Parse(TranslationJsonWriter.ToJson(TranslateRouteDump()));

        var gateway = json.RootElement.GetProperty("outbound").EnumerateArray().Single(o => o.GetProperty("key").GetString() == "0.0.0.0/0:8080");
        var resource = Assert.Single(gateway.GetProperty("istio_resources").EnumerateArray());
        Assert.Equal("VirtualService", resource.GetProperty("kind").GetString());
        Assert.Equal("default", resource.GetProperty("namespace").GetString());
        Assert.Equal("bookinfo", resource.GetProperty("name").GetString());
        Assert.Equal(BookinfoPath, resource.GetProperty("raw").GetString());
        var cluster = json.RootElement.GetProperty("clusters").EnumerateArray().Single(c => c.GetProperty("name").GetString() == Subset);
        Assert.Equal(ProductpagePath, Assert.Single(cluster.GetProperty("istio_resources").EnumerateArray()).GetProperty("raw").GetString());
    }

    [Fact]
    public void Translate_RbacListenersDump_InboundPortsNameTheirAuthorizationPolicies()
    {
        var translation = MeshTranslator.Translate(ConfigDumpReader.Read(Corpus.ReadText(Corpus.ListenersRbacMtls)));

        var port = translation.FindInbound(80);
        Assert.NotNull(port);
        // httpbin is enforced (ALLOW); ext-authz is the CUSTOM policy istiod carries as shadow rules.
        Assert.Equal(["AuthorizationPolicy default/ext-authz", "AuthorizationPolicy default/httpbin"],
            port.IstioResources.Select(r => r.ToString()).ToArray());
        Assert.Equal("ns[default]-policy[httpbin]-rule[0]", port.IstioResources.Single(r => r.Name == "httpbin").Raw);
        Assert.All(translation.Inbound.Where(i => !i.Rbac.Engines.IsEmpty), i =>
            Assert.Contains(i.IstioResources, r => r.Kind == "AuthorizationPolicy"));
    }

    [Fact]
    public void Translate_DeathStarBench_NoIstioConfigInItsMetadata_NoResourcesAndNothingInvented()
    {
        // This 1.18 sidecar has no VirtualService, DestinationRule or AuthorizationPolicy: istiod wrote no config paths.
        var translation = MeshTranslator.Translate(ConfigDumpReader.Read(Corpus.ReadText(Corpus.DeathStarBench)));

        Assert.NotEmpty(translation.Outbound);
        Assert.All(translation.Outbound, o => Assert.Empty(o.IstioResources));
        Assert.All(translation.Clusters.Values, c => Assert.Empty(c.IstioResources));
    }

    // The corpus's route config and subset cluster, with the listeners istiod would send beside them: the gateway's
    // 0.0.0.0_8080 (RDS http.8080) and a TCP VIP listener to the subset.
    internal static MeshTranslation TranslateRouteDump()
    {
        var dump = ConfigDumpReader.Read(Corpus.ReadText(Corpus.RouteRetriesAndCluster));
        var gateway = EnvoyJson.Parse<Listener>("""
            {"name": "0.0.0.0_8080", "address": {"socket_address": {"address": "0.0.0.0", "port_value": 8080}},
             "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
               "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
               "stat_prefix": "http.8080", "rds": {"route_config_name": "http.8080", "config_source": {"ads": {}}},
               "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}]}}]}]}
            """);
        var tcp = EnvoyJson.Parse<Listener>($$$"""
            {"name": "127.96.0.40_9080", "address": {"socket_address": {"address": "127.96.0.40", "port_value": 9080}},
             "filter_chains": [{"filters": [{"name": "envoy.filters.network.tcp_proxy", "typed_config": {
               "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
               "stat_prefix": "{{{Subset}}}", "cluster": "{{{Subset}}}"}}]}]}
            """);
        var productpage = EnvoyJson.Parse<Envoy.Config.Cluster.V3.Cluster>($$"""{"name": "{{Productpage}}", "type": "EDS"}""");
        var input = TranslationInput.FromConfigDump(dump);
        return MeshTranslator.Translate(input with { Listeners = [gateway, tcp], Clusters = [.. input.Clusters, productpage] });
    }
}
