using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Rbac;
using Istio.AppSwitch.Xds.Translation;
using Istio.AppSwitch.XdsAgent.Mesh;
using static Istio.AppSwitch.XdsAgent.Tests.Mesh.MeshRuleMapperTests;

namespace Istio.AppSwitch.XdsAgent.Tests.Mesh;

/// <summary>The Istio resources behind services and inbound ports, as the agent sends them to the daemon.</summary>
public sealed class MeshIstioResourcesMappingTests
{
    private const string BookinfoPath = "/apis/networking.istio.io/v1alpha3/namespaces/default/virtual-service/bookinfo";

    private static readonly IstioResource Bookinfo = IstioResource.ParsePath(BookinfoPath)!;
    private static readonly IstioResource Reviews = new("DestinationRule", "default", "reviews", "/apis/networking.istio.io/v1alpha3/namespaces/default/destination-rule/reviews");

    private static DesiredMesh Map(params IstioResource[] resources) => MeshRuleMapper.Map(Translation(
        [Service("127.96.0.1", 32, 9080, destinations: [("a", 1)]) with { IstioResources = [.. resources] }],
        [Cluster("a", endpoints: [Endpoint("127.0.0.2", 9080)])]));

    [Fact]
    public void Map_ServiceWithResources_KindNamespaceNameAndRawPath()
    {
        var service = Map(Reviews, Bookinfo).Services["127.96.0.1:9080"];

        Assert.Equal(
            [
                new MeshIstioResourceDto { Kind = "DestinationRule", Namespace = "default", Name = "reviews", Raw = Reviews.Raw },
                new MeshIstioResourceDto { Kind = "VirtualService", Namespace = "default", Name = "bookinfo", Raw = BookinfoPath },
            ],
            service.IstioResources!);
    }

    [Fact]
    public void Map_NoResources_FieldLeftOut()
    {
        Assert.Null(Map().Services["127.96.0.1:9080"].IstioResources);
    }

    [Fact]
    public void Map_ResourcesTheDaemonWouldRefuse_LeftOutOrTrimmedNotTheWholeBatch()
    {
        var many = Enumerable.Range(0, 100).Select(i => new IstioResource("VirtualService", "default", $"vs-{i:D3}", "")).ToArray();
        var odd = new IstioResource("virtual-service.v2", "default", "x", "");
        var longName = new IstioResource("Sidecar", "default", new string('n', 300), "");
        var longRaw = Bookinfo with { Name = "long-raw", Raw = "/apis/" + new string('p', 2000) };

        var service = Map([odd, longName, longRaw, .. many]).Services["127.96.0.1:9080"];

        Assert.Equal(MeshIstioResourceDto.MaxPerRule, service.IstioResources!.Count);
        Assert.DoesNotContain(service.IstioResources, r => r.Kind == odd.Kind || r.Name == longName.Name);
        Assert.Null(service.IstioResources.Single(r => r.Name == "long-raw").Raw);
    }

    [Fact]
    public void MapInbound_PortWithAuthorizationPolicies_Carried()
    {
        var policy = IstioResource.ParseRbacPolicyName("ns[default]-policy[httpbin]-rule[0]")!;
        var translation = MeshTranslation.Empty with
        {
            Inbound = [new InboundPort(8080, "virtualInbound", ["0.0.0.0_8080"], ServiceProtocol.Tcp, PeerAuthenticationMode.Plaintext,
                TranslationMode.Fast, [], RbacModel.None, false, null) { IstioResources = [policy] }],
        };

        var ports = MeshRuleMapper.MapInbound(translation, new MeshInboundScope("node-1", "app=httpbin"));

        var resource = Assert.Single(ports["node-1:8080"].IstioResources!);
        Assert.Equal(("AuthorizationPolicy", "default", "httpbin", "ns[default]-policy[httpbin]-rule[0]"),
            (resource.Kind, resource.Namespace, resource.Name, resource.Raw));
    }

    [Fact]
    public void Compute_OnlyTheResourcesChanged_TheServiceIsSentAgain()
    {
        var request = MeshDiff.Compute(Map(Bookinfo), Map(Bookinfo, Reviews), replace: false, "v2");

        var service = Assert.Single(request.Services!);
        Assert.Equal(2, service.IstioResources!.Count);
        Assert.True(MeshDiff.IsEmpty(MeshDiff.Compute(Map(Bookinfo), Map(Bookinfo), replace: false, "v3")));
    }
}
