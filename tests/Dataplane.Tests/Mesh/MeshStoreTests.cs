using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Dataplane.Configuration;
using Istio.AppSwitch.Dataplane.Mesh;
using Istio.AppSwitch.Dataplane.Policy;

namespace Istio.AppSwitch.Dataplane.Tests.Mesh;

public sealed class MeshStoreTests
{
    private readonly TestWorld _world = new();
    private readonly MeshStore _mesh;

    public MeshStoreTests()
    {
        _mesh = new MeshStore(_world.Routing);
    }

    private static MeshClusterDto Cluster(string name, params string[] endpoints) => new()
    {
        Name = name,
        Endpoints = [.. endpoints.Select(e =>
        {
            var at = e.LastIndexOf(':');
            return new MeshEndpointDto { Address = e[..at].Trim('[', ']'), Port = int.Parse(e[(at + 1)..], System.Globalization.CultureInfo.InvariantCulture) };
        })],
    };

    private static MeshServiceDto Service(string vip, params (string Cluster, uint Weight)[] clusters) => new()
    {
        Key = vip,
        Vip = vip,
        Clusters = [.. clusters.Select(c => new MeshWeightedClusterDto { Name = c.Cluster, Weight = c.Weight })],
    };

    [Fact]
    public void A_fast_service_redirects_to_an_endpoint_of_its_cluster_and_takes_a_connection_slot()
    {
        _mesh.Apply(new MeshUpdateRequest
        {
            Version = "v1",
            Clusters = [Cluster("outbound|6379||redis", "127.0.0.1:7001")],
            Services = [Service("127.96.5.1:6379", ("outbound|6379||redis", 1))],
        });
        var client = _world.App("client");

        var decision = _world.Resolve(client, "127.96.5.1:6379");

        Assert.Equal(ConnectDecisionKind.Redirect, decision.Kind);
        Assert.Equal(TestWorld.Ep("127.0.0.1:7001"), decision.Backend);
        Assert.Equal("outbound|6379||redis", decision.Cluster!.Name);
        Assert.Equal(1, decision.Endpoint!.ActiveConnections);
        Assert.Equal("mesh/127.96.5.1:6379", decision.Ref!.Name);
        Assert.Equal(ConnectDecisionKind.NoMatch, _world.Resolve(client, "127.96.5.1:6380").Kind);
        decision.Cluster.Release(decision.Endpoint);
        Assert.Equal(0, decision.Endpoint.ActiveConnections);
    }

    [Fact]
    public void Weighted_clusters_share_connections_by_weight()
    {
        _mesh.Apply(new MeshUpdateRequest
        {
            Clusters = [Cluster("v1", "127.0.0.1:7001"), Cluster("v2", "127.0.0.1:7002")],
            Services = [Service("127.96.5.2:80", ("v1", 1), ("v2", 3))],
        });
        var client = _world.App("client");
        var toV2 = 0;
        const int N = 20_000;
        for (var i = 0; i < N; i++)
        {
            var decision = _world.Resolve(client, "127.96.5.2:80");
            toV2 += decision.Cluster!.Name == "v2" ? 1 : 0;
            decision.Cluster.Release(decision.Endpoint!);
        }
        Assert.InRange(toV2 / (double)N, 0.73, 0.77);
    }

    [Fact]
    public void Modes_other_than_fast_pass_through_refuse_or_chain()
    {
        _mesh.Apply(new MeshUpdateRequest
        {
            Services =
            [
                new MeshServiceDto { Key = "pass", Vip = "127.96.5.3:80", Mode = "passthrough" },
                new MeshServiceDto { Key = "hole", Vip = "127.96.5.4:80", Mode = "blackhole" },
                new MeshServiceDto { Key = "l7", Vip = "127.96.5.5:80", Mode = "chain", Reasons = ["http_header_match"] },
            ],
        });
        var client = _world.App("client");
        Assert.Equal(ConnectDecisionKind.NoMatch, _world.Resolve(client, "127.96.5.3:80").Kind);
        Assert.Equal(ConnectDecisionKind.Refuse, _world.Resolve(client, "127.96.5.4:80").Kind);
        Assert.Equal(ConnectDecisionKind.Chain, _world.Resolve(client, "127.96.5.5:80").Kind);
    }

