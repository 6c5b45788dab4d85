using Envoy.Config.Cluster.V3;
using Envoy.Config.Core.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Envoy.Extensions.Filters.Network.TcpProxy.V3;
using Google.Protobuf.WellKnownTypes;
using Istio.AppSwitch.Xds.Translation;
using Filter = Envoy.Config.Listener.V3.Filter;
using RetryPolicy = Envoy.Config.Route.V3.RetryPolicy;

namespace Istio.AppSwitch.Bench.Translation;

/// <summary>
/// Builds an Istio-shaped mesh of typed resources, as istiod would send one sidecar: per service an EDS cluster
/// (LEAST_REQUEST, circuit breakers, auto-mTLS transport_socket_matches) with its ClusterLoadAssignment; every third
/// service is HTTP (a 0.0.0.0_PORT listener's route configuration with one virtual host per service and Istio's default
/// retry policy), the others TCP (a VIP_PORT listener with tcp_proxy). Deterministic: the same arguments give the same mesh.
/// Shared by the benchmark (bench/translation) and the tests (linked into Xds.Tests).
/// </summary>
internal static class SyntheticMesh
{
    public static TranslationInput Create(int services, int endpoints)
    {
        var clusters = new List<Cluster>(services + 2);
        var assignments = new List<ClusterLoadAssignment>(services);
        var listeners = new List<Listener>(services);
        var httpHosts = new Dictionary<uint, RouteConfiguration>();
        var endpointsPerService = endpoints / services;
        var remainder = endpoints % services;

        clusters.Add(new Cluster { Name = "PassthroughCluster", Type = Cluster.Types.DiscoveryType.OriginalDst, LbPolicy = Cluster.Types.LbPolicy.ClusterProvided });
        clusters.Add(new Cluster { Name = "BlackHoleCluster", Type = Cluster.Types.DiscoveryType.Static });

        for (var i = 0; i < services; i++)
        {
            var port = (uint)(8000 + (i % 50));
            var host = $"svc-{i}.ns-{i % 100}.svc.cluster.local";
            var name = $"outbound|{port}||{host}";
            var vip = $"10.{96 + (i >> 16)}.{(i >> 8) & 0xFF}.{i & 0xFF}";
            clusters.Add(NewCluster(name, host));
            assignments.Add(Assignment(name, i, endpointsPerService + (i < remainder ? 1 : 0), port));
            if (i % 3 == 0)
            {
                if (!httpHosts.TryGetValue(port, out var routes))
                {
                    httpHosts[port] = routes = new RouteConfiguration { Name = $"{port}" };
                    listeners.Add(HttpListener(port));
                }
                routes.VirtualHosts.Add(VirtualHost(host, vip, port, name));
            }
            else
            {
                listeners.Add(TcpListener(vip, port, name));
            }
        }
        return new TranslationInput(clusters, assignments, listeners, httpHosts.Values.ToList());
    }

    private static Cluster NewCluster(string name, string host)
    {
        var cluster = new Cluster
        {
            Name = name,
            Type = Cluster.Types.DiscoveryType.Eds,
            EdsClusterConfig = new Cluster.Types.EdsClusterConfig { ServiceName = name },
            ConnectTimeout = Duration.FromTimeSpan(TimeSpan.FromSeconds(10)),
            LbPolicy = Cluster.Types.LbPolicy.LeastRequest,
            CircuitBreakers = new CircuitBreakers { Thresholds = { new CircuitBreakers.Types.Thresholds { MaxConnections = uint.MaxValue } } },
            CommonLbConfig = new Cluster.Types.CommonLbConfig { LocalityWeightedLbConfig = new() },
            Metadata = new Metadata(),
        };
        var service = new Struct();
        service.Fields["host"] = Value.ForString(host);
        var istio = new Struct();
        istio.Fields["services"] = Value.ForList(Value.ForStruct(service));
        cluster.Metadata.FilterMetadata["istio"] = istio;
        var tlsMatch = new Struct();
        tlsMatch.Fields["tlsMode"] = Value.ForString("istio");
        cluster.TransportSocketMatches.Add(new Cluster.Types.TransportSocketMatch
        {
            Name = "tlsMode-istio",
            Match = tlsMatch,
            TransportSocket = new TransportSocket { Name = "envoy.transport_sockets.tls" },
        });
        cluster.TransportSocketMatches.Add(new Cluster.Types.TransportSocketMatch
        {
            Name = "tlsMode-disabled",
            Match = new Struct(),
            TransportSocket = new TransportSocket { Name = "envoy.transport_sockets.raw_buffer" },
        });
        return cluster;
    }

