using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Istio.AppSwitch.Tests.Common.Tools;
using static Istio.AppSwitch.Injection.Tests.Yaml;

namespace Istio.AppSwitch.Injection.Tests;

/// <summary>
/// The command `ax inject` writes, run for real: the daemon on a socket in a temporary directory (what the hostPath
/// volume is in a pod), the real `ax` where the pod has <c>/ax/ax</c>, and redis-server as the container's program.
/// </summary>
public sealed class InjectedPodRunsUnderAxTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly string _directory = Directory.CreateTempSubdirectory("ax-inject-run-").FullName;
    private ExternalProcess? _daemon;

    private static string Ax => Path.Combine(AppContext.BaseDirectory, "ax");

    private string Socket => Path.Combine(_directory, "ax.sock");

    public async Task InitializeAsync()
    {
        _daemon = ExternalProcess.Start(Ax, ["daemon", "--api", Socket, "--keeper-linger", "0s"]);
        var deadline = DateTime.UtcNow + Timeout;
        while (!File.Exists(Socket + ".launch"))
        {
            Assert.False(_daemon.HasExited || DateTime.UtcNow > deadline, $"ax daemon did not start.\n{_daemon.Stderr}");
            await Task.Delay(25);
        }
    }

    public async Task DisposeAsync()
    {
        if (_daemon is not null)
        {
            _daemon.Signal();
            await _daemon.WaitForExitAsync(TimeSpan.FromSeconds(10));
            _daemon.Dispose();
        }
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task WrappedCommand_StartsTheProgramUnderAx_WithThePodLabels()
    {
        var port = FreePort();
        var manifest = $$"""
            apiVersion: v1
            kind: Pod
            metadata:
              name: cache-0
              labels: {app: cache, tier: backend}
            spec:
              containers:
              - name: redis
                image: redis:7.2.4
                command: [redis-server]
                args: ["--port", "{{port}}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            """;
        var options = new InjectionOptions { SocketDirectory = _directory };
        var pod = Documents(ManifestInjector.Inject(manifest, options, "pod.yaml").Output).Single();
        var container = Named(Seq(pod, "spec", "containers"), "redis");
        var command = Words(Seq(container, "command"));
        Assert.Equal(PodInjector.AxBinary, command[0]);
        Assert.Equal(Socket, Text(Named(Seq(container, "env"), "AX_API"), "value"));

        // As the container would run it, with the binary the init container would have copied.
        using var redis = ExternalProcess.Start(Ax, command[1..]);
        try
        {
            var app = await WaitForAsync("apps", a => a.GetProperty("name").GetString() == "redis");
            var labels = app.GetProperty("labels");
            Assert.Equal("cache", labels.GetProperty("app").GetString());
            Assert.Equal("backend", labels.GetProperty("tier").GetString());
            Assert.Equal(["redis-server", "--port", $"{port}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                app.GetProperty("command").EnumerateArray().Select(w => w.GetString()));

            // Its listen() went through the daemon: the service is registered under the app.
            await WaitForAsync("services", s => s.GetProperty("appName").GetString() == "redis");
            var ping = await ExternalProcess.RunAsync("redis-cli", ["-p", $"{port}", "PING"], Timeout);
            Assert.Equal("PONG", ping.Stdout.Trim());
        }
        finally
        {
            redis.Signal();
            await redis.WaitForExitAsync(TimeSpan.FromSeconds(10));
        }
    }

    private async Task<JsonElement> WaitForAsync(string what, Func<JsonElement, bool> match)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            var list = await ExternalProcess.RunAsync(Ax, ["get", what, "-o", "json", "--api", Socket], Timeout);
            Assert.True(list.ExitCode == 0, list.ToString());
            using var json = JsonDocument.Parse(list.Stdout);
            foreach (var element in json.RootElement.EnumerateArray())
            {
                if (match(element))
                {
                    return element.Clone();
                }
            }
            Assert.True(DateTime.UtcNow < deadline, $"no matching {what}: {list.Stdout}\n{_daemon!.Stderr}");
            await Task.Delay(100);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
