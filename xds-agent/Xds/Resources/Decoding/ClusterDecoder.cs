using Envoy.Config.Cluster.V3;
using Google.Protobuf;

namespace Istio.AppSwitch.Xds.Resources.Decoding;

/// <summary>CDS: <c>envoy.config.cluster.v3.Cluster</c>.</summary>
public sealed class ClusterDecoder : XdsResourceDecoder
{
    /// <summary>The one instance.</summary>
    public static ClusterDecoder Instance { get; } = new();

    /// <inheritdoc />
    public override string TypeUrl => XdsTypeUrls.Cluster;

    /// <summary>
    /// The EDS name a cluster of type EDS subscribes to: <c>eds_cluster_config.service_name</c>, or the cluster's own
    /// name when that is empty (Envoy's rule). Null for every other cluster type.
    /// </summary>
    public static string? EdsServiceName(Cluster cluster)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        if (cluster.ClusterDiscoveryTypeCase != Cluster.ClusterDiscoveryTypeOneofCase.Type ||
            cluster.Type != Cluster.Types.DiscoveryType.Eds)
        {
            return null;
        }

        var serviceName = cluster.EdsClusterConfig?.ServiceName;
        return string.IsNullOrEmpty(serviceName) ? cluster.Name : serviceName;
    }

    /// <inheritdoc />
    public override IEnumerable<string> Dependencies(IMessage message) =>
        EdsServiceName((Cluster)message) is { } name ? [name] : [];

    /// <inheritdoc />
    protected override IMessage Parse(ByteString value) => Cluster.Parser.ParseFrom(value);

    /// <inheritdoc />
    protected override string NameOf(IMessage message) => ((Cluster)message).Name;

    /// <inheritdoc />
    protected override void Validate(IMessage message, List<string> problems)
    {
        var cluster = (Cluster)message;
        if (cluster.ClusterDiscoveryTypeCase == Cluster.ClusterDiscoveryTypeOneofCase.Type &&
            !Enum.IsDefined(cluster.Type))
        {
            problems.Add($"discovery type {(int)cluster.Type} is unknown");
        }

        if (cluster.Type == Cluster.Types.DiscoveryType.Eds && cluster.EdsClusterConfig?.EdsConfig is { } config &&
            config.ConfigSourceSpecifierCase is not (Envoy.Config.Core.V3.ConfigSource.ConfigSourceSpecifierOneofCase.Ads
                or Envoy.Config.Core.V3.ConfigSource.ConfigSourceSpecifierOneofCase.None))
        {
            // ax has one ADS stream: an EDS cluster that asks for another config source could never be resolved.
            problems.Add($"eds_config is {config.ConfigSourceSpecifierCase}, but ax only reads EDS over ADS");
        }

        if (cluster.ConnectTimeout is { } timeout && (timeout.Seconds < 0 || timeout.Nanos < 0))
        {
            problems.Add("connect_timeout is negative");
        }
    }
}
