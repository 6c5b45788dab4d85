using System.Collections.Frozen;
using Istio.AppSwitch.Proxy.Configuration;
using Istio.AppSwitch.Proxy.Plugins;
using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Proxy;

/// <summary>
/// The plugins of <c>ax proxy</c>, in order, each with its optional match. A connection goes from plugin to plugin
/// until one handles or drops it; one that every plugin passes on is dropped. The chain owns the connection: its fds
/// are closed when the chain is done with it, and an exception from a plugin drops it rather than end the proxy.
/// </summary>
public sealed partial class ProxyChain : IDisposable
{
    private static readonly FrozenDictionary<string, Func<PluginConfig, ILogger, IProxyPlugin>> Factories =
        new Dictionary<string, Func<PluginConfig, ILogger, IProxyPlugin>>(StringComparer.Ordinal)
        {
            ["drop"] = (_, _) => new DropProxyPlugin(),
            ["direct"] = (config, logger) => new DirectProxyPlugin(config.ConnectTimeout, logger),
            ["forward-proxy"] = (config, logger) => new ForwardProxyPlugin(config.Address!, config.ConnectTimeout, logger),
            ["forward-delegation"] = (config, logger) => new ForwardDelegationProxyPlugin(config.Path!, logger),
        }.ToFrozenDictionary(StringComparer.Ordinal);

    private readonly IReadOnlyList<(IProxyPlugin Plugin, ConnectionMatch? Match)> _links;
    private readonly ILogger _logger;

    /// <summary>A chain of the given plugins (for plugins of one's own, or tests).</summary>
    public ProxyChain(IReadOnlyList<(IProxyPlugin Plugin, ConnectionMatch? Match)> links, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(links);
        ArgumentNullException.ThrowIfNull(logger);
        _links = links;
        _logger = logger;
    }

    /// <summary>The plugin type names the configuration knows.</summary>
    public static IEnumerable<string> KnownPlugins => Factories.Keys;

    /// <summary>Builds the chain a validated configuration describes.</summary>
    public static ProxyChain Create(ProxyConfig config, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new ProxyChain(config.Plugins.Select(p => (Factories[p.Type](p, logger), p.Match)).ToList(), logger);
    }

    /// <summary>Runs <paramref name="connection"/> through the chain, then closes it.</summary>
    /// <returns>The verdict that ended the chain (<see cref="PluginVerdict.Drop"/> when every plugin passed).</returns>
    public async Task<PluginVerdict> RunAsync(DelegatedConnection connection, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        using (connection)
        {
            try
            {
                foreach (var (plugin, match) in _links)
                {
                    if (match is not null && !match.Matches(connection))
                    {
                        continue;
                    }
                    var verdict = await plugin.InspectAsync(connection, cancellationToken).ConfigureAwait(false);
                    if (verdict == PluginVerdict.Next)
                    {
                        continue;
                    }
                    if (verdict == PluginVerdict.Drop)
                    {
                        Log.Dropped(_logger, connection, plugin.Name);
                        connection.ResetOnClose();
                    }
                    return verdict;
                }
                Log.NoPlugin(_logger, connection);
                connection.ResetOnClose();
                return PluginVerdict.Drop;
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                Log.PluginFailed(_logger, connection, e);
                connection.ResetOnClose();
                return PluginVerdict.Drop;
            }
        }
    }

    /// <summary>Disposes the plugins that hold resources (connections to other proxies).</summary>
    public void Dispose()
    {
        foreach (var (plugin, _) in _links)
        {
            (plugin as IDisposable)?.Dispose();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 7001, Level = LogLevel.Information, Message = "{Connection}: dropped by {Plugin}")]
        public static partial void Dropped(ILogger logger, DelegatedConnection connection, string plugin);

        [LoggerMessage(EventId = 7002, Level = LogLevel.Information, Message = "{Connection}: no plugin took it; dropped")]
        public static partial void NoPlugin(ILogger logger, DelegatedConnection connection);

        [LoggerMessage(EventId = 7003, Level = LogLevel.Error, Message = "{Connection}: a plugin failed; dropped")]
        public static partial void PluginFailed(ILogger logger, DelegatedConnection connection, Exception exception);
    }
}
