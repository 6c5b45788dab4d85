using Envoy.Config.Route.V3;
using Google.Protobuf;

namespace Istio.AppSwitch.Xds.Resources.Decoding;

/// <summary>RDS: <c>envoy.config.route.v3.RouteConfiguration</c>.</summary>
public sealed class RouteDecoder : XdsResourceDecoder
{
    /// <summary>The one instance.</summary>
    public static RouteDecoder Instance { get; } = new();

    /// <inheritdoc />
    public override string TypeUrl => XdsTypeUrls.Route;

    /// <summary>The clusters the routes of a route configuration send to (direct and weighted), each once.</summary>
    public static IReadOnlyList<string> ClusterNames(RouteConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var names = new List<string>();
        foreach (var route in configuration.VirtualHosts.SelectMany(v => v.Routes))
        {
            if (route.ActionCase != Route.ActionOneofCase.Route_)
            {
                continue;
            }

            var action = route.Route_;
            if (action.ClusterSpecifierCase == RouteAction.ClusterSpecifierOneofCase.Cluster)
            {
                AddOnce(names, action.Cluster);
            }
            else if (action.ClusterSpecifierCase == RouteAction.ClusterSpecifierOneofCase.WeightedClusters)
            {
                foreach (var weighted in action.WeightedClusters.Clusters)
                {
                    AddOnce(names, weighted.Name);
                }
            }
        }

        return names;
    }

    /// <inheritdoc />
    protected override IMessage Parse(ByteString value) => RouteConfiguration.Parser.ParseFrom(value);

    /// <inheritdoc />
    protected override string NameOf(IMessage message) => ((RouteConfiguration)message).Name;

    /// <inheritdoc />
    protected override void Validate(IMessage message, List<string> problems)
    {
        var configuration = (RouteConfiguration)message;
        var virtualHosts = new HashSet<string>(StringComparer.Ordinal);
        foreach (var virtualHost in configuration.VirtualHosts)
        {
            if (string.IsNullOrEmpty(virtualHost.Name))
            {
                problems.Add("a virtual host has no name");
            }
            else if (!virtualHosts.Add(virtualHost.Name))
            {
                problems.Add($"virtual host '{virtualHost.Name}' appears more than once");
            }

            if (virtualHost.Domains.Count == 0)
            {
                problems.Add($"virtual host '{virtualHost.Name}' has no domains");
            }
        }
    }

    private static void AddOnce(List<string> names, string name)
    {
        if (!string.IsNullOrEmpty(name) && !names.Contains(name))
        {
            names.Add(name);
        }
    }
}
