using System.Collections.Frozen;
using Envoy.Config.Listener.V3;
using Envoy.Extensions.Filters.Http.Fault.V3;
using Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Google.Protobuf.WellKnownTypes;
using Istio.AppSwitch.Xds.Resources;

namespace Istio.AppSwitch.Xds.Translation;

/// <summary>
/// Sorts filters into "harmless for a direct connection" and "forces chain, because ...". Filters are recognised by
/// their <c>typed_config</c> type URL; a few of Istio's own telemetry filters also by name, because they come wrapped in
/// <c>TypedStruct</c> or as Wasm depending on the Istio version. Anything else is <see cref="ChainReason.UnknownFilter"/>:
/// a filter ax does not know might change where traffic goes.
/// </summary>
internal static class FilterClassifier
{
    // Telemetry and peer-metadata filters: they observe traffic, they do not route, refuse or change it.
    private static readonly FrozenSet<string> HarmlessNames = new[]
    {
        "istio.stats",
        "istio.metadata_exchange",
        "istio.alpn",
        "istio_authn",
        "istio.peer_metadata",
        "envoy.filters.http.grpc_stats",
        "envoy.filters.http.cors",
        "envoy.filters.network.tcp_proxy",
        "envoy.filters.network.http_connection_manager",
        "envoy.filters.http.router",
    }.ToFrozenSet(StringComparer.Ordinal);

    private static readonly FrozenSet<string> HarmlessTypes = new[]
    {
        "stats.PluginConfig",
        "envoy.tcp.metadataexchange.config.MetadataExchange",
        "io.istio.http.peer_metadata.Config",
        "istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig",
        "envoy.extensions.filters.http.grpc_stats.v3.FilterConfig",
        "envoy.extensions.filters.http.cors.v3.Cors",
        "envoy.extensions.filters.http.router.v3.Router",
        "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
        "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
    }.ToFrozenSet(StringComparer.Ordinal);

    private static string TypeName(Any? typedConfig) =>
        typedConfig is null ? "" : typedConfig.TypeUrl[(typedConfig.TypeUrl.LastIndexOf('/') + 1)..];

    /// <summary>Why an HTTP filter forces chain, or null when it does not. RBAC is handled by the caller.</summary>
    public static ChainCause? Classify(HttpFilter filter)
    {
        var type = TypeName(filter.TypedConfig);
        if (type.Contains(".lua.", StringComparison.Ordinal) || filter.Name == "envoy.filters.http.lua")
        {
            return filter.Disabled ? null : new ChainCause(ChainReason.Lua, $"http filter {filter.Name}");
        }
        if (HarmlessNames.Contains(filter.Name) || HarmlessTypes.Contains(type))
        {
            return null;
        }
        if (filter.TypedConfig.TryUnpackConfig(out HTTPFault? fault))
        {
            // Istio puts an empty fault filter in every HTTP chain; only a configured one injects faults (the
            // per-route configuration is checked with the routes).
            return fault.Delay is null && fault.Abort is null ? null : new ChainCause(ChainReason.FaultInjection, $"http filter {filter.Name}");
        }
        if (filter.Disabled)
        {
            // A disabled filter runs only where a route enables it, and such a route carries typed_per_filter_config,
            // which the route analysis chains.
            return null;
        }
        return Classify(filter.Name, type, "http filter");
    }

    /// <summary>Why a network filter forces chain, or null. tcp_proxy, HCM and network RBAC are handled by the caller.</summary>
    public static ChainCause? Classify(Filter filter)
    {
        var type = TypeName(filter.TypedConfig);
        if (HarmlessNames.Contains(filter.Name) || HarmlessTypes.Contains(type))
        {
            return null;
        }
        if (type.StartsWith("envoy.extensions.filters.network.", StringComparison.Ordinal) &&
            (type.Contains("_proxy.", StringComparison.Ordinal) || type.Contains(".thrift", StringComparison.Ordinal)))
        {
            return new ChainCause(ChainReason.ProtocolFilter, $"network filter {filter.Name}");
        }
        return Classify(filter.Name, type, "network filter");
    }

    private static ChainCause Classify(string name, string type, string what)
    {
        var detail = $"{what} {name}" + (type.Length > 0 ? $" ({type})" : "");
        if (type.Contains("ext_authz", StringComparison.Ordinal) || name.Contains("ext_authz", StringComparison.Ordinal))
        {
            return new ChainCause(ChainReason.ExtAuthz, detail);
        }
        if (type.Contains(".wasm.", StringComparison.Ordinal) || name.Contains("wasm", StringComparison.Ordinal))
        {
            return new ChainCause(ChainReason.Wasm, detail);
        }
        if (type.Contains(".lua.", StringComparison.Ordinal))
        {
            return new ChainCause(ChainReason.Lua, detail);
        }
        return new ChainCause(ChainReason.UnknownFilter, detail);
    }
}
