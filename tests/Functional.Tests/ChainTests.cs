using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Functional.Tests.Harness;
using Istio.AppSwitch.ProxyProtocol;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Functional.Tests;

/// <summary>
/// A daemon that chains (docs/envoy-chaining.md): <c>--envoy</c> names a port that a test's proxy listens on, and
/// 127.0.0.6 (Istio's inbound passthrough source) is a trusted proxy.
/// </summary>
public sealed class ChainEnvironment : AxEnvironment
{
    /// <summary>Where chained connections go: the tests start HAProxy, or a listener of their own, there.</summary>
    public int EnvoyPort { get; } = FreePort();

    protected override IReadOnlyList<string> DaemonArguments => ["--envoy", $"127.0.0.1:{EnvoyPort}", "--trusted-proxy", "127.0.0.6/32"];
}

[CollectionDefinition(Name)]
public sealed class ChainCollection : ICollectionFixture<ChainEnvironment>
{
    public const string Name = "ax daemon with --envoy";
}

/// <summary>
/// Chaining with real peers: a chain service's connect goes to the proxy with a PROXY v2 header naming the original
/// destination, the proxy's own connect is not chained again, and a trusted proxy's header is taken off at accept so
/// that the server sees the original client. HAProxy (under ax, as the chained proxy) stands for Envoy.
/// </summary>
[Collection(ChainCollection.Name)]
public sealed class ChainTests(ChainEnvironment ax)
{
    private static readonly string Programs = Path.Combine(AppContext.BaseDirectory, "Programs");

    /// <summary>A chain service at <paramref name="vip"/> whose one cluster has one endpoint, 127.0.0.1:<paramref name="port"/>.</summary>
    private Task ChainServiceAsync(string name, string vip, int port, string dns) => ax.UpdateMeshAsync(new MeshUpdateRequest
    {
        Clusters = [new MeshClusterDto { Name = $"outbound|80||{name}", ConnectTimeout = "2s", Endpoints = [new MeshEndpointDto { Address = "127.0.0.1", Port = port }] }],
        Services =
        [
            new MeshServiceDto
            {
                Key = vip, Vip = vip, Mode = "chain", DnsNames = [dns], Reasons = ["header_mutation"],
                Clusters = [new MeshWeightedClusterDto { Name = $"outbound|80||{name}" }],
            },
        ],
    });

    private static string HaproxyConfig(int port) => Haproxy.Preamble + $"""

        frontend chained
            bind 127.0.0.1:{port} accept-proxy
            log-format "chained %ci:%cp -> %fi:%fp id=%[fc_pp_unique_id,hex]"
            default_backend original_destination
        backend original_destination
            # 0.0.0.0:0 connects to the destination the PROXY header named; from 127.0.0.6, with a header of its own,
            # as Envoy's inbound passthrough would.
            server s 0.0.0.0:0 send-proxy-v2 source 127.0.0.6

        """;

