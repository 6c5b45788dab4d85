using Envoy.Config.Listener.V3;
using Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Google.Protobuf;

namespace Istio.AppSwitch.Xds.Resources.Decoding;

/// <summary>LDS: <c>envoy.config.listener.v3.Listener</c>.</summary>
public sealed class ListenerDecoder : XdsResourceDecoder
{
    /// <summary>The one instance.</summary>
    public static ListenerDecoder Instance { get; } = new();

    /// <inheritdoc />
    public override string TypeUrl => XdsTypeUrls.Listener;

    /// <summary>The route config names that the listener's HTTP connection managers load over RDS, each once.</summary>
    public static IReadOnlyList<string> RouteConfigNames(Listener listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        var names = new List<string>();
        foreach (var found in listener.FindNetworkFilters<HttpConnectionManager>())
        {
            if (found.Config.RouteSpecifierCase == HttpConnectionManager.RouteSpecifierOneofCase.Rds &&
                !string.IsNullOrEmpty(found.Config.Rds.RouteConfigName) && !names.Contains(found.Config.Rds.RouteConfigName))
            {
                names.Add(found.Config.Rds.RouteConfigName);
            }
        }

        return names;
    }

    /// <inheritdoc />
    public override IEnumerable<string> Dependencies(IMessage message) => RouteConfigNames((Listener)message);

    /// <inheritdoc />
    protected override IMessage Parse(ByteString value) => Listener.Parser.ParseFrom(value);

    /// <inheritdoc />
    protected override string NameOf(IMessage message) => ((Listener)message).Name;

    /// <inheritdoc />
    protected override void Validate(IMessage message, List<string> problems)
    {
        var listener = (Listener)message;
        foreach (var found in listener.FindNetworkFilters<HttpConnectionManager>())
        {
            var manager = found.Config;
            switch (manager.RouteSpecifierCase)
            {
                case HttpConnectionManager.RouteSpecifierOneofCase.Rds when string.IsNullOrEmpty(manager.Rds.RouteConfigName):
                    problems.Add($"filter '{found.Filter.Name}' loads routes over RDS with an empty route_config_name");
                    break;
                case HttpConnectionManager.RouteSpecifierOneofCase.Rds:
                case HttpConnectionManager.RouteSpecifierOneofCase.RouteConfig:
                    break;
                default:
                    // Scoped routes (or none): Istio sidecars never get them, and ax would have no routes to follow.
                    problems.Add($"filter '{found.Filter.Name}' has neither rds nor route_config ({manager.RouteSpecifierCase})");
                    break;
            }
        }
    }
}
