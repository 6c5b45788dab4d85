using System.Globalization;
using System.Text.Json;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Functional.Tests.Harness;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Functional.Tests;

/// <summary>A uid and gid that commands run as, through <c>setpriv</c>.</summary>
public sealed record TestUser(uint Uid, uint Gid)
{
    /// <summary>uid and gid 65534: another ordinary user than the daemon's.</summary>
    public static TestUser Nobody { get; } = new(65534, 65534);

    /// <summary><c>setpriv</c>'s arguments that make the rest of the command line run as this user, with no groups.</summary>
    public string[] Setpriv(string program, params string[] arguments) =>
        [$"--reuid={Uid}", $"--regid={Gid}", "--clear-groups", program, .. arguments];
}

/// <summary>
/// <c>ax daemon</c> run as an ordinary user (<c>ax-unpriv</c>, created with <c>useradd</c> when absent) through
/// <c>setpriv</c>, so it holds no capability at all, on a private directory that user owns. The test process itself
/// stays root, to set up what only root can.
/// </summary>
public class UnprivilegedDaemon : IAsyncLifetime
{
    /// <summary>The user the daemon runs as.</summary>
    public const string UserName = "ax-unpriv";

    private readonly string _directory = Directory.CreateTempSubdirectory("ax-unpriv-").FullName;
    private ExternalProcess? _daemon;

    /// <summary>Flags the daemon starts with, after <c>--api</c>.</summary>
    protected virtual IReadOnlyList<string> DaemonArguments => [];

    /// <summary>The daemon's user.</summary>
    public TestUser Owner { get; private set; } = TestUser.Nobody;

    /// <summary>A directory the daemon's user owns, for files its programs read.</summary>
    public string Home => _directory;

    public string ApiSocket => Path.Combine(_directory, "ax.sock");

    public string LaunchSocket => ApiSocket + ".launch";

    public ExternalProcess Daemon => _daemon ?? throw new InvalidOperationException("the daemon is not running");

