namespace Istio.AppSwitch.Proxy;

/// <summary>What a plugin did with a connection.</summary>
public enum PluginVerdict
{
    /// <summary>The plugin handled the connection (it moved the bytes, or passed the fds on): the chain ends.</summary>
    Handle,

    /// <summary>Not for this plugin: the next one gets it.</summary>
    Next,

    /// <summary>Close the connection (an inbound one is reset): the chain ends.</summary>
    Drop,
}

/// <summary>
/// One link of the proxy chain. <see cref="InspectAsync"/> runs once per delegated connection, concurrently with
/// other connections, and may run as long as the connection lives (a plugin that moves bytes returns when they
/// stop). The chain closes the connection's fds after the last plugin returns, whatever the verdict.
/// </summary>
public interface IProxyPlugin
{
    /// <summary>The plugin's type name, as the configuration spells it ("direct", "forward-proxy"...).</summary>
    string Name { get; }

    /// <summary>Looks at <paramref name="connection"/> and handles it, drops it or passes it on.</summary>
    ValueTask<PluginVerdict> InspectAsync(DelegatedConnection connection, CancellationToken cancellationToken);
}
