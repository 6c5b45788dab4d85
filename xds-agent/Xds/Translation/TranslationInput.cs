using System.Collections.Immutable;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Istio.AppSwitch.Xds.Resources;

namespace Istio.AppSwitch.Xds.Translation;

/// <summary>
/// The resources one translation reads: what an ADS subscription holds at one moment (CDS, EDS, LDS, RDS), from a
/// config dump or from an xDS cache. Plain lists, so any source can feed <see cref="MeshTranslator"/>.
/// </summary>
/// <param name="Clusters">CDS.</param>
/// <param name="Endpoints">EDS, one assignment per cluster (by <c>cluster_name</c>).</param>
/// <param name="Listeners">LDS.</param>
/// <param name="RouteConfigurations">RDS.</param>
/// <param name="Notes">What the source already knows about its resources (rejected or warming ones), carried into the diagnostics.</param>
public sealed record TranslationInput(
    IReadOnlyList<Cluster> Clusters,
    IReadOnlyList<ClusterLoadAssignment> Endpoints,
    IReadOnlyList<Listener> Listeners,
    IReadOnlyList<RouteConfiguration> RouteConfigurations,
    ImmutableArray<TranslationDiagnostic> Notes)
{
    /// <summary>Input from plain collections, with no notes.</summary>
    public TranslationInput(
        IReadOnlyList<Cluster> clusters,
        IReadOnlyList<ClusterLoadAssignment> endpoints,
        IReadOnlyList<Listener> listeners,
        IReadOnlyList<RouteConfiguration> routeConfigurations)
        : this(clusters, endpoints, listeners, routeConfigurations, [])
    {
    }

    /// <summary>
    /// The DYNAMIC resources of a config dump: what istiod delivered and Envoy runs. Active and warming resources are
    /// used (warming ones are what Envoy will serve next). A rejected resource (NACKed) is not what Envoy runs, so it
    /// is left out and noted; Envoy keeps its previous accepted version, which the dump lists as active if it has one.
    /// Draining resources are being replaced and are left out. The bootstrap's static resources (xds-grpc, sds-grpc,
    /// 15090/15021) are not part of the mesh configuration and are ignored.
    /// </summary>
    public static TranslationInput FromConfigDump(ConfigDumpReadResult dump)
    {
        ArgumentNullException.ThrowIfNull(dump);
        var notes = ImmutableArray.CreateBuilder<TranslationDiagnostic>();
        return new TranslationInput(
            Usable(dump.DynamicClusters, "cluster", notes),
            Usable(dump.DynamicEndpoints, "endpoints", notes),
            Usable(dump.DynamicListeners, "listener", notes),
            Usable(dump.DynamicRouteConfigurations, "route_config", notes),
            notes.ToImmutable());
    }

    private static List<T> Usable<T>(IReadOnlyList<DumpedResource<T>> resources, string type, ImmutableArray<TranslationDiagnostic>.Builder notes)
        where T : Google.Protobuf.IMessage<T>
    {
        var usable = new List<T>(resources.Count);
        foreach (var resource in resources)
        {
            switch (resource.State)
            {
                case DumpedResourceState.Active or DumpedResourceState.Warming or DumpedResourceState.Static:
                    usable.Add(resource.Resource);
                    break;
                case DumpedResourceState.Rejected:
                    notes.Add(new TranslationDiagnostic(
                        DiagnosticSeverity.Info,
                        type,
                        resource.Name,
                        $"rejected by Envoy, not translated: {FirstLine(resource.ErrorDetails)}"));
                    break;
                default:
                    break;
            }
        }
        return usable;
    }

    private static string FirstLine(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return "(no details)";
        }
        var end = text.IndexOf('\n', StringComparison.Ordinal);
        return end < 0 ? text : text[..end];
    }
}

/// <summary>What the caller knows that the Envoy configuration does not say.</summary>
public sealed record TranslationOptions
{
    /// <summary>Defaults: peer identity unknown, auto-mTLS kept on the fast path.</summary>
    public static TranslationOptions Default { get; } = new();

    /// <summary>
    /// The dataplane knows each peer's mTLS principal at accept time (for example from ax's own workload registry), so
    /// RBAC rules on principals can be enforced without Envoy. When false, such ports are chained with
    /// <see cref="ChainReason.PrincipalRequiresIdentity"/>.
    /// </summary>
    public bool PeerIdentityKnown { get; init; }

    /// <summary>
    /// Chain services whose cluster uses Istio auto-mTLS (<c>transport_socket_matches</c>) instead of connecting in plain
    /// text. Default false: see docs/translation.md, "Upstream mTLS".
    /// </summary>
    public bool ChainAutoMtls { get; init; }
}
