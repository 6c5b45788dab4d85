using System.Text.Json.Nodes;
using Envoy.Config.Core.V3;
using Google.Protobuf;
using Istio.AppSwitch.Xds.Resources;

namespace Istio.AppSwitch.Xds.Tests.Resources;

/// <summary>The EDS dump from istioctl's testdata (<c>sidecar-partial</c>): 37 ClusterLoadAssignments.</summary>
public sealed class ConfigDumpReaderEndpointsTests
{
    private static readonly string Json = Corpus.ReadText(Corpus.EdsEndpoints);
    private static readonly ConfigDumpReadResult Result = ConfigDumpReader.Read(Json);

    [Fact]
    public void Read_EdsDump_SeparatesDynamicFromBootstrapEndpoints()
    {
        Assert.Empty(Result.Errors);
        Assert.Equal(37, Result.DynamicEndpoints.Count + Result.Static.Endpoints.Count);
        Assert.Equal(32, Result.DynamicEndpoints.Count);
        Assert.Equal(
            ["agent", "prometheus_stats", "sds-grpc", "xds-grpc", "zipkin"],
            Result.Static.Endpoints.Select(e => e.Name).Order(StringComparer.Ordinal));
        Assert.Empty(Result.OpaqueResources);
        Assert.Empty(Result.UnknownFields);
    }

    [Fact]
    public void Read_EdsDump_CarriesWeightsHealthAndOverprovisioning()
    {
        Assert.All(Result.DynamicEndpoints, e => Assert.Equal(140u, e.Resource.Policy.OverprovisioningFactor));

        var lbEndpoints = Result.DynamicEndpoints.SelectMany(e => e.Resource.Endpoints).SelectMany(l => l.LbEndpoints).ToList();
        Assert.Equal(32, lbEndpoints.Count);
        Assert.All(lbEndpoints, e =>
        {
            Assert.Equal(HealthStatus.Healthy, e.HealthStatus);
            Assert.Equal(1u, e.LoadBalancingWeight);
        });

        // Passthrough and inbound clusters get an assignment with no endpoints.
        Assert.Equal(
            ["BlackHoleCluster", "InboundPassthroughClusterIpv4", "PassthroughCluster", "inbound|9080||"],
            Result.DynamicEndpoints.Where(e => e.Resource.Endpoints.Count == 0).Select(e => e.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Read_ReviewsAssignment_WeighsLocalityByItsThreeEndpoints()
    {
        var reviews = Assert.Single(Result.DynamicEndpoints, e => e.Name == "outbound|9080||reviews.default.svc.cluster.local").Resource;

        var locality = Assert.Single(reviews.Endpoints);
        Assert.Equal(3u, locality.LoadBalancingWeight);
        Assert.Equal(0u, locality.Priority);
        Assert.Equal(
            [("10.244.0.192", 9080u), ("10.244.0.193", 9080u), ("10.244.0.195", 9080u)],
            locality.LbEndpoints.Select(e => (e.Endpoint.Address.SocketAddress.Address, e.Endpoint.Address.SocketAddress.PortValue)));
        Assert.Equal(
            "istio",
            locality.LbEndpoints[0].Metadata.FilterMetadata["envoy.transport_socket_match"].Fields["tlsMode"].StringValue);
    }

    [Fact]
    public void Read_EdsDump_EveryAssignmentFormatsBackToItsOriginalJson()
    {
        // With no opaque part, formatting the decoded message must give back exactly what the file says:
        // the strongest check that the reader dropped nothing and read nothing wrong.
        var formatter = new JsonFormatter(
            JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true).WithTypeRegistry(EnvoyTypeRegistry.Registry));
        var original = JsonNode.Parse(Json)!["configs"]![0]!["dynamic_endpoint_configs"]!.AsArray();

        Assert.Equal(original.Count, Result.DynamicEndpoints.Count);
        for (var i = 0; i < original.Count; i++)
        {
            var expected = original[i]!["endpoint_config"]!.DeepClone().AsObject();
            expected.Remove("@type");
            var actual = JsonNode.Parse(formatter.Format(Result.DynamicEndpoints[i].Resource));
            Assert.True(JsonNode.DeepEquals(expected, actual), $"{Result.DynamicEndpoints[i].Name}: {actual}");
        }
    }
}
