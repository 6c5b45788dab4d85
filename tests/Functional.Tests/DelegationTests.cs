using System.Text.Json;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Functional.Tests.Harness;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Functional.Tests;

/// <summary>A daemon of its own: a registered sidecar takes every chained connection of its daemon.</summary>
public sealed class DelegationEnvironment : AxEnvironment;

[CollectionDefinition(Name)]
public sealed class DelegationCollection : ICollectionFixture<DelegationEnvironment>
{
    public const string Name = "ax daemon with a delegation sidecar";
}

/// <summary>
/// Socket delegation round trips through a real sidecar process (docs/delegation.md): a python3 program that
/// registers over the daemon's API socket, receives live sockets with SCM_RIGHTS and a PROXY v2 header, and moves
/// the bytes itself. Outbound, the application's socket becomes one end of a socketpair; inbound, accept returns one.
/// The applications under ax are unchanged programs, blocking (python3) and nonblocking (node).
/// </summary>
[Collection(DelegationCollection.Name)]
public sealed class DelegationTests(DelegationEnvironment ax)
{
    private static readonly string Programs = Path.Combine(AppContext.BaseDirectory, "Programs");

    private ExternalProcess StartSidecar(int upstreamPort) => ExternalProcess.Start("python3",
        [Path.Combine(Programs, "test_sidecar.py"), ax.ApiSocket, "127.0.0.1", upstreamPort.ToString()]);

