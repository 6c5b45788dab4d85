using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Daemon;

/// <summary>How <see cref="DaemonHost"/> runs: where it listens and who may connect. Immutable.</summary>
public sealed record DaemonOptions
{
    /// <summary>The default mode of the API socket: owner and group may connect (0660).</summary>
    public const UnixFileMode DefaultSocketMode =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;

    /// <summary>The API socket (resolved by <c>ApiSocketPath.Resolve</c>).</summary>
    public required string ApiSocketPath { get; init; }

    /// <summary>
    /// The mode of the socket file. Connecting to a Unix socket needs write permission on it, so this decides who
    /// may read; writes are further limited to root and the daemon's uid by <c>SO_PEERCRED</c>.
    /// </summary>
    public UnixFileMode SocketMode { get; init; } = DefaultSocketMode;

    /// <summary>The largest request body the API accepts; a ref is well under 1 KiB.</summary>
    public long MaxRequestBodyBytes { get; init; } = 64 * 1024;

    /// <summary>
    /// The largest body of <c>POST /v1/mesh</c>, which carries a whole mesh on the xds-agent's first push (about 200 bytes
    /// per endpoint: 64 MiB holds some 300,000).
    /// </summary>
    public long MaxMeshRequestBodyBytes { get; init; } = 64 * 1024 * 1024;

    /// <summary>Where to serve Prometheus metrics at <c>/metrics</c> (<c>--metrics</c>); null serves none.</summary>
    public MetricsAddress? Metrics { get; init; }

    /// <summary>The least severe level logged to stderr.</summary>
    public LogLevel MinimumLogLevel { get; init; } = LogLevel.Information;

    /// <summary>Extra logging setup (tests capture or silence logs here); runs after the defaults.</summary>
    public Action<ILoggingBuilder>? ConfigureLogging { get; init; }

    /// <summary>
    /// False to leave SIGINT and SIGTERM alone (in-process tests); true (the default) to stop cleanly on them.
    /// </summary>
    public bool HandleSignals { get; init; } = true;
}
