using System.Diagnostics.CodeAnalysis;
using Envoy.Config.Listener.V3;
using Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Istio.AppSwitch.Xds.Resources;

/// <summary>A network filter of a listener with its <c>typed_config</c> decoded.</summary>
/// <typeparam name="T">The filter's config type, e.g. <c>TcpProxy</c>, <c>HttpConnectionManager</c>, network <c>RBAC</c>.</typeparam>
/// <param name="FilterChain">The chain the filter is in (possibly the listener's <c>default_filter_chain</c>).</param>
/// <param name="Filter">The filter entry, for its name.</param>
/// <param name="Config">The decoded config.</param>
public sealed record NetworkFilterConfig<T>(FilterChain FilterChain, Filter Filter, T Config)
    where T : class, IMessage<T>, new();

/// <summary>An HTTP filter of an <c>HttpConnectionManager</c> with its <c>typed_config</c> decoded.</summary>
/// <typeparam name="T">The filter's config type, e.g. HTTP <c>RBAC</c>, <c>HTTPFault</c>, <c>Router</c>.</typeparam>
/// <param name="Filter">The filter entry, for its name and whether it is optional or disabled.</param>
/// <param name="Config">The decoded config.</param>
public sealed record HttpFilterConfig<T>(HttpFilter Filter, T Config)
    where T : class, IMessage<T>, new();

/// <summary>
/// Finds filters by the type of their <c>typed_config</c>, as Istio tooling does: filter names are conventions,
/// the type URL is what Envoy dispatches on.
/// </summary>
public static class TypedConfigExtensions
{
    /// <summary>The listener's filter chains in order, then its <c>default_filter_chain</c> if it has one.</summary>
    public static IEnumerable<FilterChain> AllFilterChains(this Listener listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        foreach (var chain in listener.FilterChains)
        {
            yield return chain;
        }
        if (listener.DefaultFilterChain is { } defaultChain)
        {
            yield return defaultChain;
        }
    }

    /// <summary>Every network filter of every chain whose <c>typed_config</c> is a <typeparamref name="T"/>, decoded.</summary>
    public static IReadOnlyList<NetworkFilterConfig<T>> FindNetworkFilters<T>(this Listener listener)
        where T : class, IMessage<T>, new()
    {
        var found = new List<NetworkFilterConfig<T>>();
        foreach (var chain in listener.AllFilterChains())
        {
            foreach (var filter in chain.Filters)
            {
                if (filter.TypedConfig.TryUnpackConfig(out T? config))
                {
                    found.Add(new(chain, filter, config));
                }
            }
        }
        return found;
    }

    /// <summary>Every HTTP filter whose <c>typed_config</c> is a <typeparamref name="T"/>, decoded, in filter order.</summary>
    public static IReadOnlyList<HttpFilterConfig<T>> FindHttpFilters<T>(this HttpConnectionManager connectionManager)
        where T : class, IMessage<T>, new()
    {
        ArgumentNullException.ThrowIfNull(connectionManager);
        var found = new List<HttpFilterConfig<T>>();
        foreach (var filter in connectionManager.HttpFilters)
        {
            if (filter.TypedConfig.TryUnpackConfig(out T? config))
            {
                found.Add(new(filter, config));
            }
        }
        return found;
    }

    /// <summary>Decodes <paramref name="typedConfig"/> when it holds a <typeparamref name="T"/>.</summary>
    /// <returns>False for null, another type, or an opaque config.</returns>
    public static bool TryUnpackConfig<T>(this Any? typedConfig, [NotNullWhen(true)] out T? config)
        where T : class, IMessage<T>, new()
    {
        config = null;
        return typedConfig is not null && typedConfig.TryUnpack(out config);
    }

    /// <summary>
    /// Whether <paramref name="typedConfig"/> is of a type ax does not generate: the reader's opaque placeholder,
    /// which carries only its type URL (<c>type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua</c>).
    /// </summary>
    public static bool IsOpaque(this Any typedConfig)
    {
        ArgumentNullException.ThrowIfNull(typedConfig);
        return typedConfig.TypeUrl.Length > 0 && !EnvoyTypeRegistry.IsKnown(typedConfig.TypeUrl);
    }
}
