using System.Net;
using System.Text.Json;
using Istio.AppSwitch.Dataplane.Registry;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Daemon.Tests;

/// <summary>The real <c>ax get|create|delete</c> commands against an in-process daemon.</summary>
public sealed class CliTests : IAsyncLifetime
{
    private TestDaemon _daemon = null!;

    public async Task InitializeAsync() => _daemon = await TestDaemon.StartAsync();

    public async Task DisposeAsync() => await _daemon.DisposeAsync();

    private Task<(int ExitCode, string Stdout, string Stderr)> Ax(params string[] args) =>
        CliRunner.RunAsync([.. args, "--api", _daemon.SocketPath]);

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static string[] Cells(string line) => line.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public async Task CreateGetDelete_Ref_RoundTrip()
    {
        var created = await Ax("create", "ref", "redis", "--vip", "10.0.0.1:6379", "--selector", "app=redis", "--clients", "tier=web", "--dns", "redis.local",
            "--wait", "1m30s", "--nonblocking", "eagain", "--exclude", "10.0.0.2", "--proxy-protocol", "v2");
        var json = await Ax("get", "ref", "redis", "-o", "json");
        var table = await Ax("get", "refs");
        var deleted = await Ax("delete", "ref", "redis");
        var empty = await Ax("get", "refs");

        Assert.Equal((0, "ref/redis created\n", ""), created);
        Assert.Equal(0, table.ExitCode);
        var lines = Lines(table.Stdout);
        Assert.Equal(["NAME", "VIP", "SELECTOR", "CLIENTS", "DNS", "BACKENDS", "WAIT", "HELD", "AGE"], Cells(lines[0]));
        Assert.Equal(["redis", "10.0.0.1:6379", "app=redis", "tier=web", "redis.local", "0", "1m30s", "0"], Cells(lines[1])[..8]);
        var one = JsonDocument.Parse(json.Stdout).RootElement;
        Assert.Equal("1m30s", one.GetProperty("wait").GetString());
        Assert.Equal("eagain", one.GetProperty("nonblocking").GetString());
        Assert.Equal("10.0.0.2/32", one.GetProperty("exclude").GetString());
        Assert.Equal("v2", one.GetProperty("proxyProtocol").GetString());
        Assert.Equal(0, one.GetProperty("held").GetInt32());
        Assert.Equal((0, "ref/redis deleted\n", ""), deleted);
        Assert.Equal((0, "", "No refs found.\n"), empty);
    }

    [Fact]
    public async Task GetRefs_Table_ColumnsAligned()
    {
        await Ax("create", "ref", "a-very-long-name", "--vip", "10.0.0.0/8:*", "--selector", "app=x");
        await Ax("create", "ref", "b", "--vip", "[fd00::1]:80", "--selector", "app=y");

        var (_, stdout, _) = await Ax("get", "refs");

        var lines = Lines(stdout);
        Assert.Equal(3, lines.Length);
        var vipColumn = lines[0].IndexOf("VIP", StringComparison.Ordinal);
        Assert.Equal(vipColumn, lines[1].IndexOf("10.0.0.0/8:*", StringComparison.Ordinal));
        Assert.Equal(vipColumn, lines[2].IndexOf("[fd00::1]:80", StringComparison.Ordinal));
        Assert.Equal("NAME" + new string(' ', "a-very-long-name".Length - 4 + 3) + "VIP", lines[0][..(vipColumn + 3)]);
        Assert.All(lines, l => Assert.Equal(l.TrimEnd(), l));
    }

    [Fact]
    public async Task GetRefs_Json_TheApiArray()
    {
        await Ax("create", "ref", "redis", "--vip", "10.0.0.1:6379", "--selector", "app=redis");

        var (exitCode, stdout, _) = await Ax("get", "refs", "-o", "json");
        var (oneExit, one, _) = await Ax("get", "ref", "redis", "-o", "json");

        Assert.Equal(0, exitCode);
        var array = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(JsonValueKind.Array, array.ValueKind);
        Assert.Equal("10.0.0.1:6379", Assert.Single(array.EnumerateArray()).GetProperty("vip").GetString());
        Assert.Equal(0, oneExit);
        Assert.Equal("redis", JsonDocument.Parse(one).RootElement.GetProperty("name").GetString());
    }

