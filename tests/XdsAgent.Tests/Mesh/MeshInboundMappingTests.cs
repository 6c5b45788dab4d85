using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Dataplane.Mesh;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Rbac;
using Istio.AppSwitch.Xds.Resources;
using Istio.AppSwitch.Xds.Tests.Resources;
using Istio.AppSwitch.Xds.Translation;
using Istio.AppSwitch.XdsAgent.Mesh;

namespace Istio.AppSwitch.XdsAgent.Tests.Mesh;

/// <summary>
/// The inbound half of the mapping, over istioctl's authz testdata (network RBAC on TCP chains, HTTP RBAC with request
/// conditions): what the agent sends is what the translation decided, and the daemon takes all of it.
/// </summary>
public sealed class MeshInboundMappingTests
{
    private static readonly Lazy<MeshTranslation> Translation = new(() =>
        MeshTranslator.Translate(ConfigDumpReader.Read(Corpus.ReadText(Corpus.ListenersRbacMtls))));

    private static readonly MeshInboundScope Scope =
        MeshInboundScope.For("sidecar~10.244.0.20~httpbin-1.default~default.svc.cluster.local", [new("app", "httpbin"), new("version", "v1")])!;

    [Fact]
    public void MapInbound_EveryPort_KeyedByNodeAndPort_SelectingTheWorkload_WithTheTranslatedRbac()
    {
        var inbound = MeshRuleMapper.MapInbound(Translation.Value, Scope);

        Assert.Equal(Translation.Value.Inbound.Length, inbound.Count);
        Assert.Equal("app=httpbin,version=v1", Scope.Selector);
        foreach (var port in Translation.Value.Inbound)
        {
            var dto = inbound[$"{Scope.KeyPrefix}:{port.Port}"];
            Assert.Equal((int)port.Port, dto.Port);
            Assert.Equal(Scope.Selector, dto.Selector);
            Assert.Equal(MeshRuleMapper.ModeName(port.Mode), dto.Mode);
            if (port.Rbac.Engines.IsEmpty)
            {
                Assert.Null(dto.Rbac);
            }
            else
            {
                // What the daemon reads back is exactly the model the translation made.
                Assert.True(RbacJson.Read(dto.Rbac!.Value).SameAs(port.Rbac), $"port {port.Port}");
            }
        }

        // Port 80's ALLOW needs request conditions and a principal: chained, with its reasons.
        var http = inbound[$"{Scope.KeyPrefix}:80"];
        Assert.Equal("chain", http.Mode);
        Assert.Contains(ChainReason.HttpRbacL7.Code(), http.Reasons!);
    }

    [Fact]
    public void MapInbound_AppliedToTheDaemonsStore_AcceptedWhole()
    {
        var store = new MeshStore(new RoutingTable());
        var inbound = MeshRuleMapper.MapInbound(Translation.Value, Scope);

        store.Apply(new MeshUpdateRequest { Replace = true, Inbound = [.. inbound.Values] });

        var described = store.Describe().Inbound!;
        Assert.Equal(inbound.Keys, described.Select(i => i.Key!));
        Assert.All(described, i => Assert.Equal("app=httpbin,version=v1", i.Selector));
    }

    [Fact]
    public void Scope_WithoutLabelsItCanSelect_IsNone()
    {
        Assert.Null(MeshInboundScope.For("node", []));
        Assert.Equal("app=web", MeshInboundScope.For("node", [new("app", "web"), new("bad key!", "x")])!.Selector);
    }

    [Fact]
    public void Diff_AnRbacChange_SendsThatPortOnly()
    {
        var inbound = MeshRuleMapper.MapInbound(Translation.Value, Scope);
        var applied = DesiredMesh.Empty with { InboundPorts = inbound };
        var key = $"{Scope.KeyPrefix}:80";
        var changed = applied with { InboundPorts = inbound.SetItem(key, inbound[key] with { Rbac = null }) };

        var request = MeshDiff.Compute(applied, changed, replace: false);

        Assert.Equal(key, Assert.Single(request.Inbound!).Key);
        Assert.Null(request.DeleteInbound);
        Assert.True(MeshDiff.IsEmpty(MeshDiff.Compute(applied, applied with { InboundPorts = MeshRuleMapper.MapInbound(Translation.Value, Scope) }, replace: false)));
    }
}