    [Fact]
    public async Task ChainedConnects_OutboundAndInbound_GoToTheSidecarAsLiveSockets()
    {
        var upstream = AxEnvironment.FreePort();
        var serverPort = AxEnvironment.FreePort();
        using var echo = ExternalProcess.Start("python3", [Path.Combine(Programs, "echo_server.py"), "127.0.0.1", upstream.ToString(), "up"]);
        await echo.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));
        await ax.UpdateMeshAsync(new MeshUpdateRequest
        {
            Clusters = [new MeshClusterDto { Name = "outbound|80||deleg", ConnectTimeout = "2s", Endpoints = [new MeshEndpointDto { Address = "127.0.0.1", Port = upstream }] }],
            Services =
            [
                new MeshServiceDto
                {
                    Key = "127.96.10.1:80", Vip = "127.96.10.1:80", Mode = "chain", Reasons = ["fault_injection"],
                    Clusters = [new MeshWeightedClusterDto { Name = "outbound|80||deleg" }],
                },
            ],
            Inbound = [new MeshInboundPortDto { Key = $"deleg:{serverPort}", Selector = "app=deleg-srv", Port = serverPort, Mode = "chain", Reasons = ["ext_authz"] }],
        });
        using var sidecar = StartSidecar(upstream);
        await sidecar.WaitForOutputAsync("registered", TimeSpan.FromSeconds(20));
        Assert.Contains("test-sidecar", await SidecarsAsync(), StringComparison.Ordinal);

        // Outbound: a blocking python client and a nonblocking node client, each to the chained VIP.
        var blocking = await ax.RunUnderAxAsync(["--name", "deleg-py"],
            ["python3", Path.Combine(Programs, "inbound_client.py"), "127.0.0.1", "127.96.10.1", "80", "one"]);
        var nonblocking = await ax.RunUnderAxAsync(["--name", "deleg-node"],
            ["node", Path.Combine(Programs, "client.js"), "127.96.10.1", "80", "two"]);
        Assert.True(blocking.ExitCode == 0, blocking.ToString());
        Assert.StartsWith("reply=up:one local=", blocking.Stdout.Trim(), StringComparison.Ordinal);
        Assert.True(nonblocking.ExitCode == 0, nonblocking.ToString());
        // getpeername on the application's end of the pair answers the VIP it asked for.
        Assert.Equal("reply=up:two peer=127.96.10.1:80", nonblocking.Stdout.Trim());
        await sidecar.WaitForOutputAsync("dst=127.96.10.1:80", TimeSpan.FromSeconds(10));
        Assert.Equal(2, sidecar.Stdout.Split('\n').Count(l => l.StartsWith("delegated outbound", StringComparison.Ordinal)));

        // Inbound: the server's accept returns its end of a pair; the client's socket went to the sidecar.
        using var server = ax.StartUnderAx(["--name", "deleg-srv", "--labels", "app=deleg-srv"],
            ["python3", Path.Combine(Programs, "inbound_server.py"), "127.0.0.1", serverPort.ToString(), "srv"]);
        await server.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));
        var client = await ExternalProcess.RunAsync("python3",
            [Path.Combine(Programs, "inbound_client.py"), "127.0.0.2", "127.0.0.1", serverPort.ToString(), "three"], TimeSpan.FromSeconds(30));
        Assert.StartsWith("reply=srv:three local=127.0.0.2:", client.Stdout.Trim(), StringComparison.Ordinal);
        var clientPort = client.Stdout.Trim().Split(':')[^1];
        await sidecar.WaitForOutputAsync($"delegated inbound", TimeSpan.FromSeconds(10));
        Assert.Contains($"src=127.0.0.2:{clientPort} dst=127.0.0.1:{serverPort}", sidecar.Stdout, StringComparison.Ordinal);
        // accept() and getpeername() on the pair's end both name the real client.
        Assert.Contains($"accepted 127.0.0.2:{clientPort} getpeername=127.0.0.2:{clientPort}", server.Stdout, StringComparison.Ordinal);
        Assert.Equal(1, (await ax.AppCountersAsync("deleg-srv")).GetProperty("delegated").GetInt64());

        // Without the sidecar, a chained inbound connection is denied again, never allowed.
        sidecar.Kill();
        await WaitUntilAsync(async () => !(await SidecarsAsync()).Contains("test-sidecar", StringComparison.Ordinal));
        var after = await ExternalProcess.RunAsync("python3",
            [Path.Combine(Programs, "inbound_client.py"), "127.0.0.2", "127.0.0.1", serverPort.ToString(), "four"], TimeSpan.FromSeconds(30));
        Assert.Equal("reset", after.Stdout.Trim());
    }

    [Fact]
    public async Task AxProxy_UnderAx_DropsByLabelAndPort_AndTakesTheRestDirect_ThroughTheProxysOwnFastConnect()
    {
        var upstream = AxEnvironment.FreePort();
        using var echo = ExternalProcess.Start("python3", [Path.Combine(Programs, "echo_server.py"), "127.0.0.1", upstream.ToString(), "up"]);
        await echo.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));
        MeshServiceDto Chained(string vip) => new()
        {
            Key = vip,
            Vip = vip,
            Mode = "chain",
            Reasons = ["header_mutation"],
            DnsNames = ["echo.default.svc.cluster.local"],
            Clusters = [new MeshWeightedClusterDto { Name = "outbound|80||axproxy" }],
        };
        await ax.UpdateMeshAsync(new MeshUpdateRequest
        {
            Clusters = [new MeshClusterDto { Name = "outbound|80||axproxy", ConnectTimeout = "2s", Endpoints = [new MeshEndpointDto { Address = "127.0.0.1", Port = upstream }] }],
            Services = [Chained("127.96.10.2:80"), Chained("127.96.10.2:81")],
        });
        var directory = Directory.CreateTempSubdirectory("ax-proxy-").FullName;
        try
        {
            var config = Path.Combine(directory, "proxy.json");
            await File.WriteAllTextAsync(config, """
                {"plugins": [
                  {"type": "drop", "match": {"port": 81}},
                  {"type": "drop", "match": {"labels": {"team": "untrusted"}}},
                  {"type": "direct"}
                ]}
                """);
            // ax proxy runs under ax itself: its direct connect to the VIP is resolved by ax to the endpoint (the
            // registered sidecar's own connects are never delegated back to it). It is launched with the sidecar role,
            // without which an application under ax may not register.
            using var proxy = ax.StartUnderAx(["--name", "ax-proxy", "--sidecar", "ax-proxy"],
                [AxEnvironment.AxPath, "proxy", "--api", ax.ApiSocket, "--config", config, "--directions", "outbound"]);
            await proxy.WaitForOutputAsync("registered with", TimeSpan.FromSeconds(30));

            var direct = await ax.RunUnderAxAsync(["--name", "axp-ok", "--labels", "team=web"],
                ["node", Path.Combine(Programs, "client.js"), "127.96.10.2", "80", "hi"]);
            var droppedByPort = await ax.RunUnderAxAsync(["--name", "axp-port", "--labels", "team=web"],
                ["python3", Path.Combine(Programs, "inbound_client.py"), "127.0.0.1", "127.96.10.2", "81", "no"]);
            var droppedByLabel = await ax.RunUnderAxAsync(["--name", "axp-label", "--labels", "team=untrusted"],
                ["python3", Path.Combine(Programs, "inbound_client.py"), "127.0.0.1", "127.96.10.2", "80", "no"]);

            Assert.True(direct.ExitCode == 0, $"{direct}\nproxy: {proxy.Output}");
            Assert.Equal("reply=up:hi peer=127.96.10.2:80", direct.Stdout.Trim());
            Assert.Contains(droppedByPort.Stdout.Trim(), new[] { "eof", "reset" });
            Assert.Contains(droppedByLabel.Stdout.Trim(), new[] { "eof", "reset" });
            var proxyCounters = await ax.AppCountersAsync("ax-proxy");
            Assert.Equal(1, proxyCounters.GetProperty("redirected").GetInt64());
            Assert.Equal(0, proxyCounters.GetProperty("delegated").GetInt64());
            proxy.Signal();
            await proxy.WaitForExitAsync(TimeSpan.FromSeconds(10));
            await WaitUntilAsync(async () => !(await SidecarsAsync()).Contains("ax-proxy", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task InboundChainPortWithAnL7Rule_DelegatedWithWhatThePeekSaw()
    {
        var port = AxEnvironment.FreePort();
        // An L7 rule on a chained port: ax peeks at the request, decides the RBAC, and hands the connection on with the
        // detected protocol and the authority in the metadata.
        await ax.ProgramInboundAsync("app=deleg-l7", port, """
            {"engines": [{"action": "allow", "policies": [{"name": "site", "permissions": [{"urlPath": {"path": {"prefix": "/"}}}], "principals": [{"any": true}]}]}]}
            """, mode: "chain");
        var root = Directory.CreateTempSubdirectory("ax-deleg-l7-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(root, "ok.txt"), "fine\n");
            using var server = ax.StartUnderAx(["--name", "deleg-l7", "--labels", "app=deleg-l7"],
                ["python3", "-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", root, port.ToString()]);
            await ax.WaitForServiceAsync(port, server);
            using var sidecar = StartSidecar(AxEnvironment.FreePort());
            await sidecar.WaitForOutputAsync("registered", TimeSpan.FromSeconds(20));

            var ok = await ExternalProcess.RunAsync("curl", ["-sS", "--max-time", "10", "-H", "Host: shop.example", $"http://127.0.0.1:{port}/ok.txt"], TimeSpan.FromSeconds(30));

            Assert.True(ok.ExitCode == 0, $"{ok}\nsidecar: {sidecar.Output}");
            Assert.Equal("fine\n", ok.Stdout);
            await sidecar.WaitForOutputAsync($"dst=127.0.0.1:{port} protocol=http/1.1 authority=shop.example", TimeSpan.FromSeconds(10));
            sidecar.Kill();
            await WaitUntilAsync(async () => !(await SidecarsAsync()).Contains("test-sidecar", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task AxProxyUnderAx_WithoutTheSidecarRole_Gets403AndRegistersNothing()
    {
        var result = await RunProxyUnderAxAsync(["--name", "axp-no-role"], "axp-no-role");

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("HTTP 403", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("runs under ax (application app-", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("which was not launched as a delegation sidecar", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("'ax run --sidecar axp-no-role'", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("axp-no-role", await SidecarsAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AxProxyUnderAx_WithTheRoleOfAnotherName_Gets403()
    {
        var result = await RunProxyUnderAxAsync(["--name", "axp-other", "--sidecar", "axp-granted"], "axp-impostor");

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("HTTP 403", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("was launched as sidecar \\\"axp-granted\\\" and may register only under that name, not as \\\"axp-impostor\\\"",
            result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("axp-", await SidecarsAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SidecarLaunch_ByAnotherUid_IsRefusedWithTheReason()
    {
        // uid 65534 may reach the launch socket only if its mode lets it: opened for this test, as a shared group would.
        var launchSocket = ax.ApiSocket + ".launch";
        var directory = Path.GetDirectoryName(launchSocket)!;
        var mode = File.GetUnixFileMode(launchSocket);
        var directoryMode = File.GetUnixFileMode(directory);
        File.SetUnixFileMode(directory, directoryMode | UnixFileMode.OtherExecute);
        File.SetUnixFileMode(launchSocket, mode | UnixFileMode.OtherRead | UnixFileMode.OtherWrite);
        try
        {
            var refused = await ExternalProcess.RunAsync("setpriv",
                ["--reuid=65534", "--regid=65534", "--clear-groups", AxEnvironment.AxPath, "run", "--sidecar", "axp-nobody", "--", "true"],
                TimeSpan.FromSeconds(30), environment: ax.Environment);
            // The same uid without the role is an ordinary application: its launch is not refused for the role.
            var plain = await ExternalProcess.RunAsync("setpriv",
                ["--reuid=65534", "--regid=65534", "--clear-groups", AxEnvironment.AxPath, "run", "--", "true"],
                TimeSpan.FromSeconds(30), environment: ax.Environment);

            Assert.True(refused.ExitCode == 125, refused.ToString());
            Assert.Contains("the ax daemon refused to start true: --sidecar axp-nobody refused: uid 65534 may not launch a delegation sidecar",
                refused.Stderr, StringComparison.Ordinal);
            Assert.Contains("which receives other applications' sockets; only root may", refused.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("--sidecar", plain.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.SetUnixFileMode(launchSocket, mode);
            File.SetUnixFileMode(directory, directoryMode);
        }
    }

    [Fact]
    public async Task SidecarLaunch_FromUnderAx_IsRefusedThoughRoot()
    {
        // A root application under ax must not make itself (or a child) a sidecar. `ax run` under ax cannot even start:
        // the kernel allows one listener per filter chain (EBUSY).
        var nested = await ax.RunUnderAxAsync(["--name", "axp-nester"], [AxEnvironment.AxPath, "run", "--sidecar", "axp-nested", "--", "true"]);
        // Speaking the launch protocol by hand, with some other fd: the launcher's own connect to the launch socket was
        // trapped, so the daemon knows it runs under ax, and refuses before it looks at the fd.
        var byHand = await ax.RunUnderAxAsync(["--name", "axp-by-hand"],
            ["python3", Path.Combine(Programs, "launch_request.py"), ax.ApiSocket + ".launch", "axp-by-hand"]);
        var invalid = await ax.AxAsync("run", "--sidecar", "bad/name", "--", "true");

        Assert.True(nested.ExitCode == 125, nested.ToString());
        Assert.Contains("ax: cannot install the seccomp filter", nested.Stderr, StringComparison.Ordinal);
        Assert.True(byHand.ExitCode == 0, byHand.ToString());
        using (var answer = JsonDocument.Parse(byHand.Stdout))
        {
            var error = answer.RootElement.GetProperty("error").GetString()!;
            Assert.StartsWith("--sidecar axp-by-hand refused: the launcher (pid ", error, StringComparison.Ordinal);
            Assert.Contains(") runs under ax (application app-", error, StringComparison.Ordinal);
            Assert.EndsWith("and an application under ax may not launch a delegation sidecar", error, StringComparison.Ordinal);
            Assert.False(answer.RootElement.TryGetProperty("appId", out _));
        }
        Assert.True(invalid.ExitCode == 2, invalid.ToString());
        Assert.Contains("invalid --sidecar \"bad/name\": a sidecar name is 1 to 63 letters, digits, '.', '_' or '-'", invalid.Stderr, StringComparison.Ordinal);
    }

    /// <summary>Runs <c>ax proxy --name <paramref name="name"/></c> under ax with <paramref name="runOptions"/>, to completion.</summary>
    private async Task<ProcessResult> RunProxyUnderAxAsync(string[] runOptions, string name)
    {
        var directory = Directory.CreateTempSubdirectory("ax-proxy-role-").FullName;
        try
        {
            var config = Path.Combine(directory, "proxy.json");
            await File.WriteAllTextAsync(config, """{"plugins": [{"type": "direct"}]}""");
            return await ax.RunUnderAxAsync(runOptions,
                [AxEnvironment.AxPath, "proxy", "--api", ax.ApiSocket, "--name", name, "--config", config, "--directions", "outbound"]);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary><c>ax get sidecars -o json</c>.</summary>
    private async Task<string> SidecarsAsync() => (await ax.AxAsync("get", "sidecars", "-o", "json")).Stdout;

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(50);
        }
    }
}
