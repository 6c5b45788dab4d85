using Istio.AppSwitch.Xds.Ads;
using Istio.AppSwitch.Xds.Sidecar;
using static Istio.AppSwitch.Xds.Tests.Ads.AdsTestHarness;

namespace Istio.AppSwitch.Xds.Tests.Ads;

/// <summary>What istiod learns about ax from the first request of a stream.</summary>
public sealed class NodeTests
{
    [Fact]
    public async Task FirstRequest_Node_CarriesSidecarIdAndIstioMetadataOnlyOnce()
    {
        await using var harness = await StartAsync(AdsVariant.Delta);
        await harness.InitialDeltaPushAsync();

        var requests = harness.Server.Requests;
        var node = requests[0].Delta!.Node;
        Assert.Equal("sidecar~127.0.0.5~productpage-v1-6b746f74dc-9stvs.default~default.svc.cluster.local", node.Id);
        Assert.Equal("Kubernetes", node.Cluster);
        Assert.Equal("ax", node.UserAgentName);
        var metadata = node.Metadata.Fields;
        Assert.Equal("default", metadata["NAMESPACE"].StringValue);
        Assert.Equal("127.0.0.5", metadata["INSTANCE_IPS"].StringValue);
        Assert.Equal("1.24.0", metadata["ISTIO_VERSION"].StringValue);
        Assert.Equal("Kubernetes", metadata["CLUSTER_ID"].StringValue);
        Assert.Equal("bookinfo-productpage", metadata["SERVICE_ACCOUNT"].StringValue);
        Assert.Equal("NONE", metadata["INTERCEPTION_MODE"].StringValue);
        Assert.Equal("cluster.local", metadata["MESH_ID"].StringValue);
        var labels = metadata["LABELS"].StructValue.Fields;
        Assert.Equal("productpage", labels["app"].StringValue);
        Assert.Equal("v1", labels["version"].StringValue);
        Assert.All(requests.Skip(1), r => Assert.Null(r.Delta!.Node));
    }

    [Fact]
    public async Task FirstRequest_Sotw_CarriesNodeOnlyOnce()
    {
        await using var harness = await StartAsync(AdsVariant.StateOfTheWorld);
        await harness.InitialSotwPushAsync();

        var requests = harness.Server.Requests;
        Assert.Equal(XdsNodeBuilder.Build(NodeOptions), requests[0].Sotw!.Node);
        Assert.All(requests.Skip(1), r => Assert.Null(r.Sotw!.Node));
    }
}
