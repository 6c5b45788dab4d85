using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using Envoy.Admin.V3;
using Envoy.Config.Bootstrap.V3;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;

namespace Istio.AppSwitch.Xds.Resources;

/// <summary>
/// What <see cref="ConfigDumpReader"/> made of an Envoy config dump: the parsed <see cref="ConfigDump"/>, the DYNAMIC
/// resources (what the control plane delivered over ADS) flattened and typed, the static ones kept apart, and
/// everything the generated types could not hold (opaque extension configs, unknown fields).
/// </summary>
/// <remarks>
/// A read either succeeds completely or not at all: when <see cref="Errors"/> is not empty, <see cref="Dump"/> is null
/// and every list is empty. All errors found are reported, not just the first.
/// </remarks>
public sealed record ConfigDumpReadResult
{
    /// <summary>The whole dump, extension configs ax does not generate left as opaque <c>Any</c>s. Null when the read failed.</summary>
    public ConfigDump? Dump { get; init; }

    /// <summary>Why the read failed; empty on success.</summary>
    public IReadOnlyList<ConfigDumpError> Errors { get; init; } = [];

    /// <summary>True when the dump was read; then <see cref="Dump"/> is set.</summary>
    [MemberNotNullWhen(true, nameof(Dump))]
    public bool Succeeded => Dump is not null && Errors.Count == 0;

    /// <summary>Dynamic clusters: <c>dynamic_active_clusters</c>, <c>dynamic_warming_clusters</c>, and rejected updates.</summary>
    public IReadOnlyList<DumpedResource<Cluster>> DynamicClusters { get; init; } = [];

    /// <summary>Dynamic listeners, one entry per state a listener is in (active, warming, draining, rejected).</summary>
    public IReadOnlyList<DumpedResource<Listener>> DynamicListeners { get; init; } = [];

    /// <summary>Dynamic route configurations (RDS), and rejected updates.</summary>
    public IReadOnlyList<DumpedResource<RouteConfiguration>> DynamicRouteConfigurations { get; init; } = [];

    /// <summary>Dynamic endpoint assignments (EDS; in the dump only with <c>?include_eds</c>), and rejected updates.</summary>
    public IReadOnlyList<DumpedResource<ClusterLoadAssignment>> DynamicEndpoints { get; init; } = [];

    /// <summary>The bootstrap and its static resources, which no control plane sent.</summary>
    public StaticResources Static { get; init; } = StaticResources.Empty;

    /// <summary>Every outermost <c>Any</c> of a type ax does not generate, in document order (static sections included).</summary>
    public IReadOnlyList<OpaqueResource> OpaqueResources { get; init; } = [];

    /// <summary>Every field or enum value of a known message that the generated types lack, in document order.</summary>
    public IReadOnlyList<UnknownField> UnknownFields { get; init; } = [];

    /// <summary>How many opaque <c>Any</c>s there are of each type URL.</summary>
    public ImmutableSortedDictionary<string, int> OpaqueCounts { get; init; } =
        ImmutableSortedDictionary<string, int>.Empty.WithComparers(StringComparer.Ordinal);

    /// <summary>How many unknown fields there are of each <see cref="UnknownField.QualifiedName"/>.</summary>
    public ImmutableSortedDictionary<string, int> UnknownFieldCounts { get; init; } =
        ImmutableSortedDictionary<string, int>.Empty.WithComparers(StringComparer.Ordinal);

    internal static ConfigDumpReadResult Failed(IReadOnlyList<ConfigDumpError> errors) => new() { Errors = errors };

    internal static ConfigDumpReadResult Failed(string path, string message) => Failed([new ConfigDumpError(path, message)]);
}

/// <summary>The part of a config dump that came from Envoy's bootstrap rather than from xDS.</summary>
/// <param name="Bootstrap">The bootstrap (<c>BootstrapConfigDump.bootstrap</c>), if the dump has it.</param>
/// <param name="Clusters"><c>static_clusters</c>.</param>
/// <param name="Listeners"><c>static_listeners</c>.</param>
/// <param name="RouteConfigurations"><c>static_route_configs</c>.</param>
/// <param name="Endpoints"><c>static_endpoint_configs</c>.</param>
public sealed record StaticResources(
    Bootstrap? Bootstrap,
    IReadOnlyList<DumpedResource<Cluster>> Clusters,
    IReadOnlyList<DumpedResource<Listener>> Listeners,
    IReadOnlyList<DumpedResource<RouteConfiguration>> RouteConfigurations,
    IReadOnlyList<DumpedResource<ClusterLoadAssignment>> Endpoints)
{
    /// <summary>No bootstrap and no static resources.</summary>
    public static StaticResources Empty { get; } = new(null, [], [], [], []);
}
