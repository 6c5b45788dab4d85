using System.Reflection;
using Istio.AppSwitch.Dataplane.Interception;
using Istio.AppSwitch.Dataplane.Mesh;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Dataplane.Registry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Istio.AppSwitch.Daemon;

/// <summary>
/// The ax daemon: the service registry, the ref store and the routing table as singletons, and the REST API
/// (Kestrel, HTTP/1.1) on a Unix socket. The interception is added by the caller as an <see cref="IHostedService"/>
/// through <c>configureServices</c>, so this project knows nothing of seccomp.
/// </summary>
/// <remarks>
/// Lifecycle: <see cref="StartAsync"/> prepares the socket file (refusing to start over a live daemon, replacing a
/// stale file), starts the host, then sets the socket's mode. <see cref="StopAsync"/> stops the host and removes
/// the socket file. <see cref="RunAsync(CancellationToken)"/> does both around a wait for SIGINT/SIGTERM or the
/// token.
/// </remarks>
public sealed partial class DaemonHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ILogger _logger;
    private const int Created = 0;
    private const int Starting = 1;
    private const int Running = 2;
    private const int Stopped = 3;
    private int _state;

    private DaemonHost(WebApplication app, DaemonOptions options)
    {
        _app = app;
        Options = options;
        _logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Istio.AppSwitch.Daemon");
    }

    /// <summary>The options the daemon was built with.</summary>
    public DaemonOptions Options { get; }

    /// <summary>The daemon's services: <see cref="ServiceRegistry"/>, <see cref="RefStore"/>, <see cref="RoutingTable"/>, and the caller's.</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>The registry of applications and services.</summary>
    public ServiceRegistry Registry => _app.Services.GetRequiredService<ServiceRegistry>();

    /// <summary>The service references.</summary>
    public RefStore Refs => _app.Services.GetRequiredService<RefStore>();

    /// <summary>The mesh rules the xds-agent programs.</summary>
    public MeshStore Mesh => _app.Services.GetRequiredService<MeshStore>();

    /// <summary>The routing table the interception resolves connects against.</summary>
    public RoutingTable Routing => _app.Services.GetRequiredService<RoutingTable>();

    /// <summary>The informational version reported by <c>GET /v1/version</c>.</summary>
    public static string Version { get; } =
        (Assembly.GetEntryAssembly() ?? typeof(DaemonHost).Assembly)
            .GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(DaemonHost).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? "unknown";

    /// <summary>
    /// Builds (but does not start) a daemon. <paramref name="configureServices"/> runs after the daemon's own
    /// registrations: add the interception there as an <see cref="IHostedService"/>.
    /// </summary>
    public static DaemonHost Create(DaemonOptions options, Action<IServiceCollection>? configureServices = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(options.ApiSocketPath);

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            // The daemon is configured by its flags. The content root is the binary's folder, not the working
            // directory, and nothing is watched for changes (a recursive watcher on "/" would be ruinous).
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
            ContentRootPath = AppContext.BaseDirectory,
            ApplicationName = "ax-daemon",
        });

        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(options.MinimumLogLevel);
        // Per-request logs of the hosting layer are noise for a local control API.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        // "Now listening on" says what the daemon's own Listening event says, with less.
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        builder.Logging.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            console.UseUtcTimestamp = true;
        });
        // Everything to stderr: stdout is for command output, and a daemon has none.
        builder.Services.Configure<ConsoleLoggerOptions>(console => console.LogToStandardErrorThreshold = LogLevel.Trace);
        options.ConfigureLogging?.Invoke(builder.Logging);

        builder.Services.Configure<ConsoleLifetimeOptions>(lifetime => lifetime.SuppressStatusMessages = true);
        if (!options.HandleSignals)
        {
            builder.Services.AddSingleton<IHostLifetime, NoSignalLifetime>();
        }

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
            kestrel.ListenUnixSocket(options.ApiSocketPath, listen => listen.Protocols = HttpProtocols.Http1);
            if (options.Metrics is { } metrics)
            {
                MetricsEndpoint.Listen(kestrel, metrics);
            }
        });

        // The options are a service too, so that the caller's services (the interception) find the socket path.
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(sp => new RoutingTable(sp.GetRequiredService<ILogger<RoutingTable>>()));
        builder.Services.AddSingleton(sp => new ServiceRegistry(
            sp.GetRequiredService<RoutingTable>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ServiceRegistry>>()));
        builder.Services.AddSingleton(sp => new HeldConnects(sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton(sp => new RefStore(
            sp.GetRequiredService<RoutingTable>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<RefStore>>()));
        builder.Services.AddSingleton(sp => new MeshStore(
            sp.GetRequiredService<RoutingTable>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<MeshStore>>()));
        builder.Services.AddSingleton(sp => new Dataplane.Delegation.DelegationHub(sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton(sp => new Dataplane.Observability.DataplaneTelemetry(sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton<Dataplane.Observability.IMetricsSource>(sp => new DaemonMetricsSource(
            sp.GetRequiredService<Dataplane.Observability.DataplaneTelemetry>(), sp.GetRequiredService<ServiceRegistry>(),
            sp.GetRequiredService<RefStore>(), sp.GetRequiredService<MeshStore>(), sp.GetRequiredService<HeldConnects>()));
        configureServices?.Invoke(builder.Services);

        var app = builder.Build();
        ApiEndpoints.Map(app);
        return new DaemonHost(app, options);
    }

    /// <summary>Builds, runs until SIGINT/SIGTERM or <paramref name="cancellationToken"/>, and stops a daemon.</summary>
    public static async Task RunAsync(DaemonOptions options, Action<IServiceCollection>? configureServices, CancellationToken cancellationToken)
    {
        await using var host = Create(options, configureServices);
        await host.RunAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Prepares the socket and starts listening. Throws <see cref="DaemonStartupException"/> when the socket is held
    /// by a live daemon or cannot be created.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("the ax daemon runs on Linux");
        }
        if (Interlocked.CompareExchange(ref _state, Starting, Created) != Created)
        {
            throw new InvalidOperationException("a daemon host starts once");
        }
        var path = Options.ApiSocketPath;
        try
        {
            if (ApiSocketFile.Prepare(path))
            {
                Log.StaleSocketRemoved(_logger, path);
            }
            if (Options.Metrics?.UnixPath is { } metricsPath && ApiSocketFile.Prepare(metricsPath))
            {
                Log.StaleSocketRemoved(_logger, metricsPath);
            }
        }
        catch
        {
            // The path belongs to someone else (a live daemon): never touch it, not even at dispose.
            Volatile.Write(ref _state, Stopped);
            throw;
        }

        try
        {
            await _app.StartAsync(cancellationToken).ConfigureAwait(false);
            ApiSocketFile.SetMode(path, Options.SocketMode);
        }
        catch (Exception e)
        {
            // The path was ours from Prepare on: whatever failed (the bind, or a hosted service such as the
            // interception), stop what started and leave no socket behind.
            Volatile.Write(ref _state, Stopped);
            await StopAppQuietlyAsync().ConfigureAwait(false);
            RemoveSocketFile(path);
            if (e is IOException)
            {
                var where = Options.Metrics is { } metrics ? $"{path} or --metrics {metrics}" : path;
                throw new DaemonStartupException($"cannot listen on {where}: {e.Message}", e);
            }
            throw;
        }
        Volatile.Write(ref _state, Running);
        Log.Listening(_logger, path, Convert.ToString((int)Options.SocketMode, 8), Version);
        if (Options.Metrics is { } served)
        {
            Log.ServingMetrics(_logger, served.ToString());
        }
    }

    /// <summary>Stops the API and the hosted services, and removes the socket file. Safe to call more than once.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.CompareExchange(ref _state, Stopped, Running) != Running)
        {
            return;
        }
        try
        {
            await _app.StopAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            RemoveSocketFile(Options.ApiSocketPath);
            if (Options.Metrics?.UnixPath is { } metricsPath)
            {
                RemoveSocketFile(metricsPath);
            }
            Log.Stopped(_logger, Options.ApiSocketPath);
        }
    }

    private async Task StopAppQuietlyAsync()
    {
        try
        {
            await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Reporting the start failure matters more than a failure to stop after it.
        }
    }

    /// <summary>Starts, waits for SIGINT/SIGTERM (when <see cref="DaemonOptions.HandleSignals"/>) or the token, and stops.</summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        await StartAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var lifetime = _app.Services.GetRequiredService<IHostApplicationLifetime>();
            var stopping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var onStopping = lifetime.ApplicationStopping.Register(() => stopping.TrySetResult());
            using var onCancel = cancellationToken.Register(() => stopping.TrySetResult());
            await stopping.Task.ConfigureAwait(false);
        }
        finally
        {
            await StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private static void RemoveSocketFile(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: the next daemon replaces a stale socket anyway.
        }
    }

    /// <summary>A host lifetime that ignores signals: a daemon inside a test process stops when the test says so.</summary>
    private sealed class NoSignalLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3001, EventName = "Listening", Level = LogLevel.Information, Message = "ax daemon {Version} listening on {Path} (mode {Mode})")]
        public static partial void Listening(ILogger logger, string path, string mode, string version);

        [LoggerMessage(EventId = 3002, EventName = "StaleSocketRemoved", Level = LogLevel.Warning, Message = "Removed the stale socket {Path} left by a daemon that is gone")]
        public static partial void StaleSocketRemoved(ILogger logger, string path);

        [LoggerMessage(EventId = 3004, EventName = "ServingMetrics", Level = LogLevel.Information, Message = "serving Prometheus metrics at {Address}/metrics")]
        public static partial void ServingMetrics(ILogger logger, string address);

        [LoggerMessage(EventId = 3003, EventName = "Stopped", Level = LogLevel.Information, Message = "ax daemon stopped; removed {Path}")]
        public static partial void Stopped(ILogger logger, string path);
    }
}
