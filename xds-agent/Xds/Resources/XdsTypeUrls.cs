namespace Istio.AppSwitch.Xds.Resources;

/// <summary>The type URLs of the four resource types ax subscribes to over ADS.</summary>
public static class XdsTypeUrls
{
    /// <summary>CDS: <c>envoy.config.cluster.v3.Cluster</c>, subscribed as a wildcard.</summary>
    public const string Cluster = "type.googleapis.com/envoy.config.cluster.v3.Cluster";

    /// <summary>EDS: <c>envoy.config.endpoint.v3.ClusterLoadAssignment</c>, subscribed by EDS cluster names.</summary>
    public const string Endpoint = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

    /// <summary>LDS: <c>envoy.config.listener.v3.Listener</c>, subscribed as a wildcard.</summary>
    public const string Listener = "type.googleapis.com/envoy.config.listener.v3.Listener";

    /// <summary>RDS: <c>envoy.config.route.v3.RouteConfiguration</c>, subscribed by the names listeners reference.</summary>
    public const string Route = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";

    /// <summary>The four types in the order Envoy subscribes to them: CDS, EDS, LDS, RDS.</summary>
    public static IReadOnlyList<string> All { get; } = [Cluster, Endpoint, Listener, Route];

    /// <summary>Whether the type is subscribed as a wildcard (CDS and LDS): a SotW response is then the full set.</summary>
    public static bool IsWildcard(string typeUrl) => typeUrl is Cluster or Listener;

    /// <summary>The short name used in logs and errors: CDS, EDS, LDS, RDS, or the type URL itself.</summary>
    public static string ShortName(string typeUrl) => typeUrl switch
    {
        Cluster => "CDS",
        Endpoint => "EDS",
        Listener => "LDS",
        Route => "RDS",
        _ => typeUrl,
    };
}
