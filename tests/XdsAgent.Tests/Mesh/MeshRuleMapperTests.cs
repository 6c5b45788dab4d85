using System.Collections.Immutable;
using System.Net;
using Istio.AppSwitch.Xds.Translation;
using Istio.AppSwitch.XdsAgent.Mesh;

namespace Istio.AppSwitch.XdsAgent.Tests.Mesh;

/// <summary>The mapping of the policies the corpus lacks: ring hash, outlier detection, health, names as endpoints.</summary>
public sealed class MeshRuleMapperTests
{
    internal static OutboundService Service(string vip, int prefix, uint port, TranslationMode mode = TranslationMode.Fast,
        int retries = 0, bool hashOnSourceIp = false, params (string Cluster, uint Weight)[] destinations) =>
        new($"{vip}:{port}", IPAddress.Parse(vip), prefix, port, [], $"{vip}_{port}", null, ServiceProtocol.Tcp, mode,
            mode == TranslationMode.Chain ? [new ChainCause(ChainReason.Lua, "filter envoy.filters.http.lua")] : [],
            [.. destinations.Select(d => new WeightedDestination(d.Cluster, d.Weight))], hashOnSourceIp, retries, null);

    internal static ClusterPolicy Cluster(string name, LoadBalancerPolicy lb = LoadBalancerPolicy.RoundRobin,
        OutlierDetectionPolicy? outlier = null, uint maxConnections = uint.MaxValue, params EndpointPolicy[] endpoints) =>
        new(name, ClusterDiscovery.Eds, TranslationMode.Fast, [], lb, 2, 1024, 8_388_608, 65537, TimeSpan.FromMilliseconds(250),
            maxConnections, outlier, UpstreamTlsMode.None, false, [], [.. endpoints], true);

    internal static EndpointPolicy Endpoint(string address, uint port, uint weight = 1, uint priority = 0, EndpointHealth health = EndpointHealth.Healthy) =>
        new(address, port, weight, null, priority, "", "", "", health, false);

    internal static MeshTranslation Translation(IEnumerable<OutboundService> services, IEnumerable<ClusterPolicy> clusters) =>
        MeshTranslation.Empty with
        {
            Outbound = [.. services],
            Clusters = clusters.ToImmutableSortedDictionary(c => c.Name, c => c, StringComparer.Ordinal),
        };

    [Fact]
    public void Map_WeightedRingHashWithOutlierDetection_EveryFieldAsTheApiSpellsIt()
    {
        var translation = Translation(
            [Service("127.96.0.1", 32, 6379, retries: 25, hashOnSourceIp: true, destinations: [("a", 80), ("b", 20)])],
            [
                Cluster("a", LoadBalancerPolicy.RingHash, new OutlierDetectionPolicy(5, 3, null, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30), 10),
                    maxConnections: 100, endpoints: [Endpoint("127.0.0.1", 7000, weight: 3, priority: 1, health: EndpointHealth.Degraded)]),
                Cluster("b", LoadBalancerPolicy.Maglev, new OutlierDetectionPolicy(7, null, null, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(1500), 50),
                    endpoints: [Endpoint("127.0.0.2", 7000, health: EndpointHealth.Unknown), Endpoint("redis.example", 7000), Endpoint("/tmp/pipe", 0)]),
                Cluster("unused"),
            ]);

        var mesh = MeshRuleMapper.Map(translation);

        var service = mesh.Services["127.96.0.1:6379"];
        Assert.True(service.HashOnSourceIp);
        Assert.Equal(MeshRuleMapper.MaxConnectRetries, service.ConnectRetries);
        Assert.Equal([("a", (uint?)80), ("b", 20)], service.Clusters!.Select(c => (c.Name!, c.Weight)));
        Assert.Equal(["a", "b"], mesh.Clusters.Keys);

        var a = mesh.Clusters["a"];
        Assert.Equal("ring_hash", a.LbPolicy);
        Assert.Equal(1024ul, a.MinimumRingSize);
        Assert.Equal(8_388_608ul, a.MaximumRingSize);
        Assert.Null(a.ChoiceCount);
        Assert.Equal("250ms", a.ConnectTimeout);
        Assert.Equal(100u, a.MaxConnections);
        Assert.Equal(3, a.OutlierDetection!.ConsecutiveFailures); // gateway failures before 5xx
        Assert.Equal("30s", a.OutlierDetection.BaseEjectionTime);
        Assert.Equal("5m", a.OutlierDetection.MaxEjectionTime);
        Assert.Equal(10, a.OutlierDetection.MaxEjectionPercent);
        var endpoint = Assert.Single(a.Endpoints!);
        Assert.Equal((3u, 1u, "degraded"), (endpoint.Weight!.Value, endpoint.Priority!.Value, endpoint.Health!));