    /// <summary>What every command run against this daemon gets: its socket, and a home the user may write.</summary>
    public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string>
    {
        ["AX_API"] = ApiSocket,
        ["HOME"] = _directory,
        // Not the test's PATH, whose first entries are under /root, which the daemon's user may not search.
        ["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    };

    public async Task InitializeAsync()
    {
        Owner = await EnsureUserAsync();
        var chown = await ExternalProcess.RunAsync("chown", [$"{Owner.Uid}:{Owner.Gid}", _directory], TimeSpan.FromSeconds(10));
        Assert.True(chown.ExitCode == 0, chown.ToString());
        // Others may reach the sockets through the directory; the sockets' own mode (0660) decides who may connect.
        File.SetUnixFileMode(_directory, (UnixFileMode)0b111_101_101);

        _daemon = ExternalProcess.Start("setpriv",
            Owner.Setpriv(AxEnvironment.AxPath, ["daemon", "--api", ApiSocket, "--keeper-linger", "0s", .. DaemonArguments]),
            environment: new Dictionary<string, string>(Environment) { ["Logging__LogLevel__Default"] = "Debug" });
        await AxEnvironment.WaitUntilServingAsync(_daemon, ApiSocket, "the unprivileged ax daemon");
    }

    public Task DisposeAsync() => AxEnvironment.StopAndCleanAsync(_daemon, _directory);

    /// <summary>Runs <paramref name="program"/> as <paramref name="user"/> to completion, not under ax.</summary>
    public Task<ProcessResult> RunAsAsync(TestUser user, string program, params string[] arguments) =>
        ExternalProcess.RunAsync("setpriv", user.Setpriv(program, arguments), TimeSpan.FromSeconds(60), environment: Environment);

    /// <summary>Runs an ax CLI command as <paramref name="user"/>.</summary>
    public Task<ProcessResult> AxAsAsync(TestUser user, params string[] arguments) => RunAsAsync(user, AxEnvironment.AxPath, arguments);

    /// <summary>Runs an ax CLI command as the daemon's user.</summary>
    public Task<ProcessResult> AxAsync(params string[] arguments) => AxAsAsync(Owner, arguments);

    /// <summary>Runs a program under ax as the daemon's user, to completion.</summary>
    public Task<ProcessResult> RunUnderAxAsync(string[] runOptions, params string[] command) =>
        AxAsync(["run", .. runOptions, "--", .. command]);

    /// <summary>Starts a long-running program under ax as the daemon's user.</summary>
    public ExternalProcess StartUnderAx(string[] runOptions, params string[] command) =>
        ExternalProcess.Start("setpriv", Owner.Setpriv(AxEnvironment.AxPath, ["run", .. runOptions, "--", .. command]), environment: Environment);

    /// <summary>Creates a ref as the daemon's user, and fails the test if the daemon refuses it.</summary>
    public async Task CreateRefAsync(string name, string vip, string selector, params string[] more)
    {
        var result = await AxAsync(["create", "ref", name, "--vip", vip, "--selector", selector, .. more]);
        Assert.True(result.ExitCode == 0, $"ax create ref failed: {result}");
    }

    /// <summary>Waits until the registry lists a service on <paramref name="port"/>.</summary>
    public async Task WaitForServiceAsync(int port, ExternalProcess server)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var services = await AxAsync("get", "services", "-o", "json");
            if (services.ExitCode == 0 && services.Stdout.Contains($":{port}\"", StringComparison.Ordinal))
            {
                return;
            }
            if (server.HasExited || DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"no service on port {port} was registered.\nservices: {services}\nserver: {server.Output}\ndaemon: {Daemon.Stderr}");
            }
            await Task.Delay(50);
        }
    }

    /// <summary>The <c>connects</c> counters of the app named <paramref name="name"/>.</summary>
    public async Task<JsonElement> AppCountersAsync(string name)
    {
        var apps = await AxAsync("get", "apps", "-o", "json");
        Assert.True(apps.ExitCode == 0, apps.ToString());
        using var json = JsonDocument.Parse(apps.Stdout);
        return json.RootElement.EnumerateArray().Single(a => a.GetProperty("name").GetString() == name).GetProperty("connects").Clone();
    }

    /// <summary>How many connects the ref holds now.</summary>
    public async Task<int> HeldAsync(string refName)
    {
        var result = await AxAsync("get", "ref", refName, "-o", "json");
        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        return json.RootElement.GetProperty("held").GetInt32();
    }

    private static async Task<TestUser> EnsureUserAsync()
    {
        var id = await ExternalProcess.RunAsync("id", ["-u", UserName], TimeSpan.FromSeconds(10));
        if (id.ExitCode != 0)
        {
            var add = await ExternalProcess.RunAsync("useradd",
                ["--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "--user-group", UserName], TimeSpan.FromSeconds(30));
            // 9: created meanwhile by another run.
            Assert.True(add.ExitCode is 0 or 9, $"useradd {UserName} failed: {add}");
        }
        var uid = await ExternalProcess.RunAsync("id", ["-u", UserName], TimeSpan.FromSeconds(10));
        var gid = await ExternalProcess.RunAsync("id", ["-g", UserName], TimeSpan.FromSeconds(10));
        Assert.True(uid.ExitCode == 0 && gid.ExitCode == 0, $"{uid}\n{gid}");
        return new TestUser(uint.Parse(uid.Stdout.Trim(), CultureInfo.InvariantCulture), uint.Parse(gid.Stdout.Trim(), CultureInfo.InvariantCulture));
    }
}

/// <summary>
/// An unprivileged daemon that trusts PROXY headers from 127.0.0.7 (the real-client-IP path). A daemon of its own: with
/// a trusted proxy every accept is the daemon's, and co-located connects are not switched to Unix sockets.
/// </summary>
public sealed class TrustingUnprivilegedDaemon : UnprivilegedDaemon
{
    /// <summary>The source address whose PROXY headers the daemon trusts.</summary>
    public const string TrustedProxy = "127.0.0.7";

    protected override IReadOnlyList<string> DaemonArguments => ["--trusted-proxy", $"{TrustedProxy}/32"];
}

[CollectionDefinition(Name)]
public sealed class UnprivilegedDaemonCollection : ICollectionFixture<UnprivilegedDaemon>
{
    public const string Name = "ax daemon run as an ordinary user";
}

/// <summary>
/// Issue 10, "Privileges": what a daemon run as an ordinary user, with no capability, does for that user's own
/// applications, measured one feature at a time with real programs (docs/reliability.md, "Privileges"). Everything
/// here runs as the daemon's user unless a test says otherwise. VIPs in 127.96.140.0/24.
/// </summary>
[Collection(UnprivilegedDaemonCollection.Name)]
public sealed class UnprivilegedDaemonTests(UnprivilegedDaemon ax)
{
    private static readonly string Programs = Path.Combine(AppContext.BaseDirectory, "Programs");

    private static string Program(string name) => Path.Combine(Programs, name);

    [Fact]
    public async Task Daemon_RunAsAnOrdinaryUser_HoldsNoCapabilityAndOwnsItsSockets()
    {
        var status = await File.ReadAllLinesAsync($"/proc/{ax.Daemon.Id}/status");
        string Field(string name) => status.Single(l => l.StartsWith(name + ":", StringComparison.Ordinal))[(name.Length + 1)..].Trim();

        var uid = ax.Owner.Uid.ToString(CultureInfo.InvariantCulture);
        Assert.Equal($"{uid}\t{uid}\t{uid}\t{uid}", Field("Uid"));
        Assert.Equal("0000000000000000", Field("CapEff"));
        Assert.Equal("0000000000000000", Field("CapPrm"));
        Assert.Equal("0000000000000000", Field("CapAmb"));
        var socket = await ExternalProcess.RunAsync("stat", ["-c", "%u %a", ax.ApiSocket, ax.LaunchSocket], TimeSpan.FromSeconds(10));
        Assert.Equal($"{uid} 660\n{uid} 660", socket.Stdout.Trim());
    }

    [Fact]
    public async Task FastPath_RedirectThroughARef_Works()
    {
        var port = AxEnvironment.FreePort();
        using var server = ax.StartUnderAx(["--name", "up-fast-srv", "--labels", "app=up-fast"],
            "python3", Program("echo_server.py"), "127.0.0.1", port.ToString(CultureInfo.InvariantCulture), "fast");
        await ax.WaitForServiceAsync(port, server);
        await ax.CreateRefAsync("up-fast", "127.96.140.1:80", "app=up-fast", "--no-unix");

        var client = await ax.RunUnderAxAsync(["--name", "up-fast-cli"], "python3", Program("client.py"), "127.96.140.1", "80", "hello");

        Assert.True(client.ExitCode == 0, $"{client}\ndaemon: {ax.Daemon.Stderr}");
        Assert.StartsWith("reply=fast:hello peer=127.96.140.1:80", client.Stdout.Trim(), StringComparison.Ordinal);
        Assert.True((await ax.AxAsync("delete", "ref", "up-fast")).ExitCode == 0);
    }

    [Fact]
    public async Task UnixSwitch_CoLocatedConnect_GetsAUnixSocket()
    {
        var port = AxEnvironment.FreePort();
        using var server = ax.StartUnderAx(["--name", "up-switch-srv", "--labels", "app=up-switch"],
            "python3", Program("echo_server.py"), "127.0.0.1", port.ToString(CultureInfo.InvariantCulture), "sw");
        await ax.WaitForServiceAsync(port, server);
        await ax.CreateRefAsync("up-switch", "127.96.140.2:80", "app=up-switch");

        // A blocking server already waits in the kernel's accept: its first connection stays TCP (docs/unix-switch.md).
        var first = await ax.RunUnderAxAsync(["--name", "up-switch-cli"], "python3", Program("switch_client.py"), "127.96.140.2", "80", "first");
        var client = await ax.RunUnderAxAsync(["--name", "up-switch-cli"], "python3", Program("switch_client.py"), "127.96.140.2", "80", "hi");

        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Contains("reply=sw:first", first.Stdout, StringComparison.Ordinal);
        Assert.True(client.ExitCode == 0, $"{client}\ndaemon: {ax.Daemon.Stderr}");
        Assert.Contains("reply=sw:hi", client.Stdout, StringComparison.Ordinal);
        Assert.Contains("peer=127.96.140.2:80", client.Stdout, StringComparison.Ordinal);
        Assert.Contains("unix=yes", client.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HeldConnect_ServerStartsLater_ReleasedOnceItListens()
    {
        var port = AxEnvironment.FreePort();
        await ax.CreateRefAsync("up-late", "127.96.140.3:80", "app=up-late");
        using var client = ax.StartUnderAx(["--name", "up-late-cli"], "python3", Program("connect_probe.py"), "127.96.140.3", "80", "blocking");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (await ax.HeldAsync("up-late") != 1)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the connect was not held.\n{client.Output}\ndaemon: {ax.Daemon.Stderr}");
            await Task.Delay(50);
        }

        using var server = ax.StartUnderAx(["--name", "up-late-srv", "--labels", "app=up-late"],
            "python3", Program("echo_server.py"), "127.0.0.1", port.ToString(CultureInfo.InvariantCulture), "late");

        Assert.Equal(0, await client.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("result=ok", client.Stdout, StringComparison.Ordinal);
        Assert.Contains("reply=late:probe", client.Stdout, StringComparison.Ordinal);
        Assert.Equal(0, await ax.HeldAsync("up-late"));
    }

    [Fact]
    public async Task Udp_SendtoConnectAndSendmsgThroughAVip_Work_AnSoMarkControlMessageIsEperm()
    {
        var port = AxEnvironment.FreePort();
        using var server = ax.StartUnderAx(["--name", "up-udp-srv", "--labels", "app=up-udp"],
            "python3", Program("udp_echo.py"), "127.0.0.1", port.ToString(CultureInfo.InvariantCulture));
        await ax.WaitForServiceAsync(port, server);
        await ax.CreateRefAsync("up-udp", "127.96.140.4:9", "app=up-udp");

        var sendto = await ax.RunUnderAxAsync([], "python3", Program("udp_client.py"), "sendto", "127.96.140.4", "9", "one");
        var connected = await ax.RunUnderAxAsync([], "python3", Program("udp_client.py"), "connect", "127.96.140.4", "9", "two");
        var message = await ax.RunUnderAxAsync(["--udp", "msg"], "python3", Program("udp_client.py"), "sendmsg", "127.96.140.4", "9", "three");
        // ax sends a trapped datagram itself, with its own credentials: it refuses to carry SO_MARK (docs/udp.md).
        var marked = await ax.RunUnderAxAsync(["--udp", "msg"], "python3", Program("udp_client.py"), "sendmsg-mark", "127.96.140.4", "9");

        Assert.True(sendto.ExitCode == 0, $"{sendto}\ndaemon: {ax.Daemon.Stderr}");
        Assert.Contains("from 127.96.140.4 9", sendto.Stdout, StringComparison.Ordinal);
        Assert.Contains("echo:one", sendto.Stdout, StringComparison.Ordinal);
        Assert.True(connected.ExitCode == 0, connected.ToString());
        Assert.Contains("echo:two", connected.Stdout, StringComparison.Ordinal);
        Assert.True(message.ExitCode == 0, message.ToString());
        Assert.Contains("from 127.96.140.4 9", message.Stdout, StringComparison.Ordinal);
        Assert.Contains("echo:three", message.Stdout, StringComparison.Ordinal);
        Assert.Equal("EPERM", marked.Stdout.Trim());
    }

    [Fact]
    public async Task Api_TheDaemonsUidAndRootWrite_AnotherUidReadsOnlyOnceItMayConnect()
    {
        var ownerCreate = await ax.AxAsync("create", "ref", "up-api", "--vip", "127.96.140.5:80", "--selector", "app=up-api");
        var ownerGet = await ax.AxAsync("get", "ref", "up-api", "-o", "json");
        // With the socket's default mode (0660, the daemon's user and group), another uid cannot even connect.
        var shutOut = await ax.AxAsAsync(TestUser.Nobody, "get", "refs");
        Assert.True(ownerCreate.ExitCode == 0, ownerCreate.ToString());
        Assert.True(ownerGet.ExitCode == 0 && ownerGet.Stdout.Contains("127.96.140.5:80", StringComparison.Ordinal), ownerGet.ToString());
        Assert.Equal(1, shutOut.ExitCode);
        Assert.Contains("permission denied (the socket's mode and owner decide who may connect)", shutOut.Stderr, StringComparison.Ordinal);

        // A socket opened to others (as a shared group would be): they read, and their writes are 403.
        File.SetUnixFileMode(ax.ApiSocket, (UnixFileMode)0b110_110_110);
        try
        {
            var otherGet = await ax.AxAsAsync(TestUser.Nobody, "get", "ref", "up-api", "-o", "json");
            var otherCreate = await ax.AxAsAsync(TestUser.Nobody, "create", "ref", "up-api-other", "--vip", "127.96.140.6:80", "--selector", "app=x");
            var otherDelete = await ax.AxAsAsync(TestUser.Nobody, "delete", "ref", "up-api");
            Assert.True(otherGet.ExitCode == 0, otherGet.ToString());
            Assert.Equal(1, otherCreate.ExitCode);
            Assert.Contains($"ax: permission denied: uid 65534 (pid ", otherCreate.Stderr, StringComparison.Ordinal);
            Assert.Contains($"may not change the ax daemon's state; only root and uid {ax.Owner.Uid} may", otherCreate.Stderr, StringComparison.Ordinal);
            Assert.Equal(1, otherDelete.ExitCode);
            Assert.Contains("permission denied: uid 65534", otherDelete.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.SetUnixFileMode(ax.ApiSocket, (UnixFileMode)0b110_110_000);
        }

        // Root may write to any daemon's API (the test process is root).
        using (var root = new AxApiClient(ax.ApiSocket))
        {
            var refs = await root.GetRefsAsync();
            Assert.Contains(refs, r => r.Name == "up-api");
        }
        var rootDelete = await ExternalProcess.RunAsync(AxEnvironment.AxPath, ["delete", "ref", "up-api"], TimeSpan.FromSeconds(30), environment: ax.Environment);
        Assert.True(rootDelete.ExitCode == 0, rootDelete.ToString());
    }

    [Fact]
    public async Task SoMark_NeedsCapNetAdminWithOrWithoutAx_AndAxNeedsNone()
    {
        var port = AxEnvironment.FreePort();
        using var server = ax.StartUnderAx(["--name", "up-mark-srv", "--labels", "app=up-mark"],
            "python3", Program("echo_server.py"), "127.0.0.1", port.ToString(CultureInfo.InvariantCulture), "mark");
        await ax.WaitForServiceAsync(port, server);
        await ax.CreateRefAsync("up-mark", "127.96.140.7:80", "app=up-mark", "--no-unix");
        // setsockopt(SO_MARK) is the kernel's to allow (CAP_NET_ADMIN); ax never marks a socket (no iptables to skip).
        const string Script = """
            import errno, socket, sys
            s = socket.socket(); s.settimeout(10)
            try:
                s.setsockopt(socket.SOL_SOCKET, 36, 7); print("mark=ok")
            except OSError as e:
                print("mark=" + errno.errorcode[e.errno])
            s.connect((sys.argv[1], int(sys.argv[2]))); s.sendall(b"m\n"); print("reply=" + s.recv(100).decode().strip())
            """;

        var bare = await ax.RunAsAsync(ax.Owner, "python3", "-c", Script, "127.0.0.1", port.ToString(CultureInfo.InvariantCulture));
        var under = await ax.RunUnderAxAsync([], "python3", "-c", Script, "127.96.140.7", "80");

        Assert.Equal("mark=EPERM\nreply=mark:m", bare.Stdout.Trim());
        Assert.Equal("mark=EPERM\nreply=mark:m", under.Stdout.Trim());
    }

    [NetnsFact]
    public async Task Netns_TheLauncherWithoutCapSysAdmin_IsRefusedWithTheReason()
    {
        using var netns = await TestNetworkNamespace.CreateAsync();

        var fresh = await ax.RunUnderAxAsync(["--new-netns"], "true");
        var existing = await ax.RunUnderAxAsync(["--netns", netns.Path], "true");

        Assert.Equal(125, fresh.ExitCode);
        Assert.Contains("ax: cannot create a network namespace: not permitted (--new-netns needs CAP_SYS_ADMIN); not starting true", fresh.Stderr, StringComparison.Ordinal);
        Assert.Equal(125, existing.ExitCode);
        Assert.Contains($"ax: cannot enter the network namespace {netns.Path}: not permitted (--netns needs CAP_SYS_ADMIN); not starting true", existing.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RealClientIp_TrustedProxysHeader_TakenOffAtAccept()
    {
        var trusting = new TrustingUnprivilegedDaemon();
        await trusting.InitializeAsync();
        try
        {
            var port = AxEnvironment.FreePort();
            using var server = trusting.StartUnderAx(["--name", "up-real-ip", "--labels", "app=up-real-ip"],
                "python3", Program("inbound_server.py"), "127.0.0.1", port.ToString(CultureInfo.InvariantCulture), "srv");
            await server.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));

            // The proxy is not under ax and runs as root: what matters is the daemon's work at the server's accept.
            var proxied = await ExternalProcess.RunAsync("python3",
                [Program("proxied_client.py"), TrustingUnprivilegedDaemon.TrustedProxy, "127.0.0.1", port.ToString(CultureInfo.InvariantCulture), "real", "proxy", "127.0.0.9", "5555"],
                TimeSpan.FromSeconds(30));

            Assert.StartsWith($"reply=srv:real local={TrustingUnprivilegedDaemon.TrustedProxy}:", proxied.Stdout.Trim(), StringComparison.Ordinal);
            await server.WaitForOutputAsync("accepted 127.0.0.9:5555 getpeername=127.0.0.9:5555", TimeSpan.FromSeconds(10));
            Assert.Equal(1, (await trusting.AppCountersAsync("up-real-ip")).GetProperty("acceptProxied").GetInt64());
        }
        finally
        {
            await trusting.DisposeAsync();
        }
    }

    [Fact]
    public async Task PortsBelow1024_RefusedByTheKernelAsWithoutAx_OthersBind()
    {
        var high = AxEnvironment.FreePort().ToString(CultureInfo.InvariantCulture);
        // TCP binds go to the kernel; a UDP bind is made by ax for a port an unprivileged app may bind, and left to the
        // kernel below net.ipv4.ip_unprivileged_port_start (docs/udp.md), so each answers as without ax.
        const string Script = """
            import errno, socket, sys
            for kind, port in (("tcp", 80), ("udp", 53), ("tcp", int(sys.argv[1])), ("udp", int(sys.argv[1]))):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
                try:
                    s.bind(("127.0.0.1", port)); print(kind, "low" if port < 1024 else "high", "ok")
                except OSError as e:
                    print(kind, "low" if port < 1024 else "high", errno.errorcode[e.errno])
                s.close()
            """;

        var bare = await ax.RunAsAsync(ax.Owner, "python3", "-c", Script, high);
        var under = await ax.RunUnderAxAsync(["--name", "up-ports"], "python3", "-c", Script, high);

        var expected = "tcp low EACCES\nudp low EACCES\ntcp high ok\nudp high ok";
        Assert.Equal(expected, bare.Stdout.Trim());
        Assert.True(under.Stdout.Trim() == expected, $"{under}\ndaemon: {ax.Daemon.Stderr}");
    }

    [Fact]
    public async Task Delegation_SidecarLaunchedByTheDaemonsUid_TakesChainedConnects()
    {
        var upstream = AxEnvironment.FreePort();
        using var echo = ExternalProcess.Start("python3", [Program("echo_server.py"), "127.0.0.1", upstream.ToString(CultureInfo.InvariantCulture), "up"]);
        await echo.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));
        using (var root = new AxApiClient(ax.ApiSocket))
        {
            await root.UpdateMeshAsync(new MeshUpdateRequest
            {
                Clusters = [new MeshClusterDto { Name = "outbound|80||up-deleg", ConnectTimeout = "2s", Endpoints = [new MeshEndpointDto { Address = "127.0.0.1", Port = upstream }] }],
                Services =
                [
                    new MeshServiceDto
                    {
                        Key = "127.96.140.10:80", Vip = "127.96.140.10:80", Mode = "chain", Reasons = ["header_mutation"],
                        Clusters = [new MeshWeightedClusterDto { Name = "outbound|80||up-deleg" }],
                    },
                ],
            });
        }
        var config = Path.Combine(ax.Home, "proxy.json");
        await File.WriteAllTextAsync(config, """{"plugins": [{"type": "direct"}]}""");

        using var proxy = ax.StartUnderAx(["--name", "up-proxy", "--sidecar", "up-proxy"],
            AxEnvironment.AxPath, "proxy", "--api", ax.ApiSocket, "--name", "up-proxy", "--config", config, "--directions", "outbound");
        await proxy.WaitForOutputAsync("registered with", TimeSpan.FromSeconds(30));
        var client = await ax.RunUnderAxAsync(["--name", "up-deleg-cli"], "python3", Program("client.py"), "127.96.140.10", "80", "via-sidecar");
        var sidecars = await ax.AxAsync("get", "sidecars", "-o", "json");
        proxy.Signal();
        await proxy.WaitForExitAsync(TimeSpan.FromSeconds(10));

        Assert.True(client.ExitCode == 0, $"{client}\nproxy: {proxy.Output}\ndaemon: {ax.Daemon.Stderr}");
        Assert.StartsWith("reply=up:via-sidecar peer=127.96.140.10:80", client.Stdout.Trim(), StringComparison.Ordinal);
        using var listed = JsonDocument.Parse(sidecars.Stdout);
        var registered = listed.RootElement.EnumerateArray().Single(e => e.GetProperty("name").GetString() == "up-proxy");
        Assert.Equal(1, registered.GetProperty("delegated").GetInt64());
    }

    [Fact]
    public async Task AnotherUidsApplication_RefusedAtLaunchWithTheReason_NeverRunsUnintercepted()
    {
        // With the launch socket's default mode, another uid cannot reach the daemon at all.
        var shutOut = await ax.AxAsAsync(TestUser.Nobody, "run", "--", "true");
        Assert.Equal(125, shutOut.ExitCode);
        Assert.Contains($"ax: cannot reach the ax daemon at {ax.ApiSocket}: ", shutOut.Stderr, StringComparison.Ordinal);
        Assert.Contains("ermission denied", shutOut.Stderr, StringComparison.Ordinal);

        // Opened to it (a shared group): the daemon could neither read its sockaddrs nor take its sockets, so it refuses
        // the launch, at once, rather than let the application run with every trapped call passed through untouched.
        File.SetUnixFileMode(ax.LaunchSocket, (UnixFileMode)0b110_110_110);
        try
        {
            var started = DateTime.UtcNow;
            var refused = await ax.AxAsAsync(TestUser.Nobody, "run", "--", "python3", "-c", "print('ran')");
            var sidecar = await ax.AxAsAsync(TestUser.Nobody, "run", "--sidecar", "up-other", "--", "true");

            Assert.Equal(125, refused.ExitCode);
            Assert.Equal("", refused.Stdout);
            Assert.Contains($"ax: the ax daemon refused to start python3: this ax daemon (uid {ax.Owner.Uid}) has no ptrace access to pid ", refused.Stderr, StringComparison.Ordinal);
            Assert.Contains("(uid 65534), so it could neither read the application's socket addresses (process_vm_readv) nor take its sockets (pidfd_getfd: EPERM)",
                refused.Stderr, StringComparison.Ordinal);
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(20), "the refusal took too long");
            Assert.Equal(125, sidecar.ExitCode);
            Assert.Contains("has no ptrace access", sidecar.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.SetUnixFileMode(ax.LaunchSocket, (UnixFileMode)0b110_110_000);
        }
        // The daemon goes on serving its own user.
        Assert.True((await ax.AxAsync("get", "apps")).ExitCode == 0);
    }
}
