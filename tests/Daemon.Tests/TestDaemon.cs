using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Dataplane.Registry;
using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Daemon.Tests;

/// <summary>A daemon running in the test process on a socket in a fresh temporary directory.</summary>
internal sealed class TestDaemon : IAsyncDisposable
{
    private TestDaemon(DaemonHost host, string directory)
    {
        Host = host;
        Directory = directory;
    }

    public DaemonHost Host { get; }

    /// <summary>The temporary directory holding the socket (mode 0755, so another uid can reach the socket).</summary>
    public string Directory { get; }

    public string SocketPath => Host.Options.ApiSocketPath;

    public ServiceRegistry Registry => Host.Registry;

    public RefStore Refs => Host.Refs;

    /// <summary>A socket path in a new temporary directory; short, as a sun_path holds 108 bytes.</summary>
    public static string NewSocketPath()
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("axd-").FullName;
        File.SetUnixFileMode(directory, (UnixFileMode)0b111_101_101);
        return Path.Combine(directory, "ax.sock");
    }

    public static async Task<TestDaemon> StartAsync(UnixFileMode? socketMode = null, string? socketPath = null, MetricsAddress? metrics = null)
    {
        socketPath ??= NewSocketPath();
        var options = new DaemonOptions
        {
            ApiSocketPath = socketPath,
            HandleSignals = false,
            MinimumLogLevel = LogLevel.Warning,
            Metrics = metrics,
        };
        if (socketMode is { } mode)
        {
            options = options with { SocketMode = mode };
        }
        var host = DaemonHost.Create(options);
        try
        {
            await host.StartAsync();
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
        return new TestDaemon(host, Path.GetDirectoryName(socketPath)!);
    }

    /// <summary>A raw HTTP client on the daemon's socket.</summary>
    public HttpClient CreateHttpClient() => CreateHttpClient(SocketPath);

    public static HttpClient CreateHttpClient(string socketPath) =>
        new(new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            },
        })
        {
            BaseAddress = new Uri("http://ax/"),
        };

    public static StringContent Json(string json) => new(json, Encoding.UTF8, new MediaTypeHeaderValue("application/json"));

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
