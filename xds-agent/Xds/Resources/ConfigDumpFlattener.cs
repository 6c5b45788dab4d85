using Envoy.Admin.V3;
using Envoy.Config.Bootstrap.V3;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Istio.AppSwitch.Xds.Resources;

/// <summary>
/// Lists the resources of a parsed <see cref="ConfigDump"/> by type and state, decoding each packed resource once.
/// Sections of other types (secrets, scoped routes, ECDS, ...) stay in the dump and are not listed.
/// </summary>
/// <remarks>
/// A resource whose <c>Any</c> holds anything but the type its section promises (an old <c>envoy.api.v2</c> dump, an
/// opaque type) is an error: every dynamic resource is either decoded or reported.
/// </remarks>
internal sealed class ConfigDumpFlattener
{
    public List<ConfigDumpError> Errors { get; } = [];

    public Bootstrap? Bootstrap { get; private set; }

    public List<DumpedResource<Cluster>> Clusters { get; } = [];

    public List<DumpedResource<Listener>> Listeners { get; } = [];

    public List<DumpedResource<RouteConfiguration>> RouteConfigurations { get; } = [];

    public List<DumpedResource<ClusterLoadAssignment>> Endpoints { get; } = [];

    public List<DumpedResource<Cluster>> StaticClusters { get; } = [];

    public List<DumpedResource<Listener>> StaticListeners { get; } = [];

    public List<DumpedResource<RouteConfiguration>> StaticRouteConfigurations { get; } = [];

    public List<DumpedResource<ClusterLoadAssignment>> StaticEndpoints { get; } = [];

    public void Add(ConfigDump dump)
    {
        for (var i = 0; i < dump.Configs.Count; i++)
        {
            var config = dump.Configs[i];
            var path = $"$.configs[{i}]";
            if (config.TryUnpack(out BootstrapConfigDump bootstrap))
            {
                Bootstrap = bootstrap.Bootstrap;
            }
            else if (config.TryUnpack(out ClustersConfigDump clusters))
            {
                Add(clusters, path);
            }
            else if (config.TryUnpack(out ListenersConfigDump listeners))
            {
                Add(listeners, path);
            }
            else if (config.TryUnpack(out RoutesConfigDump routes))
            {
                Add(routes, path);
            }
            else if (config.TryUnpack(out EndpointsConfigDump endpoints))
            {
                Add(endpoints, path);
            }
        }
    }

    private void Add(ClustersConfigDump dump, string path)
    {
        for (var i = 0; i < dump.StaticClusters.Count; i++)
        {
            var entry = dump.StaticClusters[i];
            AddStatic(StaticClusters, entry.Cluster, entry.LastUpdated, $"{path}.static_clusters[{i}].cluster", c => c.Name);
        }
        AddDynamic(dump.DynamicActiveClusters, DumpedResourceState.Active, $"{path}.dynamic_active_clusters");
        AddDynamic(dump.DynamicWarmingClusters, DumpedResourceState.Warming, $"{path}.dynamic_warming_clusters");

        void AddDynamic(IList<ClustersConfigDump.Types.DynamicCluster> entries, DumpedResourceState state, string listPath)
        {
            for (var i = 0; i < entries.Count; i++)
            {
                var entry = entries[i];
                var entryPath = $"{listPath}[{i}]";
                if (entry.Cluster is not null &&
                    Decode<Cluster>(entry.Cluster, $"{entryPath}.cluster") is { } cluster)
                {
                    Clusters.Add(new(cluster.Name, entry.VersionInfo, state, cluster, ToTime(entry.LastUpdated), null, $"{entryPath}.cluster"));
                }
                AddRejected(Clusters, entry.ErrorState, name: null, entryPath, c => c.Name);
            }
        }
    }

    private void Add(ListenersConfigDump dump, string path)
    {
        for (var i = 0; i < dump.StaticListeners.Count; i++)
        {
            var entry = dump.StaticListeners[i];
            AddStatic(StaticListeners, entry.Listener, entry.LastUpdated, $"{path}.static_listeners[{i}].listener", l => l.Name);
        }
        for (var i = 0; i < dump.DynamicListeners.Count; i++)
        {
            var entry = dump.DynamicListeners[i];
            var entryPath = $"{path}.dynamic_listeners[{i}]";
            AddState(entry.ActiveState, DumpedResourceState.Active, "active_state");
            AddState(entry.WarmingState, DumpedResourceState.Warming, "warming_state");
            AddState(entry.DrainingState, DumpedResourceState.Draining, "draining_state");
            AddRejected(Listeners, entry.ErrorState, entry.Name, entryPath, l => l.Name);

            void AddState(ListenersConfigDump.Types.DynamicListenerState? state, DumpedResourceState kind, string field)
            {
                var statePath = $"{entryPath}.{field}.listener";
                if (state?.Listener is not null && Decode<Listener>(state.Listener, statePath) is { } listener)
                {
                    Listeners.Add(new(NameOr(entry.Name, listener.Name), state.VersionInfo, kind, listener, ToTime(state.LastUpdated), null, statePath));
                }
            }
        }
    }