    [Fact]
    public void An_eds_update_moves_new_connects_and_keeps_the_state_of_endpoints_that_stay()
    {
        _mesh.Apply(new MeshUpdateRequest
        {
            Clusters = [Cluster("c", "127.0.0.1:7001")],
            Services = [Service("127.96.5.6:80", ("c", 1))],
        });
        var client = _world.App("client");
        _ = _world.Resolve(client, "127.96.5.6:80"); // one connection stays open across the update
        var before = _world.Routing.Current.Version;

        // The delta names the cluster only: the service's route must follow it.
        _mesh.Apply(new MeshUpdateRequest { Clusters = [Cluster("c", "127.0.0.1:7001", "127.0.0.1:7002")] });

        Assert.Equal(before + 1, _world.Routing.Current.Version);
        var stayed = _mesh.Clusters["c"].Endpoints.Single(e => e.Address == TestWorld.Ep("127.0.0.1:7001"));
        Assert.Equal(1, stayed.ActiveConnections);
        var seen = new HashSet<string>();
        for (var i = 0; i < 8; i++)
        {
            var d = _world.Resolve(client, "127.96.5.6:80");
            seen.Add(d.Backend.ToIPEndPoint().ToString());
            d.Cluster!.Release(d.Endpoint!);
        }
        Assert.Equal(["127.0.0.1:7001", "127.0.0.1:7002"], seen.Order());

        _mesh.Apply(new MeshUpdateRequest { Clusters = [Cluster("c", "127.0.0.1:7002")] });
        Assert.Equal(TestWorld.Ep("127.0.0.1:7002"), _world.Resolve(client, "127.96.5.6:80").Backend);
    }

    [Fact]
    public void A_cluster_with_no_endpoint_holds_connects_for_its_connect_timeout()
    {
        _mesh.Apply(new MeshUpdateRequest
        {
            Clusters = [new MeshClusterDto { Name = "empty", ConnectTimeout = "2s", Endpoints = [] }],
            Services = [Service("127.96.5.7:80", ("empty", 1))],
        });

        var decision = _world.Resolve(_world.App("client"), "127.96.5.7:80");

        Assert.Equal(ConnectDecisionKind.NoBackend, decision.Kind);
        Assert.Equal(TimeSpan.FromSeconds(2), decision.Ref!.Wait);
    }

    [Fact]
    public void The_circuit_breaker_refuses_past_max_connections_until_one_closes()
    {
        _mesh.Apply(new MeshUpdateRequest
        {
            Clusters = [new MeshClusterDto { Name = "small", MaxConnections = 1, Endpoints = [new MeshEndpointDto { Address = "127.0.0.1", Port = 7001 }] }],
            Services = [Service("127.96.5.8:80", ("small", 1))],
        });
        var client = _world.App("client");

        var first = _world.Resolve(client, "127.96.5.8:80");
        Assert.Equal(ConnectDecisionKind.Redirect, first.Kind);
        Assert.Equal(ConnectDecisionKind.Refuse, _world.Resolve(client, "127.96.5.8:80").Kind);
        first.Cluster!.Release(first.Endpoint!);
        Assert.Equal(ConnectDecisionKind.Redirect, _world.Resolve(client, "127.96.5.8:80").Kind);
    }

    [Fact]
    public void Replace_removes_everything_not_in_the_batch_and_delete_removes_one()
    {
        _mesh.Apply(new MeshUpdateRequest
        {
            Clusters = [Cluster("a", "127.0.0.1:7001"), Cluster("b", "127.0.0.1:7002")],
            Services = [Service("127.96.5.9:80", ("a", 1)), Service("127.96.5.10:80", ("b", 1))],
        });
        var client = _world.App("client");

        _mesh.Apply(new MeshUpdateRequest { Replace = true, Clusters = [Cluster("b", "127.0.0.1:7002")], Services = [Service("127.96.5.10:80", ("b", 1))] });
        Assert.Equal(ConnectDecisionKind.NoMatch, _world.Resolve(client, "127.96.5.9:80").Kind);
        Assert.Equal(["b"], _mesh.Clusters.Keys);

        _mesh.Apply(new MeshUpdateRequest { DeleteServices = ["127.96.5.10:80"], DeleteClusters = ["b"] });
        Assert.Equal(ConnectDecisionKind.NoMatch, _world.Resolve(client, "127.96.5.10:80").Kind);
        Assert.Empty(_mesh.Services);
        Assert.Equal(0, _world.Routing.Current.RefCount);
    }

