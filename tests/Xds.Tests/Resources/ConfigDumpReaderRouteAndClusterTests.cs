using System.Text.Json.Nodes;
using Envoy.Config.Cluster.V3;
using Envoy.Extensions.TransportSockets.RawBuffer.V3;
using Envoy.Extensions.TransportSockets.Tls.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Istio.AppSwitch.Xds.Resources;

namespace Istio.AppSwitch.Xds.Tests.Resources;

/// <summary>
/// The route-and-cluster dump from istioctl's describe testdata (<c>sidecar-partial</c>): Istio's default retry
/// policy and a subset cluster with auto-mTLS.
/// </summary>
public sealed class ConfigDumpReaderRouteAndClusterTests
{
    private static readonly string Json = Corpus.ReadText(Corpus.RouteRetriesAndCluster);
    private static readonly ConfigDumpReadResult Result = ConfigDumpReader.Read(Json);

    [Fact]
    public void Read_RouteAndClusterDump_DecodesBothAndNoListener()
    {
        Assert.Empty(Result.Errors);
        Assert.Single(Result.DynamicRouteConfigurations);
        Assert.Single(Result.DynamicClusters);
        Assert.Empty(Result.DynamicListeners);
        Assert.Empty(Result.UnknownFields);
        Assert.Equal(["type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange"], Result.OpaqueCounts.Keys);
    }

    [Fact]
    public void Read_RouteConfiguration_EveryRouteRetriesTwiceOnConnectFailures()
    {
        var routeConfig = Assert.Single(Result.DynamicRouteConfigurations);
        Assert.Equal("http.8080", routeConfig.Name);
        Assert.Equal("2022-03-04T10:22:24Z/54", routeConfig.VersionInfo);

        var routes = Assert.Single(routeConfig.Resource.VirtualHosts).Routes;
        Assert.Equal(
            ["/productpage", "/static", "/login", "/logout", "/api/v1/products"],
            routes.Select(r => r.Match.Path.Length > 0 ? r.Match.Path : r.Match.Prefix));
        Assert.All(routes, route =>
        {
            Assert.True(route.Match.CaseSensitive);
            Assert.Equal("outbound|9080||productpage.default.svc.cluster.local", route.Route_.Cluster);
            var retry = route.Route_.RetryPolicy;
            Assert.Equal("connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes", retry.RetryOn);
            Assert.Equal(2u, retry.NumRetries);
            Assert.Equal(5L, retry.HostSelectionRetryMaxAttempts);
            Assert.Equal([503u], retry.RetriableStatusCodes);
            Assert.Equal("envoy.retry_host_predicates.previous_hosts", Assert.Single(retry.RetryHostPredicate).Name);
#pragma warning disable CS0612 // Deprecated in Envoy, still sent by this istiod and still in the protos.
            Assert.Equal(new Duration(), route.Route_.MaxGrpcTimeout);
#pragma warning restore CS0612
            Assert.Equal(
                "/apis/networking.istio.io/v1alpha3/namespaces/default/virtual-service/bookinfo",
                route.Metadata.FilterMetadata["istio"].Fields["config"].StringValue);
        });
    }

    [Fact]
    public void Read_RouteConfiguration_FormatsBackToItsOriginalJson()
    {
        var formatter = new JsonFormatter(
            JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true).WithTypeRegistry(EnvoyTypeRegistry.Registry));
        var expected = JsonNode.Parse(Json)!["configs"]![0]!["dynamic_route_configs"]![0]!["route_config"]!.DeepClone().AsObject();
        expected.Remove("@type");

        var actual = JsonNode.Parse(formatter.Format(Result.DynamicRouteConfigurations[0].Resource));

        Assert.True(JsonNode.DeepEquals(expected, actual), actual!.ToJsonString());
    }

    [Fact]
    public void Read_SubsetCluster_LeastRequestWithDefaultCircuitBreakers()
    {
        var cluster = Assert.Single(Result.DynamicClusters).Resource;

        Assert.Equal("outbound|9080|v1|productpage.default.svc.cluster.local", cluster.Name);
        Assert.Equal(Cluster.Types.DiscoveryType.Eds, cluster.Type);
        Assert.Equal(Cluster.Types.LbPolicy.LeastRequest, cluster.LbPolicy);
        Assert.Equal(Duration.FromTimeSpan(TimeSpan.FromSeconds(10)), cluster.ConnectTimeout);
        Assert.Equal(Duration.FromTimeSpan(TimeSpan.Zero), cluster.EdsClusterConfig.EdsConfig.InitialFetchTimeout);
        var thresholds = Assert.Single(cluster.CircuitBreakers.Thresholds);
        Assert.Equal(
            [uint.MaxValue, uint.MaxValue, uint.MaxValue, uint.MaxValue],
            [thresholds.MaxConnections, thresholds.MaxPendingRequests, thresholds.MaxRequests, thresholds.MaxRetries]);
        Assert.Equal("v1", cluster.Metadata.FilterMetadata["istio"].Fields["subset"].StringValue);
        Assert.Equal(9080, cluster.Metadata.FilterMetadata["istio"].Fields["default_original_port"].NumberValue);
    }

    [Fact]
    public void Read_SubsetCluster_AutoMtlsTransportSocketMatches()
    {
        var matches = Assert.Single(Result.DynamicClusters).Resource.TransportSocketMatches;

        Assert.Equal(["tlsMode-istio", "tlsMode-disabled"], matches.Select(m => m.Name));

        var istio = matches[0];
        Assert.Equal("istio", istio.Match.Fields["tlsMode"].StringValue);
        Assert.Equal("envoy.transport_sockets.tls", istio.TransportSocket.Name);
        Assert.True(istio.TransportSocket.TypedConfig.TryUnpackConfig(out UpstreamTlsContext? tls));
        Assert.Equal("outbound_.9080_.v1_.productpage.default.svc.cluster.local", tls.Sni);
        Assert.Equal(["istio-peer-exchange", "istio"], tls.CommonTlsContext.AlpnProtocols);
        Assert.Equal(TlsParameters.Types.TlsProtocol.Tlsv12, tls.CommonTlsContext.TlsParams.TlsMinimumProtocolVersion);
        Assert.Equal("default", Assert.Single(tls.CommonTlsContext.TlsCertificateSdsSecretConfigs).Name);
        var validation = tls.CommonTlsContext.CombinedValidationContext;
        Assert.Equal("ROOTCA", validation.ValidationContextSdsSecretConfig.Name);
#pragma warning disable CS0612 // Deprecated in Envoy (match_typed_subject_alt_names), still sent by this istiod.
        Assert.Equal(
            ["spiffe://cluster.local/ns/default/sa/bookinfo-productpage", "spiffe://cluster.local/ns/default/sa/default"],
            validation.DefaultValidationContext.MatchSubjectAltNames.Select(m => m.Exact));
#pragma warning restore CS0612

        // An empty match is the fallback for endpoints without the tlsMode label: plaintext.
        var disabled = matches[1];
        Assert.Empty(disabled.Match.Fields);
        Assert.Equal("type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer", disabled.TransportSocket.TypedConfig.TypeUrl);
        Assert.True(disabled.TransportSocket.TypedConfig.TryUnpackConfig(out RawBuffer? _));
    }
}
