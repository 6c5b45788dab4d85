using System.Security.Cryptography.X509Certificates;
using Istio.AppSwitch.Grpc;
using Istio.AppSwitch.Grpc.Tests.Support;
using Istio.AppSwitch.Testing.V1;
using Istio.AppSwitch.Tests.Common.Grpc;
using Istio.AppSwitch.Tests.Common.Tls;

namespace Istio.AppSwitch.Grpc.Tests;

// In-process: TLS (ALPN h2) to the Kestrel test server on 127.0.0.1, with certificates from throwaway CAs.
public sealed class Http2GrpcChannelTlsTests : IDisposable
{
    private readonly TestCertificateAuthority _ca = TestCertificateAuthority.Create("ax test CA");
    private readonly TestCertificateAuthority _otherCa = TestCertificateAuthority.Create("some other CA");

    [Fact]
    public async Task UnaryAsync_ServerCertificateFromTrustedCa_Succeeds()
    {
        await using var server = await StartServerAsync(_ca.IssueServerCertificate("localhost", "127.0.0.1"));
        using var channel = new Http2GrpcChannel(new GrpcChannelOptions { Address = server.Address, TrustedCertificates = _ca.Roots });

        var response = await channel.UnaryAsync(EchoService.Echo, new EchoRequest { Message = "secure" }).Within();

        Assert.StartsWith("https://127.0.0.1:", server.Address.ToString(), StringComparison.Ordinal);
        Assert.Equal("secure", response.Message);
    }

    [Fact]
    public async Task UnaryAsync_TrustedCaFromPemFile_Succeeds()
    {
        await using var server = await StartServerAsync(_ca.IssueServerCertificate("localhost", "127.0.0.1"));
        var pemFile = Path.Combine(Path.GetTempPath(), $"ax-grpc-ca-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(pemFile, _ca.ExportPem());
        try
        {
            using var channel = new Http2GrpcChannel(new GrpcChannelOptions { Address = server.Address, TrustedCertificatesPemFile = pemFile });

            var response = await channel.UnaryAsync(EchoService.Echo, new EchoRequest { Message = "pem" }).Within();

            Assert.Equal("pem", response.Message);
        }
        finally
        {
            File.Delete(pemFile);
        }
    }

    [Fact]
    public async Task UnaryAsync_ServerCertificateFromOtherCa_Unavailable()
    {
        await using var server = await StartServerAsync(_otherCa.IssueServerCertificate("localhost", "127.0.0.1"));
        using var channel = new Http2GrpcChannel(new GrpcChannelOptions { Address = server.Address, TrustedCertificates = _ca.Roots });

        var error = await Assert.ThrowsAsync<GrpcException>(() => channel.UnaryAsync(EchoService.Echo, new EchoRequest())).Within();

        Assert.Equal(GrpcStatusCode.Unavailable, error.StatusCode);
        Assert.Contains("SSL", error.Status.Detail, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task UnaryAsync_ServerCertificateForOtherHost_Unavailable()
    {
        // Signed by the trusted CA, but for names the client did not dial.
        await using var server = await StartServerAsync(_ca.IssueServerCertificate("istiod.istio-system.svc"));
        using var channel = new Http2GrpcChannel(new GrpcChannelOptions { Address = server.Address, TrustedCertificates = _ca.Roots });

        var error = await Assert.ThrowsAsync<GrpcException>(() => channel.UnaryAsync(EchoService.Echo, new EchoRequest())).Within();

        Assert.Equal(GrpcStatusCode.Unavailable, error.StatusCode);
    }

    [Fact]
    public async Task UnaryAsync_ClientCertificateRequiredAndPresented_ServerSeesIt()
    {
        await using var server = await StartServerAsync(
            _ca.IssueServerCertificate("localhost", "127.0.0.1"),
            clientRoots: _ca.Roots,
            configure: s => s
                .MapUnary(EchoService.Echo, (_, context) =>
                    Task.FromResult(new EchoResponse { Message = context.ClientCertificate?.Subject ?? "none" }))
                .MapDuplexStreaming(EchoService.EchoStream, async (requests, responses, context) =>
                {
                    await foreach (var request in requests.ReadAllAsync(context.CancellationToken))
                    {
                        await responses.WriteAsync(new EchoResponse { Message = request.Message }, context.CancellationToken);
                    }
                }));
        using var clientCertificate = _ca.IssueClientCertificate("ax-agent");
        using var channel = new Http2GrpcChannel(new GrpcChannelOptions
        {
            Address = server.Address,
            TrustedCertificates = _ca.Roots,
            ClientCertificate = clientCertificate,
        });

        var response = await channel.UnaryAsync(EchoService.Echo, new EchoRequest()).Within();
        using var call = channel.StartDuplexStreaming(EchoService.EchoStream);
        await call.WriteAsync(new EchoRequest { Message = "over mTLS" }).Within();
        Assert.True(await call.MoveNext().Within());

        Assert.Equal("CN=ax-agent", response.Message);
        Assert.Equal("over mTLS", call.Current.Message);
    }

    [Fact]
    public async Task UnaryAsync_ClientCertificateRequiredButMissing_Unavailable()
    {
        await using var server = await StartServerAsync(_ca.IssueServerCertificate("localhost", "127.0.0.1"), clientRoots: _ca.Roots);
        using var channel = new Http2GrpcChannel(new GrpcChannelOptions { Address = server.Address, TrustedCertificates = _ca.Roots });

        var error = await Assert.ThrowsAsync<GrpcException>(() => channel.UnaryAsync(EchoService.Echo, new EchoRequest())).Within();

        Assert.Equal(GrpcStatusCode.Unavailable, error.StatusCode);
    }

    [Fact]
    public async Task UnaryAsync_ClientCertificateFromOtherCa_Unavailable()
    {
        await using var server = await StartServerAsync(_ca.IssueServerCertificate("localhost", "127.0.0.1"), clientRoots: _ca.Roots);
        using var clientCertificate = _otherCa.IssueClientCertificate();
        using var channel = new Http2GrpcChannel(new GrpcChannelOptions
        {
            Address = server.Address,
            TrustedCertificates = _ca.Roots,
            ClientCertificate = clientCertificate,
        });

        var error = await Assert.ThrowsAsync<GrpcException>(() => channel.UnaryAsync(EchoService.Echo, new EchoRequest())).Within();

        Assert.Equal(GrpcStatusCode.Unavailable, error.StatusCode);
    }

    public void Dispose()
    {
        _ca.Dispose();
        _otherCa.Dispose();
    }

    private static Task<GrpcTestServer> StartServerAsync(
        X509Certificate2 certificate,
        X509Certificate2Collection? clientRoots = null,
        Action<GrpcHandlerRegistry>? configure = null) =>
        GrpcTestServer.StartAsync(
            configure ?? (s => s.MapEchoService()),
            new GrpcTestServerOptions { ServerCertificate = certificate, ClientCertificateRoots = clientRoots });
}
