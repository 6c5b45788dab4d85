using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Functional.Tests.Harness;

/// <summary>
/// A real <c>ax daemon</c> process on a private API socket, and helpers that run real programs under it.
/// Shared by the tests of one class (xunit class fixture); each test uses its own ref names, VIPs and ports.
/// </summary>
public class AxEnvironment : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("ax-functional-").FullName;
    private ExternalProcess? _daemon;

    /// <summary>The <c>ax</c> executable built with the tests.</summary>
    public static string AxPath { get; } = LocateAx();

    public string ApiSocket => Path.Combine(_directory, "ax.sock");

    public ExternalProcess Daemon => _daemon ?? throw new InvalidOperationException("the daemon is not running");

    /// <summary>The environment every ax command of this fixture runs with: it points at this daemon.</summary>
    public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string> { ["AX_API"] = ApiSocket };

    /// <summary>Flags the daemon of this fixture starts with, after <c>--api</c>.</summary>
    protected virtual IReadOnlyList<string> DaemonArguments => [];

    public Task InitializeAsync() => StartDaemonAsync();

    /// <summary>
    /// Starts the fixture's daemon and waits for its sockets. Its keeper (docs/interception.md) lingers for no time
    /// once nothing is left to hold, so that a test run leaves no keeper behind.
    /// </summary>
    public async Task StartDaemonAsync()
    {
        _daemon = ExternalProcess.Start(AxPath, ["daemon", "--api", ApiSocket, "--keeper-linger", "0s", .. DaemonArguments],
            environment: new Dictionary<string, string> { ["Logging__LogLevel__Default"] = "Debug" });
        await WaitUntilServingAsync(_daemon, ApiSocket, "ax daemon");
    }

    /// <summary>
    /// Waits until <paramref name="daemon"/> serves its API and launch sockets (served, not only present: a killed
    /// daemon leaves its socket files behind); throws with its stderr if it exits or 30 s pass.
    /// </summary>
    internal static async Task WaitUntilServingAsync(ExternalProcess daemon, string apiSocket, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!Accepts(apiSocket) || !Accepts(apiSocket + ".launch"))
        {
            if (daemon.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"{what} did not start.\n{daemon.Stderr}");
            }
            await Task.Delay(25);
        }
    }

    /// <summary>Stops <paramref name="daemon"/> with SIGTERM (10 s at most) and removes <paramref name="directory"/>.</summary>
    internal static async Task StopAndCleanAsync(ExternalProcess? daemon, string directory)
    {
        if (daemon is not null)
        {
            daemon.Signal();
            try
            {
                await daemon.WaitForExitAsync(TimeSpan.FromSeconds(10));
            }
            catch (TimeoutException)
            {
            }
            daemon.Dispose();
        }
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static bool Accepts(string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>
    /// Stops the daemon as systemd or a DaemonSet does (SIGTERM, or SIGKILL for a crash) and waits for it to exit;
    /// returns its stderr. The daemon's process alone: its keeper lives on.
    /// </summary>
    public async Task<string> StopDaemonAsync(string signal = "TERM")
    {
        var daemon = Daemon;
        daemon.Signal(signal);
        await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30));
        var stderr = daemon.Stderr;
        daemon.Dispose();
        _daemon = null;
        return stderr;
    }

    public async Task DisposeAsync()
    {
        var daemon = _daemon;
        _daemon = null;
        await StopAndCleanAsync(daemon, _directory);
        StopKeeper();
    }

    /// <summary>Programs mesh rules, as the xds-agent would (<c>POST /v1/mesh</c>).</summary>
    public async Task<MeshUpdateResponse> UpdateMeshAsync(MeshUpdateRequest request)
    {
        using var client = new AxApiClient(ApiSocket);
        return await client.UpdateMeshAsync(request);
    }

    /// <summary>Programs one inbound port's RBAC (the JSON of docs/api.md) for the apps <paramref name="selector"/> selects.</summary>
    public async Task ProgramInboundAsync(string selector, int port, string rbac, string? mode = null)
    {
        using var document = JsonDocument.Parse(rbac);
        await UpdateMeshAsync(new MeshUpdateRequest
        {
            Inbound = [new MeshInboundPortDto { Key = $"{selector}:{port}", Selector = selector, Port = port, Mode = mode, Rbac = document.RootElement.Clone() }],
        });
    }

    /// <summary>The <c>connects</c> counters of the running app named <paramref name="name"/> (<c>ax get apps -o json</c>).</summary>
    public async Task<JsonElement> AppCountersAsync(string name)
    {
        var apps = await AxAsync("get", "apps", "-o", "json");
        using var json = JsonDocument.Parse(apps.Stdout);
        return json.RootElement.EnumerateArray().Single(a => a.GetProperty("name").GetString() == name).GetProperty("connects").Clone();
    }

    /// <summary>Runs an ax CLI command against this daemon.</summary>
    public Task<ProcessResult> AxAsync(params string[] arguments) =>
        ExternalProcess.RunAsync(AxPath, arguments, TimeSpan.FromSeconds(30), environment: Environment);

    /// <summary>Runs a program under ax to completion.</summary>
    public Task<ProcessResult> RunUnderAxAsync(string[] runOptions, string[] command, TimeSpan? timeout = null) =>
        ExternalProcess.RunAsync(AxPath, ["run", .. runOptions, "--", .. command], timeout ?? TimeSpan.FromSeconds(60), environment: Environment);

    /// <summary>Starts a long-running program (a server) under ax.</summary>
    public ExternalProcess StartUnderAx(string[] runOptions, string[] command) =>
        ExternalProcess.Start(AxPath, ["run", .. runOptions, "--", .. command], environment: Environment);

    /// <summary>Creates a ref and fails the test if the daemon refuses it.</summary>
    public async Task CreateRefAsync(string name, string vip, string selector, string? clients = null, params string[] more)
    {
        string[] args = clients is null
            ? ["create", "ref", name, "--vip", vip, "--selector", selector, .. more]
            : ["create", "ref", name, "--vip", vip, "--selector", selector, "--clients", clients, .. more];
        var result = await AxAsync(args);
        Assert.True(result.ExitCode == 0, $"ax create ref failed: {result}");
    }

    /// <summary>How many connects the ref holds now (from <c>ax get ref NAME -o json</c>).</summary>
    public async Task<int> HeldAsync(string refName)
    {
        var result = await AxAsync("get", "ref", refName, "-o", "json");
        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = System.Text.Json.JsonDocument.Parse(result.Stdout);
        return json.RootElement.GetProperty("held").GetInt32();
    }

    /// <summary>Waits until the ref holds exactly <paramref name="count"/> connects.</summary>
    public async Task WaitForHeldAsync(string refName, int count, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        int held;
        while ((held = await HeldAsync(refName)) != count)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"ref {refName} holds {held} connects, expected {count}.\ndaemon: {Daemon.Stderr}");
            }
            await Task.Delay(50);
        }
    }

    /// <summary>Waits until the registry lists a service bound to <paramref name="port"/>.</summary>
    public async Task WaitForServiceAsync(int port, ExternalProcess server, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var services = await AxAsync("get", "services", "-o", "json");
            if (services.ExitCode == 0 && services.Stdout.Contains($":{port}\"", StringComparison.Ordinal))
            {
                return;
            }
            if (server.HasExited || DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"no service on port {port} was registered.\nservices: {services}\nserver stdout: {server.Stdout}\nserver stderr: {server.Stderr}\ndaemon: {Daemon.Stderr}");
            }
            await Task.Delay(50);
        }
    }

    /// <summary>
    /// Ends this fixture's keeper, if one is left (an application of a test still ran when the daemon stopped): a
    /// keeper holds listeners, and the suite must not leave processes behind.
    /// </summary>
    public void StopKeeper()
    {
        var needle = $"--socket\0{ApiSocket}.keeper\0";
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "cmdline")).Contains(needle, StringComparison.Ordinal))
                {
                    System.Diagnostics.Process.GetProcessById(pid).Kill();
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException)
            {
                // Gone meanwhile.
            }
        }
    }

    /// <summary>A TCP port nobody listens on right now, on 127.0.0.1.</summary>
    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private static string LocateAx()
    {
        var beside = Path.Combine(AppContext.BaseDirectory, "ax");
        if (File.Exists(beside))
        {
            return beside;
        }
        throw new FileNotFoundException($"the ax executable was not found beside the tests in {AppContext.BaseDirectory}");
    }
}