    [Fact]
    public async Task GetServicesAndApps_RegistryFilledDirectly_Shown()
    {
        var app = _daemon.Registry.RegisterApp(new AppRegistration("redis", Labels.Parse("app=redis,tier=db"), IPAddress.Parse("10.1.1.1"), 4321, 0, ["/usr/bin/redis-server"]));
        _daemon.Registry.AddService(app.Id, TransportProtocol.Tcp, Ep("0.0.0.0:6379"), Ep("0.0.0.0:6379"), 5);

        var services = await Ax("get", "services");
        var servicesJson = await Ax("get", "svc", "-o", "json");
        var apps = await Ax("get", "apps");

        Assert.Equal(0, services.ExitCode);
        var lines = Lines(services.Stdout);
        Assert.Equal(["ID", "APP", "PROTOCOL", "REQUESTED", "BOUND", "ADVERTISED", "SWITCHED", "AGE"], Cells(lines[0]));
        Assert.Equal(["svc-1", "redis", "(app-1)", "tcp", "0.0.0.0:6379", "0.0.0.0:6379", "10.1.1.1:6379", "0"], Cells(lines[1])[..8]);
        var json = Assert.Single(JsonDocument.Parse(servicesJson.Stdout).RootElement.EnumerateArray());
        Assert.Equal("127.0.0.1:6379", json.GetProperty("target").GetString());
        Assert.Equal(0, json.GetProperty("switched").GetInt64());
        var appLines = Lines(apps.Stdout);
        Assert.Equal(["ID", "NAME", "PID", "USER", "IP", "NETNS", "LABELS", "REDIRECTED", "REFUSED", "CHAINED", "ACCEPTED", "DENIED", "AGE"], Cells(appLines[0]));
        Assert.Equal(["app-1", "redis", "4321", "root", "10.1.1.1", "<none>", "app=redis,tier=db"], Cells(appLines[1])[..7]);
    }

    [Fact]
    public async Task CreateRef_BadVip_PlainErrorExit1()
    {
        var (exitCode, stdout, stderr) = await Ax("create", "ref", "x", "--vip", "x", "--selector", "app=x");

        Assert.Equal(1, exitCode);
        Assert.Empty(stdout);
        Assert.StartsWith("ax: invalid vip \"x\": ", stderr, StringComparison.Ordinal);
        Assert.Single(Lines(stderr));
    }

    [Fact]
    public async Task CreateRef_SeveralBadFields_OneLinePerProblem()
    {
        var (exitCode, _, stderr) = await Ax("create", "ref", "Bad", "--vip", "10.0.0.0/99:80", "--selector", "app=");

        Assert.Equal(1, exitCode);
        var lines = Lines(stderr);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("ax: invalid name \"Bad\"", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("ax: invalid vip \"10.0.0.0/99:80\"", lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateRef_Duplicate_AlreadyExistsExit1()
    {
        await Ax("create", "ref", "redis", "--vip", "10.0.0.1:6379", "--selector", "app=redis");

        var (exitCode, _, stderr) = await Ax("create", "ref", "redis", "--vip", "10.0.0.1:6379", "--selector", "app=redis");

        Assert.Equal((1, "ax: ref \"redis\" already exists\n"), (exitCode, stderr));
    }

    [Fact]
    public async Task DeleteRef_Missing_NotFoundExit1()
    {
        var (exitCode, stdout, stderr) = await Ax("delete", "ref", "nope");

        Assert.Equal((1, "", "ax: ref \"nope\" not found\n"), (exitCode, stdout, stderr));
    }

    [Theory]
    [InlineData("get", "refs", "-o", "xml")]
    [InlineData("create", "ref", "x", "--selector", "app=x")]
    [InlineData("get", "refs", "--bogus")]
    [InlineData("get", "pods")]
    public async Task BadCommandLine_UsageErrorExit2(params string[] args)
    {
        var (exitCode, _, stderr) = await Ax(args);

        Assert.Equal(2, exitCode);
        Assert.StartsWith("ax: ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_DaemonUnreachable_ClearMessageExit1()
    {
        var missing = Path.Combine(_daemon.Directory, "nobody.sock");

        var (exitCode, stdout, stderr) = await CliRunner.RunAsync("get", "refs", "--api", missing);

        Assert.Equal(1, exitCode);
        Assert.Empty(stdout);
        Assert.Equal($"ax: cannot reach the ax daemon at {missing}: no such file or directory (is 'ax daemon' running?)\n", stderr);
    }

    [Fact]
    public async Task Get_StaleSocketNobodyListening_ConnectionRefusedExit1()
    {
        var stale = Path.Combine(_daemon.Directory, "stale.sock");
        using (var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified))
        {
            socket.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(stale + ".tmp"));
            File.Move(stale + ".tmp", stale);
        }

        var (exitCode, _, stderr) = await CliRunner.RunAsync("get", "apps", "--api", stale);

        Assert.Equal(1, exitCode);
        Assert.Contains(": connection refused", stderr, StringComparison.Ordinal);
    }

    private static InetEndpoint Ep(string text) => InetEndpoint.FromIPEndPoint(IPEndPoint.Parse(text));
}