    private void Add(RoutesConfigDump dump, string path)
    {
        for (var i = 0; i < dump.StaticRouteConfigs.Count; i++)
        {
            var entry = dump.StaticRouteConfigs[i];
            AddStatic(StaticRouteConfigurations, entry.RouteConfig, entry.LastUpdated, $"{path}.static_route_configs[{i}].route_config", r => r.Name);
        }
        for (var i = 0; i < dump.DynamicRouteConfigs.Count; i++)
        {
            var entry = dump.DynamicRouteConfigs[i];
            var entryPath = $"{path}.dynamic_route_configs[{i}]";
            if (entry.RouteConfig is not null &&
                Decode<RouteConfiguration>(entry.RouteConfig, $"{entryPath}.route_config") is { } route)
            {
                RouteConfigurations.Add(new(route.Name, entry.VersionInfo, DumpedResourceState.Active, route, ToTime(entry.LastUpdated), null, $"{entryPath}.route_config"));
            }
            AddRejected(RouteConfigurations, entry.ErrorState, name: null, entryPath, r => r.Name);
        }
    }

    private void Add(EndpointsConfigDump dump, string path)
    {
        for (var i = 0; i < dump.StaticEndpointConfigs.Count; i++)
        {
            var entry = dump.StaticEndpointConfigs[i];
            AddStatic(StaticEndpoints, entry.EndpointConfig, entry.LastUpdated, $"{path}.static_endpoint_configs[{i}].endpoint_config", e => e.ClusterName);
        }
        for (var i = 0; i < dump.DynamicEndpointConfigs.Count; i++)
        {
            var entry = dump.DynamicEndpointConfigs[i];
            var entryPath = $"{path}.dynamic_endpoint_configs[{i}]";
            if (entry.EndpointConfig is not null &&
                Decode<ClusterLoadAssignment>(entry.EndpointConfig, $"{entryPath}.endpoint_config") is { } assignment)
            {
                Endpoints.Add(new(assignment.ClusterName, entry.VersionInfo, DumpedResourceState.Active, assignment, ToTime(entry.LastUpdated), null, $"{entryPath}.endpoint_config"));
            }
            AddRejected(Endpoints, entry.ErrorState, name: null, entryPath, e => e.ClusterName);
        }
    }

    private void AddStatic<T>(List<DumpedResource<T>> list, Any? packed, Timestamp? lastUpdated, string path, Func<T, string> nameOf)
        where T : class, IMessage<T>, new()
    {
        if (packed is not null && Decode<T>(packed, path) is { } resource)
        {
            list.Add(new(nameOf(resource), string.Empty, DumpedResourceState.Static, resource, ToTime(lastUpdated), null, path));
        }
    }

    // Envoy keeps what it NACKed in error_state; with no accepted version the entry holds nothing else.
    private void AddRejected<T>(List<DumpedResource<T>> list, UpdateFailureState? error, string? name, string entryPath, Func<T, string> nameOf)
        where T : class, IMessage<T>, new()
    {
        var path = $"{entryPath}.error_state.failed_configuration";
        if (error?.FailedConfiguration is not null && Decode<T>(error.FailedConfiguration, path) is { } resource)
        {
            list.Add(new(NameOr(name, nameOf(resource)), error.VersionInfo, DumpedResourceState.Rejected, resource, ToTime(error.LastUpdateAttempt), error.Details, path));
        }
    }

    private T? Decode<T>(Any packed, string path)
        where T : class, IMessage<T>, new()
    {
        if (packed.TryUnpack(out T resource))
        {
            return resource;
        }
        var expected = EnvoyTypeRegistry.TypeUrlOf(new T().Descriptor);
        var found = packed.TypeUrl.Length == 0 ? "an Any without a type"
            : EnvoyTypeRegistry.IsKnown(packed.TypeUrl) ? $"'{packed.TypeUrl}'"
            : $"'{packed.TypeUrl}', a type ax does not generate";
        Errors.Add(new ConfigDumpError(path, $"expected {expected}, found {found}"));
        return null;
    }

    private static string NameOr(string? name, string fallback) => string.IsNullOrEmpty(name) ? fallback : name;

    private static DateTimeOffset? ToTime(Timestamp? timestamp) => timestamp?.ToDateTimeOffset();
}
