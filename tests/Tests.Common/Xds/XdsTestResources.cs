using Envoy.Config.Cluster.V3;
using Envoy.Config.Core.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Envoy.Extensions.Filters.Network.TcpProxy.V3;
using Google.Protobuf.WellKnownTypes;
using Filter = Envoy.Config.Listener.V3.Filter;

namespace Istio.AppSwitch.Tests.Common.Xds;

/// <summary>
/// Envoy resources shaped as istiod makes them for a sidecar (names such as <c>outbound|9080||reviews.default.svc.cluster.local</c>),
/// built with the generated types. Every address is loopback.
/// </summary>
public static class XdsTestResources
{
    /// <summary>The type URLs, spelled out here so the tests do not borrow them from the code under test.</summary>
    public const string ClusterType = "type.googleapis.com/envoy.config.cluster.v3.Cluster";

    /// <summary>EDS.</summary>
    public const string EndpointType = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

    /// <summary>LDS.</summary>
    public const string ListenerType = "type.googleapis.com/envoy.config.listener.v3.Listener";

    /// <summary>RDS.</summary>
    public const string RouteType = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";

    /// <summary>An outbound cluster name as istiod writes it.</summary>
    public static string Outbound(string host, int port) => $"outbound|{port}||{host}.default.svc.cluster.local";

    /// <summary>An EDS cluster over ADS, with <c>service_name</c> equal to its name, as istiod sends it.</summary>
    public static Cluster EdsCluster(string name, int connectTimeoutSeconds = 10) => new()
    {
        Name = name,
        Type = Cluster.Types.DiscoveryType.Eds,
        EdsClusterConfig = new Cluster.Types.EdsClusterConfig
        {
            ServiceName = name,
            EdsConfig = new ConfigSource { Ads = new AggregatedConfigSource(), ResourceApiVersion = ApiVersion.V3 },
        },
        ConnectTimeout = Duration.FromTimeSpan(TimeSpan.FromSeconds(connectTimeoutSeconds)),
        LbPolicy = Cluster.Types.LbPolicy.LeastRequest,
    };

    /// <summary>A cluster that needs no EDS (Istio's <c>PassthroughCluster</c> is ORIGINAL_DST).</summary>
    public static Cluster OriginalDstCluster(string name) => new()
    {
        Name = name,
        Type = Cluster.Types.DiscoveryType.OriginalDst,
        LbPolicy = Cluster.Types.LbPolicy.ClusterProvided,
        ConnectTimeout = Duration.FromTimeSpan(TimeSpan.FromSeconds(10)),
    };

    /// <summary>A load assignment with endpoints on 127.0.0.x.</summary>
    public static ClusterLoadAssignment Endpoints(string clusterName, int port, params string[] addresses)
    {
        var group = new LocalityLbEndpoints();
        foreach (var address in addresses)
        {
            group.LbEndpoints.Add(new LbEndpoint
            {
                Endpoint = new Endpoint { Address = SocketAddress(address, port) },
                LoadBalancingWeight = 1,
            });
        }

        var assignment = new ClusterLoadAssignment { ClusterName = clusterName };
        assignment.Endpoints.Add(group);
        return assignment;
    }

    /// <summary>An outbound HTTP listener <c>0.0.0.0_PORT</c> whose connection manager loads <paramref name="routeConfigName"/> over RDS.</summary>
    public static Listener HttpListener(string name, int port, string routeConfigName)
    {
        var manager = new HttpConnectionManager
        {
            StatPrefix = "outbound_0.0.0.0_" + port,
            Rds = new Rds
            {
                RouteConfigName = routeConfigName,
                ConfigSource = new ConfigSource { Ads = new AggregatedConfigSource(), ResourceApiVersion = ApiVersion.V3 },
            },
        };
        var chain = new FilterChain();
        chain.Filters.Add(new Filter { Name = "envoy.filters.network.http_connection_manager", TypedConfig = Any.Pack(manager) });
        var listener = new Listener { Name = name, Address = SocketAddress("127.0.0.1", port) };
        listener.FilterChains.Add(chain);
        return listener;
    }

    /// <summary>A TCP listener <c>VIP_PORT</c> that proxies to <paramref name="cluster"/>.</summary>
    public static Listener TcpListener(string name, string address, int port, string cluster)
    {
        var chain = new FilterChain();
        chain.Filters.Add(new Filter
        {
            Name = "envoy.filters.network.tcp_proxy",
            TypedConfig = Any.Pack(new TcpProxy { StatPrefix = cluster, Cluster = cluster }),
        });
        var listener = new Listener { Name = name, Address = SocketAddress(address, port) };
        listener.FilterChains.Add(chain);
        return listener;
    }

    /// <summary>A route config with one virtual host per cluster, each routing everything to it.</summary>
    public static RouteConfiguration Routes(string name, params string[] clusters)
    {
        var configuration = new RouteConfiguration { Name = name, ValidateClusters = false };
        foreach (var cluster in clusters)
        {
            var virtualHost = new VirtualHost { Name = cluster.Split('|')[^1] + ":" + name };
            virtualHost.Domains.Add(cluster.Split('|')[^1]);
            virtualHost.Routes.Add(new Route
            {
                Name = "default",
                Match = new RouteMatch { Prefix = "/" },
                Route_ = new RouteAction { Cluster = cluster },
            });
            configuration.VirtualHosts.Add(virtualHost);
        }

        return configuration;
    }

    private static Address SocketAddress(string address, int port) => new()
    {
        SocketAddress = new SocketAddress { Address = address, PortValue = (uint)port },
    };
}