    [Fact]
    public async Task ChainService_ThroughHaproxyUnderAx_OriginalDestinationAndClientSurvive_AndTheProxyIsNotChainedAgain()
    {
        var serverPort = AxEnvironment.FreePort();
        await ChainServiceAsync("chain-srv", "127.96.9.1:80", serverPort, "chain-srv.default.svc.cluster.local");
        using var server = ax.StartUnderAx(["--name", "chain-srv", "--labels", "app=chain-srv"],
            ["python3", Path.Combine(Programs, "inbound_server.py"), "127.0.0.1", serverPort.ToString(), "srv"]);
        await server.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));

        var directory = Directory.CreateTempSubdirectory("ax-chain-haproxy-").FullName;
        try
        {
            var config = Path.Combine(directory, "haproxy.cfg");
            await File.WriteAllTextAsync(config, HaproxyConfig(ax.EnvoyPort));
            using var haproxy = ax.StartUnderAx(["--name", "chain-proxy", "--labels", "app=chain-proxy"], [Haproxy.Executable, "-db", "-f", config]);
            await ax.WaitForServiceAsync(ax.EnvoyPort, haproxy);

            var client = await ax.RunUnderAxAsync(["--name", "chain-client", "--labels", "app=chain-client"],
                ["python3", Path.Combine(Programs, "inbound_client.py"), "127.0.0.2", "127.96.9.1", "80", "hello"]);

            Assert.True(client.ExitCode == 0, client.ToString());
            var reply = client.Stdout.Trim();
            Assert.StartsWith("reply=srv:hello local=127.0.0.2:", reply, StringComparison.Ordinal);
            var clientPort = reply.Split(':')[^1];
            // HAProxy read ax's header: the client's own address, and the VIP it asked for.
            await haproxy.WaitForOutputAsync($"chained 127.0.0.2:{clientPort} -> 127.96.9.1:80 id=", TimeSpan.FromSeconds(10));
            // The server saw the client, not HAProxy's 127.0.0.6: ax took HAProxy's header off at accept.
            Assert.Contains($"accepted 127.0.0.2:{clientPort} getpeername=127.0.0.2:{clientPort}", server.Stdout, StringComparison.Ordinal);
            // HAProxy's own connect to the VIP went to the endpoint (fast), not back to itself.
            var proxy = await ax.AppCountersAsync("chain-proxy");
            Assert.Equal(0, proxy.GetProperty("chained").GetInt64());
            Assert.Equal(1, proxy.GetProperty("redirected").GetInt64());
            Assert.Equal(1, (await ax.AppCountersAsync("chain-srv")).GetProperty("acceptProxied").GetInt64());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task ChainService_HeaderCarriesOriginalDestinationLabelsIdentityDnsNameAndUniqueId()
    {
        // The test is Envoy here: it listens on the --envoy port and reads the header ax writes with ax's codec.
        using var envoy = new TcpListener(IPAddress.Loopback, ax.EnvoyPort);
        envoy.Start();
        await ChainServiceAsync("chain-tlv", "127.96.9.2:8080", AxEnvironment.FreePort(), "reviews.bookinfo.svc.cluster.local");

        var clientTask = ax.RunUnderAxAsync(
            ["--name", "chain-tlv-client", "--labels", "app=ratings,istio.io/namespace=bookinfo,istio.io/serviceaccount=ratings"],
            ["python3", Path.Combine(Programs, "inbound_client.py"), "127.0.0.3", "127.96.9.2", "8080", "ping"]);
        using var accepted = await envoy.AcceptSocketAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var header = await ProxyProtocolReader.ReadAsync(accepted, TimeSpan.FromSeconds(10));
        var line = new byte[5];
        var read = 0;
        while (read < line.Length)
        {
            read += await accepted.ReceiveAsync(line.AsMemory(read), SocketFlags.None);
        }
        accepted.Send("envoy:ping\n"u8);
        var client = await clientTask;

        Assert.True(client.ExitCode == 0, client.ToString());
        Assert.Equal(ProxyVersion.V2, header.Version);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("127.96.9.2"), 8080), header.Destination);
        Assert.Equal(IPAddress.Parse("127.0.0.3"), header.Source!.Address);
        Assert.Equal(((IPEndPoint)accepted.RemoteEndPoint!).Port, header.Source.Port);
        Assert.True(header.HasChecksum);
        Assert.Equal(16, header.UniqueId!.Value.Length);
        var tlvs = header.Tlvs.ToDictionary(t => t.Type);
        Assert.Equal("reviews.bookinfo.svc.cluster.local", System.Text.Encoding.UTF8.GetString(tlvs[ProxyTlvType.AxOriginalDestinationName].Value.Span));
        Assert.Equal("bookinfo/ratings", System.Text.Encoding.UTF8.GetString(tlvs[ProxyTlvType.AxIdentity].Value.Span));
        Assert.Contains("app=ratings", System.Text.Encoding.UTF8.GetString(tlvs[ProxyTlvType.AxLabels].Value.Span), StringComparison.Ordinal);
        // Nothing of the application's went before the header, and its first bytes follow it untouched.
        Assert.Equal("ping\n"u8.ToArray(), line);
        Assert.StartsWith("reply=envoy:ping local=127.0.0.3:", client.Stdout.Trim(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("python3", "inbound_server.py")]
    [InlineData("node", "inbound_server.js")]
    public async Task TrustedProxyHeader_TakenOffAtAccept_OthersLeftAlone(string runtime, string program)
    {
        var port = AxEnvironment.FreePort();
        var name = $"trust-{runtime}";
        using var server = ax.StartUnderAx(["--name", name, "--labels", $"app={name}"],
            [runtime, Path.Combine(Programs, program), "127.0.0.1", port.ToString(), "srv"]);
        await server.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));

        Task<ProcessResult> Send(string source, string kind, string message) => ExternalProcess.RunAsync("python3",
            [Path.Combine(Programs, "proxied_client.py"), source, "127.0.0.1", port.ToString(), message, kind], TimeSpan.FromSeconds(30));

        var proxied = await Send("127.0.0.6", "proxy", "via-proxy");
        var local = await Send("127.0.0.6", "local", "health");
        var plain = await Send("127.0.0.6", "none", "no-header");
        var garbage = await Send("127.0.0.6", "garbage", "bad");
        var untrusted = await Send("127.0.0.2", "proxy", "spoof");

        Assert.StartsWith("reply=srv:via-proxy local=127.0.0.6:", proxied.Stdout.Trim(), StringComparison.Ordinal);
        Assert.StartsWith("reply=srv:health local=127.0.0.6:", local.Stdout.Trim(), StringComparison.Ordinal);
        Assert.StartsWith("reply=srv:no-header local=127.0.0.6:", plain.Stdout.Trim(), StringComparison.Ordinal);
        Assert.Equal("reset", garbage.Stdout.Trim());
        // From an untrusted peer the header is the client's data: the server reads it (and answers its first line).
        Assert.DoesNotContain("reply=srv:spoof", untrusted.Stdout, StringComparison.Ordinal);

        await server.WaitForOutputAsync("accepted 10.1.2.3:4567", TimeSpan.FromSeconds(10));
        if (runtime == "python3")
        {
            Assert.Contains("accepted 10.1.2.3:4567 getpeername=10.1.2.3:4567", server.Stdout, StringComparison.Ordinal);
        }
        Assert.Contains("accepted 127.0.0.6:", server.Stdout, StringComparison.Ordinal); // the LOCAL and header-less ones
        Assert.Contains("accepted 127.0.0.2:", server.Stdout, StringComparison.Ordinal);
        var counters = await ax.AppCountersAsync(name);
        Assert.Equal(1, counters.GetProperty("acceptProxied").GetInt64());
    }

    [Fact]
    public async Task ChainedInboundPort_AdmitsWhatCameThroughTheTrustedProxy_DeniesTheRest()
    {
        var port = AxEnvironment.FreePort();
        using (var client = new AxApiClient(ax.ApiSocket))
        {
            // A port that needs Envoy (ext_authz): only connections Envoy has seen may reach the application.
            await client.UpdateMeshAsync(new MeshUpdateRequest
            {
                Inbound = [new MeshInboundPortDto { Key = $"authz:{port}", Selector = "app=chain-authz", Port = port, Mode = "chain", Reasons = ["ext_authz"] }],
            });
        }
        using var server = ax.StartUnderAx(["--name", "chain-authz", "--labels", "app=chain-authz"],
            ["python3", Path.Combine(Programs, "inbound_server.py"), "127.0.0.1", port.ToString(), "srv"]);
        await server.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));

        var viaProxy = await ExternalProcess.RunAsync("python3",
            [Path.Combine(Programs, "proxied_client.py"), "127.0.0.6", "127.0.0.1", port.ToString(), "checked", "proxy", "127.0.0.9", "5555"], TimeSpan.FromSeconds(30));
        var direct = await ExternalProcess.RunAsync("python3",
            [Path.Combine(Programs, "inbound_client.py"), "127.0.0.2", "127.0.0.1", port.ToString(), "unchecked"], TimeSpan.FromSeconds(30));

        Assert.StartsWith("reply=srv:checked local=127.0.0.6:", viaProxy.Stdout.Trim(), StringComparison.Ordinal);
        Assert.Equal("reset", direct.Stdout.Trim());
        Assert.Contains("accepted 127.0.0.9:5555 getpeername=127.0.0.9:5555", server.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("accepted 127.0.0.2", server.Stdout, StringComparison.Ordinal);
    }
}
