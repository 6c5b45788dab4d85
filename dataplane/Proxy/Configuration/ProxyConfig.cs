using System.Net;

namespace Istio.AppSwitch.Proxy.Configuration;

/// <summary><c>ax proxy</c>'s configuration: the plugins, in the order connections meet them.</summary>
/// <param name="Plugins">The chain. A connection that every plugin passes on is dropped.</param>
public sealed record ProxyConfig(IReadOnlyList<PluginConfig> Plugins);

/// <summary>One plugin of the chain, as configured.</summary>
/// <param name="Type">"drop", "direct", "forward-proxy" or "forward-delegation".</param>
/// <param name="Match">The plugin sees only connections that match (null: all).</param>
/// <param name="Address">forward-proxy: the next proxy's TCP address.</param>
/// <param name="Path">forward-delegation: the Unix socket of the next ax-aware proxy.</param>
/// <param name="ConnectTimeout">direct and forward-proxy: how long a TCP connect may take.</param>
public sealed record PluginConfig(string Type, ConnectionMatch? Match, IPEndPoint? Address, string? Path, TimeSpan ConnectTimeout);

/// <summary>A configuration that failed validation: every problem, each naming its field (<c>plugins[1].address: ...</c>).</summary>
public sealed class ProxyConfigException : Exception
{
    /// <summary>Creates the exception from its problems.</summary>
    public ProxyConfigException(IReadOnlyList<string> errors)
        : base(string.Join(Environment.NewLine, errors ?? throw new ArgumentNullException(nameof(errors))))
    {
        Errors = errors;
    }

    /// <summary>Creates the exception (for serializers).</summary>
    public ProxyConfigException()
    {
        Errors = [];
    }

    /// <summary>Creates the exception with one problem.</summary>
    public ProxyConfigException(string message)
        : base(message)
    {
        Errors = [message];
    }

    /// <summary>Creates the exception with one problem.</summary>
    public ProxyConfigException(string message, Exception innerException)
        : base(message, innerException)
    {
        Errors = [message];
    }

    /// <summary>The problems, in the order of the file.</summary>
    public IReadOnlyList<string> Errors { get; }
}
