using System.Net;
using Istio.AppSwitch.Delegation;
using Istio.AppSwitch.Proxy.Configuration;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Proxy.Tests.Proxy;

public sealed class ProxyConfigReaderTests
{
    [Fact]
    public void Parse_TheDocumentedExample_ThreePluginsWithTheirMatches()
    {
        var config = ProxyConfigReader.Parse("""
            { "plugins": [
                { "type": "drop", "match": { "port": 6379 } },
                { "type": "forward-proxy", "address": "127.0.0.1:15001", "match": { "protocol": "http/1.1", "direction": "outbound" } },
                { "type": "direct" }
            ] }
            """);

        Assert.Equal(["drop", "forward-proxy", "direct"], config.Plugins.Select(p => p.Type));
        Assert.Equal([6379], config.Plugins[0].Match!.Ports);
        Assert.Equal(IPEndPoint.Parse("127.0.0.1:15001"), config.Plugins[1].Address);
        Assert.Equal(DelegationKind.Outbound, config.Plugins[1].Match!.Direction);
        Assert.Null(config.Plugins[2].Match);
    }

    [Fact]
    public void Parse_SeveralMistakes_EveryOneReportedWithItsField()
    {
        var error = Assert.Throws<ProxyConfigException>(() => ProxyConfigReader.Parse("""
            { "plugins": [
                { "type": "drop", "match": { "port": 70000, "destination": "not-a-cidr", "colour": "red" } },
                { "type": "forward-proxy", "address": "nowhere" },
                { "type": "teleport" },
                { "type": "forward-delegation" },
                { "type": "direct", "connectTimeoutMs": 0 }
            ] }
            """));

        Assert.Contains(error.Errors, e => e.StartsWith("plugins[0].match.port: ", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.StartsWith("plugins[0].match.destination: ", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.StartsWith("plugins[0].match.colour: unknown condition", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.StartsWith("plugins[1].address: ", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.StartsWith("plugins[2].type: unknown plugin \"teleport\"", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.StartsWith("plugins[3].path: ", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.StartsWith("plugins[4].connectTimeoutMs: ", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_PluginAfterACatchAll_Unreachable()
    {
        var error = Assert.Throws<ProxyConfigException>(() => ProxyConfigReader.Parse("""{ "plugins": [ { "type": "direct" }, { "type": "drop" } ] }"""));

        Assert.Equal("plugins[1]: unreachable: plugins[0] (direct) handles every connection (give it a \"match\")", Assert.Single(error.Errors));
    }

    [Fact]
    public async Task AxProxy_BadConfiguration_ExitCode2AndTheFieldOnStderr()
    {
        var directory = TestSupport.NewDirectory();
        var config = Path.Combine(directory, "proxy.json");
        await File.WriteAllTextAsync(config, """{ "plugins": [ { "type": "forward-proxy", "address": "127.0.0.1" } ] }""");

        var result = await ExternalProcess.RunAsync(Path.Combine(AppContext.BaseDirectory, "ax"),
            ["proxy", "--config", config, "--api", Path.Combine(directory, "none.sock")], TestSupport.Timeout);
        Directory.Delete(directory, recursive: true);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("ax proxy: plugins[0].address: required", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AxProxy_RegisteredWithADaemon_DelegatedConnectionGoesDirectToItsDestination()
    {
        using var server = await EchoAfterEofServer.StartAsync();
        await using var daemon = await TestDaemon.StartAsync();
        var config = Path.Combine(daemon.Directory, "proxy.json");
        await File.WriteAllTextAsync(config, """{ "plugins": [ { "type": "drop", "match": { "port": 6379 } }, { "type": "direct" } ] }""");
        using var proxy = ExternalProcess.Start(Path.Combine(AppContext.BaseDirectory, "ax"),
            ["proxy", "--config", config, "--api", daemon.SocketPath, "--name", "e2e", "--directions", "outbound"]);
        await daemon.WaitForSidecarAsync();
        var (application, peer) = TestSupport.Pair();

        using (peer)
        {
            Assert.Equal(Dataplane.Delegation.DelegationResult.Sent,
                daemon.Hub.TryDelegate(DelegationKind.Outbound, TestSupport.Header("10.0.0.9:45000", $"127.0.0.1:{server.Port}"), peer, null));
        }
        using var app = TestSupport.ToSocket(application);
        await app.SendAsync("via ax proxy"u8.ToArray());
        app.Shutdown(System.Net.Sockets.SocketShutdown.Send);

        Assert.Equal("got 12 from 127.0.0.1\nvia ax proxy", System.Text.Encoding.ASCII.GetString(await TestSupport.ReadToEndAsync(app)));
        Assert.Equal("e2e", Assert.Single(daemon.Hub.Sidecars).Name);
        var listed = await ExternalProcess.RunAsync(Path.Combine(AppContext.BaseDirectory, "ax"), ["get", "sidecars", "--api", daemon.SocketPath], TestSupport.Timeout);
        Assert.Equal(0, listed.ExitCode);
        Assert.Matches(@"e2e\s+outbound\s+1\s", listed.Stdout);
    }
}