    private static ClusterLoadAssignment Assignment(string name, int service, int count, uint port)
    {
        var locality = new LocalityLbEndpoints { Locality = new Locality { Region = "us-east1", Zone = $"us-east1-{(char)('a' + (service % 3))}" } };
        for (var e = 0; e < count; e++)
        {
            var n = (service * 8) + e;
            locality.LbEndpoints.Add(new LbEndpoint
            {
                Endpoint = new Envoy.Config.Endpoint.V3.Endpoint
                {
                    Address = new Address { SocketAddress = new SocketAddress { Address = $"172.{16 + ((n >> 16) & 0x0F)}.{(n >> 8) & 0xFF}.{n & 0xFF}", PortValue = port } },
                },
                HealthStatus = HealthStatus.Healthy,
                LoadBalancingWeight = 1,
            });
        }
        var assignment = new ClusterLoadAssignment { ClusterName = name };
        assignment.Endpoints.Add(locality);
        return assignment;
    }

    private static Listener TcpListener(string vip, uint port, string cluster) => new()
    {
        Name = $"{vip}_{port}",
        Address = new Address { SocketAddress = new SocketAddress { Address = vip, PortValue = port } },
        TrafficDirection = TrafficDirection.Outbound,
        BindToPort = false,
        FilterChains =
        {
            new FilterChain
            {
                Filters =
                {
                    new Filter
                    {
                        Name = "envoy.filters.network.tcp_proxy",
                        TypedConfig = Any.Pack(new TcpProxy { StatPrefix = cluster, Cluster = cluster }),
                    },
                },
            },
        },
    };

    private static Listener HttpListener(uint port) => new()
    {
        Name = $"0.0.0.0_{port}",
        Address = new Address { SocketAddress = new SocketAddress { Address = "0.0.0.0", PortValue = port } },
        TrafficDirection = TrafficDirection.Outbound,
        BindToPort = false,
        FilterChains =
        {
            new FilterChain
            {
                Filters =
                {
                    new Filter
                    {
                        Name = "envoy.filters.network.http_connection_manager",
                        TypedConfig = Any.Pack(new HttpConnectionManager
                        {
                            StatPrefix = $"outbound_0.0.0.0_{port}",
                            Rds = new Rds { RouteConfigName = $"{port}" },
                            HttpFilters =
                            {
                                new HttpFilter
                                {
                                    Name = "envoy.filters.http.router",
                                    TypedConfig = Any.Pack(new Envoy.Extensions.Filters.Http.Router.V3.Router()),
                                },
                            },
                        }),
                    },
                },
            },
        },
    };

    private static VirtualHost VirtualHost(string host, string vip, uint port, string cluster)
    {
        var shortName = host[..host.IndexOf(".svc", StringComparison.Ordinal)];
        return new VirtualHost
        {
            Name = $"{host}:{port}",
            Domains = { host, $"{host}:{port}", shortName, $"{shortName}:{port}", vip, $"{vip}:{port}" },
            Routes =
            {
                new Route
                {
                    Name = "default",
                    Match = new RouteMatch { Prefix = "/" },
                    Route_ = new RouteAction
                    {
                        Cluster = cluster,
                        Timeout = Duration.FromTimeSpan(TimeSpan.Zero),
                        RetryPolicy = new RetryPolicy
                        {
                            RetryOn = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
                            NumRetries = 2,
                            RetriableStatusCodes = { 503 },
                        },
                    },
                },
            },
        };
    }
}
