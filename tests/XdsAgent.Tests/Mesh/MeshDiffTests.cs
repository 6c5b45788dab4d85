using Istio.AppSwitch.Xds.Translation;
using Istio.AppSwitch.XdsAgent.Mesh;
using static Istio.AppSwitch.XdsAgent.Tests.Mesh.MeshRuleMapperTests;

namespace Istio.AppSwitch.XdsAgent.Tests.Mesh;

/// <summary>The smallest update between two mappings.</summary>
public sealed class MeshDiffTests
{
    private static DesiredMesh Two(string secondEndpoint = "127.0.0.3", bool withSecondService = true)
    {
        var services = new List<OutboundService> { Service("127.96.0.1", 32, 80, destinations: [("a", 1)]) };
        if (withSecondService)
        {
            services.Add(Service("127.96.0.2", 32, 80, destinations: [("b", 1)]));
        }

        return MeshRuleMapper.Map(Translation(services,
            [Cluster("a", endpoints: [Endpoint("127.0.0.2", 80)]), Cluster("b", endpoints: [Endpoint(secondEndpoint, 80)])]));
    }

    [Fact]
    public void Compute_Unchanged_EmptyDelta()
    {
        var request = MeshDiff.Compute(Two(), Two(), replace: false, "v2");

        Assert.True(MeshDiff.IsEmpty(request));
        Assert.False(request.Replace);
        Assert.Null(request.Clusters);
        Assert.Null(request.Services);
        Assert.Null(request.DeleteClusters);
        Assert.Null(request.DeleteServices);
    }

    [Fact]
    public void Compute_OneEndpointMoved_OneClusterUpsertOnly()
    {
        var request = MeshDiff.Compute(Two(), Two(secondEndpoint: "127.0.0.4"), replace: false, "v2");

        var cluster = Assert.Single(request.Clusters!);
        Assert.Equal("b", cluster.Name);
        Assert.Equal("127.0.0.4", Assert.Single(cluster.Endpoints!).Address);
        Assert.Null(request.Services);
        Assert.Null(request.DeleteClusters);
        Assert.Null(request.DeleteServices);
        Assert.Equal("v2", request.Version);
    }

    [Fact]
    public void Compute_ServiceRemoved_ServiceAndItsClusterDeleted()
    {
        var request = MeshDiff.Compute(Two(), Two(withSecondService: false), replace: false);

        Assert.Equal(["127.96.0.2:80"], request.DeleteServices!);
        Assert.Equal(["b"], request.DeleteClusters!);
        Assert.Null(request.Services);
        Assert.Null(request.Clusters);
    }

    [Fact]
    public void Compute_AfterRestart_ReplaceWithEverything()
    {
        // The agent restarted (or a push failed): whatever it believes was applied, it sends the whole state.
        var request = MeshDiff.Compute(Two(), Two(), replace: true, "v1");

        Assert.True(request.Replace);
        Assert.False(MeshDiff.IsEmpty(request));
        Assert.Equal(["a", "b"], request.Clusters!.Select(c => c.Name));
        Assert.Equal(["127.96.0.1:80", "127.96.0.2:80"], request.Services!.Select(s => s.Key));
        Assert.Null(request.DeleteClusters);
        Assert.Null(request.DeleteServices);
    }

    [Fact]
    public void Compute_FromEmpty_UpsertsEverything()
    {
        var request = MeshDiff.Compute(DesiredMesh.Empty, Two(), replace: false);

        Assert.Equal(2, request.Clusters!.Count);
        Assert.Equal(2, request.Services!.Count);
    }
}
