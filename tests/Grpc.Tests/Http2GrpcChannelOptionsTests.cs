using System.Security.Cryptography.X509Certificates;
using Istio.AppSwitch.Grpc;

namespace Istio.AppSwitch.Grpc.Tests;

public class Http2GrpcChannelOptionsTests
{
    [Theory]
    [InlineData("ftp://127.0.0.1:21")]
    [InlineData("dns:///istiod:15012")]
    public void Constructor_UnsupportedScheme_Throws(string address) =>
        Assert.Throws<ArgumentException>(() => new Http2GrpcChannel(new GrpcChannelOptions { Address = new Uri(address) }));

    [Fact]
    public void Constructor_TlsOptionsWithPlaintextAddress_Throws() =>
        Assert.Throws<ArgumentException>(() => new Http2GrpcChannel(new GrpcChannelOptions
        {
            Address = new Uri("http://127.0.0.1:15010"),
            TrustedCertificates = [],
        }));

    [Fact]
    public void Constructor_BothTrustSources_Throws() =>
        Assert.Throws<ArgumentException>(() => new Http2GrpcChannel(new GrpcChannelOptions
        {
            Address = new Uri("https://127.0.0.1:15012"),
            TrustedCertificates = new X509Certificate2Collection(),
            TrustedCertificatesPemFile = "/nonexistent.pem",
        }));

    [Fact]
    public void Constructor_NonPositiveMaxReceiveMessageSize_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new Http2GrpcChannel(new GrpcChannelOptions
        {
            Address = new Uri("http://127.0.0.1:15010"),
            MaxReceiveMessageSize = 0,
        }));

    [Fact]
    public void Constructor_ValidAddresses_DoesNotConnect()
    {
        using var h2c = new Http2GrpcChannel(new GrpcChannelOptions { Address = new Uri("http://127.0.0.1:1") });
        using var tls = new Http2GrpcChannel(new GrpcChannelOptions { Address = new Uri("https://localhost:1") });
        using var uds = new Http2GrpcChannel(new GrpcChannelOptions { Address = new Uri("unix:///run/ax/agent.sock") });

        Assert.Equal("unix:///run/ax/agent.sock", uds.Options.Address.ToString());
    }
}