    [Fact]
    public void A_bad_batch_names_every_bad_field_and_changes_nothing()
    {
        _mesh.Apply(new MeshUpdateRequest { Version = "good", Clusters = [Cluster("a", "127.0.0.1:7001")], Services = [Service("127.96.5.11:80", ("a", 1))] });
        var version = _world.Routing.Current.Version;

        var error = Assert.Throws<ValidationException>(() => _mesh.Apply(new MeshUpdateRequest
        {
            Version = "bad",
            Clusters =
            [
                new MeshClusterDto { Name = "x", LbPolicy = "fastest", Endpoints = [new MeshEndpointDto { Address = "not-an-ip", Port = 70000 }] },
                new MeshClusterDto { Name = "y", MaglevTableSize = 65536, ConnectTimeout = "soon" },
            ],
            Services =
            [
                new MeshServiceDto { Key = "k", Vip = "127.96.5.12", Clusters = [new MeshWeightedClusterDto { Name = "a" }] },
                new MeshServiceDto { Key = "k2", Vip = "127.96.5.13:80", Mode = "teleport", ConnectRetries = 99 },
            ],
        }));

        var fields = error.Errors.Select(e => e.Field).ToHashSet();
        Assert.Superset(new HashSet<string>
        {
            "clusters[0].lbPolicy", "clusters[0].endpoints[0].address", "clusters[0].endpoints[0].port",
            "clusters[1].maglevTableSize", "clusters[1].connectTimeout",
            "services[0].vip", "services[1].mode", "services[1].connectRetries",
        }, fields);
        Assert.Equal(version, _world.Routing.Current.Version);
        Assert.Equal("good", _mesh.Describe().Version);
    }

    [Fact]
    public void A_service_may_not_be_left_naming_a_cluster_that_does_not_exist()
    {
        _mesh.Apply(new MeshUpdateRequest { Clusters = [Cluster("a", "127.0.0.1:7001")], Services = [Service("127.96.5.14:80", ("a", 1))] });

        var missing = Assert.Throws<ValidationException>(() => _mesh.Apply(new MeshUpdateRequest { Services = [Service("127.96.5.15:80", ("nope", 1))] }));
        Assert.Equal("services[0].clusters[0]", missing.Errors.Single().Field);

        var stillUsed = Assert.Throws<ValidationException>(() => _mesh.Apply(new MeshUpdateRequest { DeleteClusters = ["a"] }));
        Assert.Contains("still used by service \"127.96.5.14:80\"", stillUsed.Errors.Single().Message, StringComparison.Ordinal);
        Assert.True(_mesh.Clusters.ContainsKey("a"));
    }

    [Fact]
    public void User_refs_and_mesh_routes_live_side_by_side_and_the_exact_user_ref_is_not_replaced()
    {
        var backend = _world.App("redis", "app=redis");
        _world.Listen(backend, "127.0.0.1:6379");
        _world.Ref("redis", "127.96.5.16:6379", "app=redis");
        _mesh.Apply(new MeshUpdateRequest { Clusters = [Cluster("a", "127.0.0.1:7001")], Services = [Service("127.96.5.17:6379", ("a", 1))] });
        var client = _world.App("client");

        Assert.Equal(TestWorld.Ep("127.0.0.1:6379"), _world.Resolve(client, "127.96.5.16:6379").Backend);
        Assert.Equal(TestWorld.Ep("127.0.0.1:7001"), _world.Resolve(client, "127.96.5.17:6379").Backend);
        Assert.Single(_world.Refs.All);
    }

    [Fact]
    public void Describe_reports_services_clusters_and_live_endpoint_state()
    {
        _mesh.Apply(new MeshUpdateRequest
        {
            Version = "v7",
            Clusters =
            [
                new MeshClusterDto
                {
                    Name = "c",
                    LbPolicy = "least_request",
                    MaxConnections = 10,
                    OutlierDetection = new MeshOutlierDetectionDto { ConsecutiveFailures = 3 },
                    Endpoints = [new MeshEndpointDto { Address = "127.0.0.1", Port = 7001, Weight = 2, Priority = 1, Health = "degraded" }],
                },
            ],
            Services = [Service("127.96.5.18:80", ("c", 1))],
        });

        var state = _mesh.Describe();

        Assert.Equal("v7", state.Version);
        var cluster = Assert.Single(state.Clusters);
        Assert.Equal("least_request", cluster.LbPolicy);
        Assert.Equal(10u, cluster.MaxConnections);
        Assert.Equal(3, cluster.OutlierDetection!.ConsecutiveFailures);
        Assert.Equal("30s", cluster.OutlierDetection.BaseEjectionTime);
        var endpoint = Assert.Single(cluster.Endpoints!);
        Assert.Equal(("127.0.0.1", 7001, 2u, 1u, "degraded", 0, false), (endpoint.Address, endpoint.Port, endpoint.Weight!.Value, endpoint.Priority!.Value, endpoint.Health, endpoint.ActiveConnections!.Value, endpoint.Ejected!.Value));
        var service = Assert.Single(state.Services);
        Assert.Equal("127.96.5.18:80", service.Vip);
        Assert.Equal("fast", service.Mode);
    }
}
