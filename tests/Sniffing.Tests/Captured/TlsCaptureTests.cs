using System.Globalization;
using Istio.AppSwitch.Sniffing.Tests.Tools;

namespace Istio.AppSwitch.Sniffing.Tests.Captured;

/// <summary>ClientHellos from curl and openssl s_client, captured by a listener that never answers the handshake.</summary>
public class TlsCaptureTests
{
    [Fact]
    public async Task Sniff_CurlHttpsClientHello_SniAndAlpn()
    {
        var bytes = await Capture.FromAsync("curl", port =>
            ["-sSk", "--max-time", "5", $"https://svc.example:{Port(port)}/", "--resolve", $"svc.example:{Port(port)}:127.0.0.1"]);

        var (status, result) = Prefixes.CheckConsistent(bytes);

        Assert.Equal(SniffStatus.Complete, status);
        Assert.Equal(SniffedProtocol.Tls, result.Protocol);
        Assert.Equal("tls", result.ProtocolToken);
        Assert.Equal("svc.example", result.Sni);
        Assert.Contains("h2", result.Alpn);
        Assert.Contains("http/1.1", result.Alpn);
        Assert.Equal(0x0303, result.TlsClientVersion);
        Assert.Equal(0x0304, result.TlsHighestVersion);
        Assert.Equal(0x03, result.TlsRecordVersion >> 8);
    }

    [Fact]
    public async Task Sniff_OpensslClientHello_SniAndAlpnInOrder()
    {
        var bytes = await Capture.FromAsync("openssl", port =>
            ["s_client", "-connect", $"127.0.0.1:{Port(port)}", "-servername", "DB.Example", "-alpn", "foo,bar"]);

        var (status, result) = Prefixes.CheckConsistent(bytes);

        Assert.Equal(SniffStatus.Complete, status);
        Assert.Equal(SniffedProtocol.Tls, result.Protocol);
        Assert.Equal("db.example", result.Sni);
        Assert.Equal(["foo", "bar"], result.Alpn.AsEnumerable());
    }

    [Fact]
    public async Task Sniff_OpensslTls12WithoutSni_TlsWithoutSni()
    {
        var bytes = await Capture.FromAsync("openssl", port =>
            ["s_client", "-connect", $"127.0.0.1:{Port(port)}", "-noservername", "-tls1_2"]);

        var (status, result) = Prefixes.CheckConsistent(bytes);

        Assert.Equal(SniffStatus.Complete, status);
        Assert.Equal(SniffedProtocol.Tls, result.Protocol);
        Assert.Null(result.Sni);
        Assert.Empty(result.Alpn);
        Assert.Equal(0x0303, result.TlsHighestVersion);
    }

    /// <summary>RFC 8446 section 5.1 lets a client spread its ClientHello over several records; the captured hello
    /// is cut into records of a few bytes each, as some clients and middleboxes do.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(100)]
    public async Task Sniff_CurlClientHelloSplitAcrossRecords_SameResult(int fragmentLength)
    {
        var bytes = await Capture.FromAsync("curl", port =>
            ["-sSk", "--max-time", "5", $"https://split.example:{Port(port)}/", "--resolve", $"split.example:{Port(port)}:127.0.0.1"]);
        ProtocolSniffer.Sniff(bytes, out var whole);

        var split = TlsRecords.Split(bytes, fragmentLength);
        var (status, result) = Prefixes.CheckConsistent(split);

        Assert.Equal(SniffStatus.Complete, status);
        Assert.Equal("split.example", result.Sni);
        Assert.Equal(whole.ToString(), result.ToString());
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
