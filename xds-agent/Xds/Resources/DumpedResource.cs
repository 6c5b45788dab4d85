using Google.Protobuf;

namespace Istio.AppSwitch.Xds.Resources;

/// <summary>Where in Envoy's life cycle a resource of a config dump was.</summary>
public enum DumpedResourceState
{
    /// <summary>Accepted and serving (<c>dynamic_active_clusters</c>, <c>active_state</c>, any dynamic route or endpoint config).</summary>
    Active,

    /// <summary>Accepted, waiting for its dependencies before it serves (<c>dynamic_warming_clusters</c>, <c>warming_state</c>).</summary>
    Warming,

    /// <summary>Replaced or removed, finishing its connections (<c>draining_state</c>).</summary>
    Draining,

    /// <summary>
    /// Sent by the control plane and rejected by Envoy (<c>error_state.failed_configuration</c>): what was NACKed.
    /// An accepted older version of the same resource, if any, is listed apart with its own state.
    /// </summary>
    Rejected,

    /// <summary>From the bootstrap, not from xDS (<c>static_*</c>).</summary>
    Static,
}

/// <summary>One resource of a config dump, decoded into its generated type, with where and when Envoy had it.</summary>
/// <typeparam name="T">The generated resource type: <c>Cluster</c>, <c>Listener</c>, <c>RouteConfiguration</c>, <c>ClusterLoadAssignment</c>.</typeparam>
/// <param name="Name">The resource name (for endpoints, the cluster name): the dump's name when it has one, else the resource's own.</param>
/// <param name="VersionInfo">The xDS version the resource came with; empty for static resources and where Envoy does not report it (EDS).</param>
/// <param name="State">Active, warming, draining, rejected or static.</param>
/// <param name="Resource">The decoded resource. Extension configs ax does not generate are opaque <c>Any</c>s inside it.</param>
/// <param name="LastUpdated">When Envoy took it (for a rejected resource, when the update was attempted), if the dump says.</param>
/// <param name="ErrorDetails">For <see cref="DumpedResourceState.Rejected"/>, Envoy's reason; otherwise null.</param>
/// <param name="Path">JSON path of the resource in the dump.</param>
public sealed record DumpedResource<T>(
    string Name,
    string VersionInfo,
    DumpedResourceState State,
    T Resource,
    DateTimeOffset? LastUpdated,
    string? ErrorDetails,
    string Path)
    where T : IMessage<T>;
