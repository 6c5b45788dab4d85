using Istio.AppSwitch.Sniffing.Tests.Tools;

namespace Istio.AppSwitch.Sniffing.Tests.Unit;

/// <summary>ClientHellos built to reach each rule: limits, malformed extensions, records.</summary>
public class TlsSnifferTests
{
    // Record header, handshake header, then version, random, session id, two cipher suites and one compression method.
    private const int ExtensionsLengthAt = 5 + 4 + 2 + 32 + 33 + 6 + 2;

    [Fact]
    public void Sniff_HelloWithoutExtensions_TlsWithoutSniOrAlpn()
    {
        var status = ProtocolSniffer.Sniff(ClientHello.Record((IEnumerable<(ushort, byte[])>?)null), out var result);

        Assert.Equal(SniffStatus.Complete, status);
        Assert.Equal(SniffedProtocol.Tls, result.Protocol);
        Assert.Null(result.Sni);
        Assert.Empty(result.Alpn);
        Assert.Equal(0x0301, result.TlsRecordVersion);
        Assert.Equal(0x0303, result.TlsHighestVersion);
    }

    [Fact]
    public void Sniff_SupportedVersionsWithGrease_HighestRealVersion()
    {
        var hello = ClientHello.Record(ClientHello.SupportedVersions(0x7A7A, 0x0304, 0x0303));

        ProtocolSniffer.Sniff(hello, out var result);

        Assert.Equal(0x0303, result.TlsClientVersion);
        Assert.Equal(0x0304, result.TlsHighestVersion);
    }

    [Theory]
    [InlineData("a.b-c_d.example")]
    [InlineData("xn--bcher-kva.example")]
    public void Sniff_ValidHostName_SniLowerCased(string name)
    {
        ProtocolSniffer.Sniff(ClientHello.Record(ClientHello.ServerName(name.ToUpperInvariant())), out var result);

        Assert.Equal(name, result.Sni);
    }

    [Fact]
    public void Sniff_HostNameOf255Bytes_Kept()
    {
        var name = string.Join('.', Enumerable.Repeat(new string('a', 63), 4))[..255];

        ProtocolSniffer.Sniff(ClientHello.Record(ClientHello.ServerName(name)), out var result);

        Assert.Equal(name, result.Sni);
    }

    [Theory]
    [InlineData(256)]
    [InlineData(2000)]
    public void Sniff_HostNameOverLimit_TlsWithoutSni(int length)
    {
        var status = ProtocolSniffer.Sniff(ClientHello.Record(ClientHello.ServerName(new string('a', length))), out var result);

        Assert.Equal(SniffStatus.Complete, status);
        Assert.Equal(SniffedProtocol.Tls, result.Protocol);
        Assert.Null(result.Sni);
    }

    [Theory]
    [InlineData(new byte[] { (byte)'a', 0x00, (byte)'b' })]
    [InlineData(new byte[] { 0xC3, 0xA9, (byte)'.', (byte)'x' })]
    [InlineData(new byte[] { (byte)'a', (byte)' ', (byte)'b' })]
    [InlineData(new byte[] { (byte)'1', (byte)':', (byte)'2' })]
    public void Sniff_HostNameWithOtherBytes_TlsWithoutSni(byte[] name)
    {
        var status = ProtocolSniffer.Sniff(ClientHello.Record(ClientHello.ServerName(name), ClientHello.Alpn("h2")), out var result);

        Assert.Equal(SniffStatus.Complete, status);
        Assert.Null(result.Sni);
        Assert.Equal(["h2"], result.Alpn.AsEnumerable());
    }

    [Fact]
    public void Sniff_AlpnOverLimit_FirstProtocolsKept()
    {
        var names = Enumerable.Range(0, 40).Select(i => $"p{i}").ToArray();

        ProtocolSniffer.Sniff(ClientHello.Record(ClientHello.Alpn(names)), out var result);

        Assert.Equal(names.Take(SniffLimits.MaxAlpnProtocols), result.Alpn.AsEnumerable());
    }

    [Fact]
    public void Sniff_AlpnWithNonTextBytes_DecodedByteForByte()
    {
        ProtocolSniffer.Sniff(ClientHello.Record(ClientHello.Alpn("\u00ff\u0001x")), out var result);

        Assert.Equal("\u00ff\u0001x", Assert.Single(result.Alpn));
    }

