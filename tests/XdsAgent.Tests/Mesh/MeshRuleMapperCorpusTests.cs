using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Xds.Resources;
using Istio.AppSwitch.Xds.Tests.Resources;
using Istio.AppSwitch.Xds.Translation;
using Istio.AppSwitch.XdsAgent.Mesh;

namespace Istio.AppSwitch.XdsAgent.Tests.Mesh;

/// <summary>The real Istio 1.18.2 DeathStarBench sidecar, translated and mapped to the daemon's mesh rules.</summary>
public sealed class MeshRuleMapperCorpusTests
{
    private const string MongoUser = "outbound|27017||mongodb-user.hr2.svc.cluster.local";
    private static readonly Lazy<MeshTranslation> Translation = new(() =>
        MeshTranslator.Translate(ConfigDumpReader.Read(Corpus.ReadText(Corpus.DeathStarBench))));

    private static DesiredMesh Mesh => MeshRuleMapper.Map(Translation.Value);

    [Fact]
    public void Map_VipPortTcpListener_ServiceToItsLeastRequestClusterWithOneEndpoint()
    {
        var mesh = Mesh;

        var service = mesh.Services["10.68.54.170:27017"];
        Assert.Equal("10.68.54.170:27017", service.Vip);
        Assert.Null(service.Mode); // fast
        Assert.Equal("10.68.54.170_27017", service.Listener);
        Assert.Equal(["mongodb-user.hr2.svc.cluster.local"], service.DnsNames!);
        var destination = Assert.Single(service.Clusters!);
        Assert.Equal(MongoUser, destination.Name);
        Assert.Null(destination.Weight);
        Assert.Equal(0, service.ConnectRetries);

        var cluster = mesh.Clusters[MongoUser];
        Assert.Equal("least_request", cluster.LbPolicy);
        Assert.Equal(2, cluster.ChoiceCount);
        Assert.Equal("10s", cluster.ConnectTimeout);
        Assert.Null(cluster.MaxConnections); // istiod's 4294967295
        Assert.Null(cluster.OutlierDetection);
        Assert.Null(cluster.MinimumRingSize);
        var endpoint = Assert.Single(cluster.Endpoints!);
        Assert.Equal(new MeshEndpointDto { Address = "172.16.188.17", Port = 27017 }, endpoint);
    }

    [Fact]
    public void Map_HttpRouteWithIstioDefaultRetries_TwoConnectRetries()
    {
        var service = Mesh.Services["10.68.111.247:9080"];

        Assert.Equal(2, service.ConnectRetries);
        Assert.Equal("0.0.0.0_9080", service.Listener);
        Assert.Equal("outbound|9080||reviews.default.svc.cluster.local", Assert.Single(service.Clusters!).Name);
    }

    [Fact]
    public void Map_VirtualOutboundAndAllowAnyHosts_PassthroughWithoutClusters()
    {
        var mesh = Mesh;

        var catchAll = mesh.Services["0.0.0.0/0:*"];
        Assert.Equal("0.0.0.0/0:*", catchAll.Vip);
        Assert.Equal("passthrough", catchAll.Mode);
        Assert.Null(catchAll.Clusters);
        Assert.Equal("passthrough", mesh.Services["0.0.0.0/0:80"].Mode);
        Assert.Equal("0.0.0.0/0:80", mesh.Services["0.0.0.0/0:80"].Vip);

        // A headless service's pod IP goes to its ORIGINAL_DST cluster: passthrough, and the cluster is not sent.
        Assert.Equal("passthrough", mesh.Services["172.16.18.244:8443"].Mode);
        Assert.False(mesh.Clusters.ContainsKey("PassthroughCluster"));
        Assert.Equal(36, mesh.Services.Values.Count(s => s.Mode == "passthrough"));
    }

    [Fact]
    public void Map_WildcardHostsWithoutAddress_SkippedAndCounted()
    {
        // The dump's two ServiceEntry-style wildcard hosts have no VIP: a connect carries an IP, so they cannot match.
        var mesh = Mesh;

        Assert.Equal(2, mesh.Skipped.DnsOnlyServices);
        Assert.False(mesh.Services.ContainsKey("*.kubelet.kube-system:10255"));
        Assert.False(mesh.Services.ContainsKey("*.prometheus-operated.monitoring:9090"));
        Assert.Equal(160 - 2, mesh.Services.Count);
        Assert.Equal(0, mesh.Skipped.Unusable);
    }

    [Fact]
    public void Map_DeathStarBench_OnlyReferencedClustersEveryVipParses()
    {
        var mesh = Mesh;

        // 122 fast services, each with its own LEAST_REQUEST cluster; 116 endpoints among them (some have none).
        Assert.Equal(122, mesh.Clusters.Count);
        Assert.All(mesh.Clusters.Values, c => Assert.Equal("least_request", c.LbPolicy));
        Assert.Equal(116, mesh.Clusters.Values.Sum(c => c.Endpoints!.Count));
        Assert.Equal(
            mesh.Services.Values.SelectMany(s => s.Clusters ?? []).Select(c => c.Name).Distinct().Order(StringComparer.Ordinal),
            mesh.Clusters.Keys);
        Assert.All(mesh.Services.Values, s => Assert.True(VipSpec.TryParse(s.Vip, out _, out var problem), problem));
        Assert.Empty(mesh.Skipped.LbFallbacks);
        Assert.Equal(0, mesh.Skipped.NonIpEndpoints);
    }

    [Fact]
    public void Map_Twice_EqualByValue()
    {
        var first = MeshRuleMapper.Map(Translation.Value);
        var second = MeshRuleMapper.Map(Translation.Value);

        var diff = MeshDiff.Compute(first, second, replace: false);

        Assert.True(MeshDiff.IsEmpty(diff));
    }

    [Theory]
    [InlineData("10.0.0.1", 32, 80u, "10.0.0.1:80")]
    [InlineData("10.0.0.0", 16, 80u, "10.0.0.0/16:80")]
    [InlineData("0.0.0.0", 0, 0u, "0.0.0.0/0:*")]
    [InlineData("fd00::1", 128, 443u, "[fd00::1]:443")]
    [InlineData("fd00::", 64, 443u, "fd00::/64:443")]
    [InlineData("::", 0, 0u, "::/0:*")]
    public void ToVip_AddressPrefixPort_VipSpecSyntax(string address, int prefix, uint port, string expected)
    {
        var vip = MeshRuleMapper.ToVip(System.Net.IPAddress.Parse(address), prefix, port);

        Assert.Equal(expected, vip);
        Assert.True(VipSpec.TryParse(vip, out _, out _));
    }

    [Fact]
    public void ToVip_HostBitsSetOrPortTooLarge_Null()
    {
        Assert.Null(MeshRuleMapper.ToVip(System.Net.IPAddress.Parse("10.0.0.1"), 8, 80));
        Assert.Null(MeshRuleMapper.ToVip(System.Net.IPAddress.Parse("10.0.0.1"), 32, 70000));
    }
}
