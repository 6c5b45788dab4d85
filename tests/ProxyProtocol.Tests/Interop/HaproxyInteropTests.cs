using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Istio.AppSwitch.Tests.Common.Tls;
using Istio.AppSwitch.Tests.Common.Tools;
using Xunit.Abstractions;
using static Istio.AppSwitch.Tests.Common.Tools.Haproxy;

namespace Istio.AppSwitch.ProxyProtocol.Tests.Interop;

/// <summary>
/// ax's codec against HAProxy 2.6, both ways: HAProxy parses what ax writes (<c>accept-proxy</c>, read back from its
/// log), and ax parses what HAProxy writes (<c>send-proxy</c>, <c>send-proxy-v2</c> with TLVs). Everything listens and
/// connects on 127.0.0.1; the addresses inside the headers are loopback ones too.
/// </summary>
public class HaproxyInteropTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private const string LogFormat =
        "log-format \"AXLOG ci=%ci cp=%cp fi=%fi fp=%fp uid=%[fc_pp_unique_id] authority=%[fc_pp_authority] in=%U\"";

    public static TheoryData<string, string, string> HeaderEndPoints => new()
    {
        // source, destination, what HAProxy logs as the client address
        { "127.0.0.9", "127.0.0.10", "127.0.0.9" },
        { "::1", "::1", "::1" },
        { "127.0.0.9", "::1", "::ffff:127.0.0.9" },
    };

    [Theory]
    [MemberData(nameof(HeaderEndPoints))]
    public async Task WriteProxy_HaproxyAcceptProxy_LogsHeaderAndForwardsPayload(string source, string destination, string loggedClient)
    {
        using var echo = new LoopbackServer<byte[]>(Handlers.EchoAsync);
        var (haproxy, ports) = await StartAcceptProxyToAsync(echo.Port);
        using var _ = haproxy;
        var sourcePort = UniquePort();
        var uniqueId = $"ax-{Guid.NewGuid():N}";
        ProxyTlv[] tlvs =
        [
            ProxyTlv.UniqueId(uniqueId),
            ProxyTlv.Alpn("h2"),
            ProxyTlv.Authority("reviews.bookinfo.svc.cluster.local"),
            AxTlvs.Labels([new("app", "sleep"), new("version", "v1")]),
            AxTlvs.Identity(new AxIdentity("default", "sleep")),
            AxTlvs.OriginalDestinationName("reviews.bookinfo.svc.cluster.local"),
            AxTlvs.Protocol("http/1.1"),
            AxTlvs.PeekedBytes("GET / HTTP/1.1\r\n"u8.ToArray()),
        ];
        var header = new byte[512];
        var headerLength = ProxyV2Writer.WriteProxy(header, new IPEndPoint(IPAddress.Parse(source), sourcePort),
            new IPEndPoint(IPAddress.Parse(destination), 9080), ProxyTransport.Stream, tlvs, addCrc32c: true);
        var payload = Encoding.ASCII.GetBytes($"hello through haproxy {uniqueId}\n");

        var echoed = await ExchangeAsync(ports[0], [.. header.AsSpan(0, headerLength), .. payload], payload.Length);

        Assert.Equal(payload, echoed);
        Assert.Equal(payload, await echo.NextAsync(Timeout));
        var line = await haproxy.WaitForLogLineAsync($"uid={uniqueId}", Timeout);
        Assert.Equal($"AXLOG ci={loggedClient} cp={sourcePort} fi={Expected(destination, source)} fp=9080 uid={uniqueId} " +
            $"authority=reviews.bookinfo.svc.cluster.local in={payload.Length}", line);
    }

    [Fact]
    public async Task WriteProxyV1_HaproxyAcceptProxy_LogsHeader()
    {
        using var echo = new LoopbackServer<byte[]>(Handlers.EchoAsync);
        var (haproxy, ports) = await StartAcceptProxyToAsync(echo.Port);
        using var _ = haproxy;
        var sourcePort = UniquePort();
        var header = new byte[ProxyProtocolLimits.MaxV1HeaderLength];
        var headerLength = ProxyV1Writer.WriteProxy(header, new IPEndPoint(IPAddress.Parse("127.0.0.9"), sourcePort),
            new IPEndPoint(IPAddress.Parse("127.0.0.10"), 9080));
        var payload = "v1 payload\n"u8.ToArray();

        var echoed = await ExchangeAsync(ports[0], [.. header.AsSpan(0, headerLength), .. payload], payload.Length);

        Assert.Equal(payload, echoed);
        var line = await haproxy.WaitForLogLineAsync($"cp={sourcePort} ", Timeout);
        Assert.StartsWith($"AXLOG ci=127.0.0.9 cp={sourcePort} fi=127.0.0.10 fp=9080 uid=- authority=-", line);
    }

    [Fact]
    public async Task WriteProxy_BadChecksum_HaproxyRejects()
    {
        using var echo = new LoopbackServer<byte[]>(Handlers.EchoAsync);
        var (haproxy, ports) = await StartAcceptProxyToAsync(echo.Port);
        using var _ = haproxy;
        var sourcePort = UniquePort();
        var header = new byte[128];
        var headerLength = ProxyV2Writer.WriteProxy(header, new IPEndPoint(IPAddress.Parse("127.0.0.9"), sourcePort),
            new IPEndPoint(IPAddress.Parse("127.0.0.10"), 9080), ProxyTransport.Stream, [ProxyTlv.UniqueId("bad-crc")], addCrc32c: true);
        header[16 + 12 + 3] ^= 0x01; // the CRC32C value: first TLV after the 12 address bytes

        using var client = await ConnectAsync(ports[0]);
        await client.SendAsync((byte[])[.. header.AsSpan(0, headerLength), .. "payload"u8]);

        // HAProxy resets the connection; nothing reaches the backend.
        Assert.Equal(0, await ReceiveUntilClosedAsync(client));
        var line = await haproxy.WaitForLogLineAsync($"127.0.0.9:{sourcePort} ", Timeout);
        Assert.Contains("Received an invalid PROXY protocol header", line, StringComparison.Ordinal);
        Assert.Equal(0, echo.Connections);
    }

    [Fact]
    public async Task HaproxySendProxyV2_AxReader_ParsesAddressesChecksumUniqueIdAndSsl()
    {
        using var ax = new LoopbackServer<(ProxyHeader Header, byte[] Payload)>(Handlers.ReadHeaderThenEchoAsync);
        var (haproxy, ports) = await StartAsync(1, p => $"""
            frontend fe
                bind {Loopback(p[0])}
                unique-id-format "haproxy-%ci-%cp"
                default_backend ax
            backend ax
                server ax {Loopback(ax.Port)} send-proxy-v2 proxy-v2-options authority,unique-id,crc32c,ssl,cert-cn,ssl-cipher,cert-sig,cert-key
            """);
        using var _ = haproxy;
        var payload = "payload from a plain client\n"u8.ToArray();

        using var client = await ConnectAsync(ports[0], IPAddress.Parse("127.0.0.5"));
        var clientEndPoint = (IPEndPoint)client.LocalEndPoint!;
        Assert.Equal(payload, await ExchangeAsync(client, payload, payload.Length));
        client.Shutdown(SocketShutdown.Send);
        var (header, received) = await ax.NextAsync(Timeout);

        Assert.Equal(payload, received);
        Assert.Equal(ProxyVersion.V2, header.Version);
        Assert.Equal(ProxyCommand.Proxy, header.Command);
        Assert.Equal(ProxyAddressFamily.InterNetwork, header.Family);
        Assert.Equal(ProxyTransport.Stream, header.Transport);
        Assert.Equal(clientEndPoint, header.Source);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, ports[0]), header.Destination);
        Assert.True(header.HasChecksum);
        Assert.Equal(ProxyTlvType.Crc32c, header.Tlvs[0].Type);
        Assert.Equal($"haproxy-127.0.0.5-{clientEndPoint.Port}", header.UniqueIdText);
        Assert.Null(header.Authority); // no SNI and no authority came in
        Assert.NotNull(header.Ssl);
        Assert.Equal(ProxySslClientFlags.None, header.Ssl.Client);
    }

    [Fact]
    public async Task HaproxySendProxyV1_AxReader_ParsesAddresses()
    {
        using var ax = new LoopbackServer<(ProxyHeader Header, byte[] Payload)>(Handlers.ReadHeaderThenEchoAsync);
        var (haproxy, ports) = await StartAsync(1, p => $"""
            frontend fe
                bind {Loopback(p[0])}
                default_backend ax
            backend ax
                server ax {Loopback(ax.Port)} send-proxy
            """);
        using var _ = haproxy;
        var payload = "v1 from haproxy\n"u8.ToArray();

        using var client = await ConnectAsync(ports[0], IPAddress.Parse("127.0.0.6"));
        var clientEndPoint = (IPEndPoint)client.LocalEndPoint!;
        Assert.Equal(payload, await ExchangeAsync(client, payload, payload.Length));
        client.Shutdown(SocketShutdown.Send);
        var (header, received) = await ax.NextAsync(Timeout);

        Assert.Equal(payload, received);
        Assert.Equal(ProxyVersion.V1, header.Version);
        Assert.Equal(ProxyAddressFamily.InterNetwork, header.Family);
        Assert.Equal(clientEndPoint, header.Source);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, ports[0]), header.Destination);
    }

    [Fact]
    public async Task WriteProxy_ThroughHaproxy_AddressesAuthorityAndUniqueIdReachAxReader()
    {
        // ax writes, HAProxy parses and writes anew, ax reads: the header's endpoints become HAProxy's client and
        // frontend addresses, the authority is passed on as such, and the unique id by a unique-id-format of it.
        using var ax = new LoopbackServer<(ProxyHeader Header, byte[] Payload)>(Handlers.ReadHeaderThenEchoAsync);
        var (haproxy, ports) = await StartAsync(1, p => $"""
            frontend fe
                bind {Loopback(p[0])} accept-proxy
                unique-id-format "%[fc_pp_unique_id]"
                default_backend ax
            backend ax
                server ax {Loopback(ax.Port)} send-proxy-v2 proxy-v2-options authority,unique-id,crc32c
            """);
        using var _ = haproxy;
        var sourcePort = UniquePort();
        var uniqueId = $"ax-{Guid.NewGuid():N}";
        var header = new byte[256];
        var headerLength = ProxyV2Writer.WriteProxy(header, new IPEndPoint(IPAddress.Parse("127.0.0.9"), sourcePort),
            new IPEndPoint(IPAddress.Parse("127.0.0.10"), 9080), ProxyTransport.Stream,
            [ProxyTlv.Authority("ratings.bookinfo"), ProxyTlv.UniqueId(uniqueId), AxTlvs.Protocol("redis")], addCrc32c: true);
        var payload = "*1\r\n$4\r\nPING\r\n"u8.ToArray();

        Assert.Equal(payload, await ExchangeAsync(ports[0], [.. header.AsSpan(0, headerLength), .. payload], payload.Length));
        var (parsed, received) = await ax.NextAsync(Timeout);

        Assert.Equal(payload, received);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("127.0.0.9"), sourcePort), parsed.Source);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("127.0.0.10"), 9080), parsed.Destination);
        Assert.Equal("ratings.bookinfo", parsed.Authority);
        Assert.Equal(uniqueId, parsed.UniqueIdText);
        Assert.True(parsed.HasChecksum);
        // HAProxy 2.6 forwards only the TLVs it knows (set-proxy-v2-tlv-fmt, for custom ones, came in 2.9).
        Assert.Null(parsed.AxProtocol);
    }

    [Fact]
    public async Task HaproxyTlsFrontend_AxReader_ParsesSslTlv()
    {
        using var ca = TestCertificateAuthority.Create();
        using var serverCertificate = ca.IssueServerCertificate("reviews.bookinfo");
        using var clientCertificate = ca.IssueClientCertificate("ax-client.default");
        using var ax = new LoopbackServer<(ProxyHeader Header, byte[] Payload)>(Handlers.ReadHeaderThenEchoAsync);
        var files = Directory.CreateTempSubdirectory("ax-haproxy-tls-");
        try
        {
            var serverPem = Path.Combine(files.FullName, "server.pem");
            var caPem = Path.Combine(files.FullName, "ca.pem");
            await File.WriteAllTextAsync(serverPem, serverCertificate.ExportCertificatePem() + "\n" +
                serverCertificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem() + "\n");
            await File.WriteAllTextAsync(caPem, ca.ExportPem());
            var (haproxy, ports) = await StartAsync(1, p => $"""
                frontend fe
                    bind {Loopback(p[0])} ssl crt {serverPem} ca-file {caPem} verify optional
                    default_backend ax
                backend ax
                    server ax {Loopback(ax.Port)} send-proxy-v2 proxy-v2-options ssl,cert-cn,ssl-cipher,cert-sig,cert-key,authority,crc32c
                """);
            using var _ = haproxy;
            var payload = "over TLS\n"u8.ToArray();

            using (var client = await ConnectAsync(ports[0]))
            using (var tls = new SslStream(new NetworkStream(client), leaveInnerStreamOpen: false))
            {
                await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                {
                    TargetHost = "reviews.bookinfo",
                    ClientCertificates = [clientCertificate],
                    RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                        certificate is not null && TestCertificateAuthority.ChainsTo(new X509Certificate2(certificate), ca.Roots),
                });
                await tls.WriteAsync(payload);
                var echoed = new byte[payload.Length];
                await tls.ReadExactlyAsync(echoed).AsTask().WaitAsync(Timeout);
                Assert.Equal(payload, echoed);
            }
            var (header, received) = await ax.NextAsync(Timeout);

            Assert.Equal(payload, received);
            Assert.True(header.HasChecksum);
            Assert.Equal("reviews.bookinfo", header.Authority); // the SNI
            var ssl = header.Ssl;
            Assert.NotNull(ssl);
            output.WriteLine($"{header}; SSL client={ssl.Client} verify={ssl.Verify} version={ssl.Version} cipher={ssl.Cipher} " +
                $"cn={ssl.CommonName} sig={ssl.SignatureAlgorithm} key={ssl.KeyAlgorithm}");
            Assert.True(ssl.Client.HasFlag(ProxySslClientFlags.Ssl), $"client flags {ssl.Client}");
            Assert.True(ssl.Client.HasFlag(ProxySslClientFlags.CertificateInConnection), $"client flags {ssl.Client}");
            Assert.True(ssl.IsClientCertificateVerified, $"verify {ssl.Verify}");
            Assert.Equal("ax-client.default", ssl.CommonName);
            Assert.StartsWith("TLSv1.", ssl.Version, StringComparison.Ordinal);
            Assert.False(string.IsNullOrEmpty(ssl.Cipher));
            Assert.Contains("SHA256", ssl.SignatureAlgorithm, StringComparison.OrdinalIgnoreCase);
            Assert.Equal("EC256", ssl.KeyAlgorithm);
        }
        finally
        {
            files.Delete(recursive: true);
        }
    }

    /// <summary>The address HAProxy logs for the frontend: IPv4-mapped when the header mixed families.</summary>
    private static string Expected(string address, string other) =>
        IPAddress.Parse(address).AddressFamily == AddressFamily.InterNetwork && IPAddress.Parse(other).AddressFamily == AddressFamily.InterNetworkV6
            ? "::ffff:" + address
            : address;

    // Ports inside headers are only logged, never bound: random ones tell concurrent tests' log lines apart.
    private static int UniquePort() => Random.Shared.Next(20000, 60000);

    private static async Task<Socket> ConnectAsync(int port, IPAddress? bindTo = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (bindTo is not null)
        {
            socket.Bind(new IPEndPoint(bindTo, 0));
        }
        using var timeout = new CancellationTokenSource(Timeout);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), timeout.Token);
        return socket;
    }

    private static async Task<byte[]> ExchangeAsync(int port, byte[] send, int expect)
    {
        using var socket = await ConnectAsync(port);
        var echoed = await ExchangeAsync(socket, send, expect);
        socket.Shutdown(SocketShutdown.Send);
        Assert.Equal(0, await ReceiveUntilClosedAsync(socket));
        return echoed;
    }

    private static async Task<byte[]> ExchangeAsync(Socket socket, byte[] send, int expect)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await socket.SendAsync(send, timeout.Token);
        var received = new byte[expect];
        var filled = 0;
        while (filled < expect)
        {
            var read = await socket.ReceiveAsync(received.AsMemory(filled), timeout.Token);
            if (read == 0)
            {
                throw new InvalidOperationException($"The connection closed after {filled} of {expect} echoed bytes.");
            }
            filled += read;
        }

        return received;
    }

    /// <summary>Reads until the peer closes (or resets) and returns how many bytes came.</summary>
    private static async Task<int> ReceiveUntilClosedAsync(Socket socket)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var buffer = new byte[1024];
        var total = 0;
        try
        {
            int read;
            while ((read = await socket.ReceiveAsync(buffer, timeout.Token)) > 0)
            {
                total += read;
            }
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            // HAProxy closes a rejected connection with a reset.
        }

        return total;
    }

    /// <summary>HAProxy with one <c>accept-proxy</c> frontend that logs each header and forwards to <paramref name="echoPort"/>.</summary>
    private static Task<(Haproxy Haproxy, int[] Ports)> StartAcceptProxyToAsync(int echoPort) =>
        StartAsync(1, p => $"""
            frontend fe
                bind {Loopback(p[0])} accept-proxy
                {LogFormat}
                default_backend echo
            backend echo
                server echo {Loopback(echoPort)}
            """);
}