        var b = mesh.Clusters["b"];
        Assert.Equal("maglev", b.LbPolicy);
        Assert.Equal(65537ul, b.MaglevTableSize);
        Assert.Equal(7, b.OutlierDetection!.ConsecutiveFailures);
        Assert.Equal("1.5s", b.OutlierDetection.BaseEjectionTime);
        Assert.Null(Assert.Single(b.Endpoints!).Health); // unknown is healthy
        Assert.Equal(2, mesh.Skipped.NonIpEndpoints);
    }

    [Fact]
    public void Map_ValuesTheDaemonWouldRefuse_ClampedOrLeftOutSoTheBatchStands()
    {
        var odd = Cluster("odd", LoadBalancerPolicy.RingHash, new OutlierDetectionPolicy(0, null, null, TimeSpan.FromSeconds(10), TimeSpan.FromHours(3), 10),
            endpoints: [Endpoint("127.0.0.1", 80), Endpoint("127.0.0.1", 80, priority: 500), Endpoint("127.0.0.2", 80, weight: 0, priority: 500)]) with
        {
            ConnectTimeout = TimeSpan.Zero,
            MinimumRingSize = 0,
            MaximumRingSize = ulong.MaxValue,
        };
        var translation = Translation(
            [
                Service("127.96.0.5", 32, 80, destinations: [("odd", 1), ("zero", 0)]),
                Service("127.96.0.6", 32, 80, destinations: [("zero", 0)]),
            ],
            [odd, Cluster("zero", endpoints: [Endpoint("127.0.0.3", 80)])]);

        var mesh = MeshRuleMapper.Map(translation);

        Assert.Equal(["127.96.0.5:80"], mesh.Services.Keys);
        Assert.Equal(["odd"], mesh.Services["127.96.0.5:80"].Clusters!.Select(c => c.Name));
        Assert.Equal(1, mesh.Skipped.Unusable);
        var cluster = mesh.Clusters["odd"];
        Assert.Null(cluster.ConnectTimeout); // the daemon's default
        Assert.Null(cluster.OutlierDetection); // 0 failures disables it
        Assert.Equal((1ul, MeshRuleMapper.MaxRingSize), (cluster.MinimumRingSize!.Value, cluster.MaximumRingSize!.Value));
        Assert.Equal([("127.0.0.1", (uint?)null), ("127.0.0.2", MeshRuleMapper.MaxPriority)], cluster.Endpoints!.Select(e => (e.Address!, e.Priority)));
        Assert.Null(cluster.Endpoints![1].Weight);
    }

    [Fact]
    public void Map_LongEjection_ClampedToAnHour()
    {
        var translation = Translation([Service("127.96.0.7", 32, 80, destinations: [("c", 1)])],
            [Cluster("c", outlier: new OutlierDetectionPolicy(5, null, 2, TimeSpan.FromSeconds(10), TimeSpan.FromHours(3), 10), endpoints: [Endpoint("127.0.0.1", 80)])]);

        var outlier = MeshRuleMapper.Map(translation).Clusters["c"].OutlierDetection!;

        Assert.Equal("1h", outlier.BaseEjectionTime);
        Assert.Equal(2, outlier.ConsecutiveFailures); // local-origin failures first
    }

    [Fact]
    public void Map_ClusterProvidedPolicy_RoundRobinAndNoted()
    {
        var translation = Translation(
            [Service("127.96.0.2", 32, 80, destinations: [("c", 1)])],
            [Cluster("c", LoadBalancerPolicy.ClusterProvided, endpoints: [Endpoint("127.0.0.1", 80)])]);

        var mesh = MeshRuleMapper.Map(translation);

        Assert.Equal("round_robin", mesh.Clusters["c"].LbPolicy);
        Assert.Equal(["c"], mesh.Skipped.LbFallbacks.ToArray());
    }

    [Fact]
    public void Map_ChainedServiceWithMissingCluster_KeepsReasonsDropsTheName()
    {
        var translation = Translation([Service("127.96.0.3", 32, 80, TranslationMode.Chain, destinations: [("gone", 1)])], []);

        var service = MeshRuleMapper.Map(translation).Services["127.96.0.3:80"];

        Assert.Equal("chain", service.Mode);
        Assert.Equal(["lua"], service.Reasons!);
        Assert.Null(service.Clusters);
    }

    [Fact]
    public void Map_BlackholeService_ModeWithoutClusters()
    {
        var translation = Translation([Service("127.96.0.4", 32, 81, TranslationMode.Blackhole, destinations: [("BlackHoleCluster", 1)])],
            [Cluster("BlackHoleCluster")]);

        var mesh = MeshRuleMapper.Map(translation);

        Assert.Equal("blackhole", mesh.Services["127.96.0.4:81"].Mode);
        Assert.Null(mesh.Services["127.96.0.4:81"].Clusters);
        Assert.Empty(mesh.Clusters);
    }
}