    public static TheoryData<string, byte[]> Malformed => new()
    {
        { "duplicate server_name", ClientHello.Record(ClientHello.ServerName("a"), ClientHello.ServerName("b")) },
        { "duplicate alpn", ClientHello.Record(ClientHello.Alpn("h2"), ClientHello.Alpn("x")) },
        { "two host names", ClientHello.Record((0, [0, 8, 0, 0, 1, (byte)'a', 0, 0, 1, (byte)'b'])) },
        { "empty server name list", ClientHello.Record((0, [0, 0])) },
        { "empty server_name extension", ClientHello.Record((0, [])) },
        { "server name list longer than extension", ClientHello.Record((0, [0, 9, 0, 0, 1, (byte)'a'])) },
        { "empty host name", ClientHello.Record((0, [0, 3, 0, 0, 0])) },
        { "empty alpn name", ClientHello.Record((16, [0, 1, 0])) },
        { "alpn name past list", ClientHello.Record((16, [0, 2, 5, (byte)'h'])) },
        { "odd supported_versions", ClientHello.Record((43, [3, 3, 4, 3])) },
        { "not a ClientHello", Patch(ClientHello.Record(ClientHello.ServerName("a")), 5, 0x02) },
        { "record version 2.0", Patch(ClientHello.Record(), 1, 0x02) },
        { "record minor 5", Patch(ClientHello.Record(), 2, 0x05) },
        { "empty record", [0x16, 0x03, 0x01, 0x00, 0x00] },
        { "record over 2^14", [0x16, 0x03, 0x01, 0x40, 0x01, 0x01] },
        { "session id over 32", Patch(ClientHello.Record(), 5 + 4 + 34, 33) },
        { "extensions length short", Patch(ClientHello.Record(ClientHello.Alpn("h2")), ExtensionsLengthAt + 1, 4) },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Sniff_MalformedHello_Unrecognized(string what, byte[] record)
    {
        var status = ProtocolSniffer.Sniff(record, out var result);

        Assert.True(status == SniffStatus.Unrecognized, what);
        Assert.Equal(SniffedProtocol.Unknown, result.Protocol);
        Assert.Equal("", result.ProtocolToken);
    }

    [Fact]
    public void Sniff_ExtensionPastEndOfHello_Unrecognized()
    {
        var record = ClientHello.Record(ClientHello.ServerName("a.example"));
        // The low byte of the server_name extension's own length: one more than there is.
        record[ExtensionsLengthAt + 2 + 2 + 1]++;

        Assert.Equal(SniffStatus.Unrecognized, ProtocolSniffer.Sniff(record, out _));
    }

    [Fact]
    public void Sniff_HelloLongerThanLimit_CompleteTlsWithoutValues()
    {
        // A record that claims a ClientHello of 2^14 bytes: more than fits in a record with its header.
        byte[] data = [0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00, 0x40, 0x00];

        var status = ProtocolSniffer.Sniff(data, out var result);

        Assert.Equal(SniffStatus.Complete, status);
        Assert.Equal(SniffedProtocol.Tls, result.Protocol);
        Assert.Null(result.Sni);
    }

    [Theory]
    [InlineData(0, SniffedProtocol.Unknown)]
    [InlineData(1, SniffedProtocol.Unknown)]
    [InlineData(2, SniffedProtocol.Unknown)]
    [InlineData(3, SniffedProtocol.Tls)]
    [InlineData(5, SniffedProtocol.Tls)]
    [InlineData(40, SniffedProtocol.Tls)]
    public void Sniff_TruncatedHello_NeedMoreData(int length, SniffedProtocol protocol)
    {
        var hello = ClientHello.Record(ClientHello.ServerName("a.example"));

        var status = ProtocolSniffer.Sniff(hello.AsSpan(0, length), out var result);

        Assert.Equal(SniffStatus.NeedMoreData, status);
        Assert.Equal(protocol, result.Protocol);
    }

    [Fact]
    public void Sniff_OtherRecordTypeBetweenFragments_Unrecognized()
    {
        var split = TlsRecords.Split(ClientHello.Record(ClientHello.ServerName("a.example")), 50);
        split[55] = 0x17; // the second record's type: application data

        Assert.Equal(SniffStatus.Unrecognized, ProtocolSniffer.Sniff(split, out _));
    }

    [Fact]
    public void Sniff_ApplicationDataRecord_Unrecognized() =>
        Assert.Equal(SniffStatus.Unrecognized, ProtocolSniffer.Sniff([0x17, 0x03, 0x03, 0x00, 0x10], out _));

    [Fact]
    public void Sniff_SslV2CompatibleHello_Unrecognized() =>
        Assert.Equal(SniffStatus.Unrecognized, ProtocolSniffer.Sniff([0x80, 0x2E, 0x01, 0x03, 0x01], out _));

    private static byte[] Patch(byte[] bytes, int index, byte value)
    {
        bytes[index] = value;
        return bytes;
    }
}
