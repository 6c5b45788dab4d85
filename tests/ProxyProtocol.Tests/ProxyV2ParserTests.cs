using System.Net;
using static Istio.AppSwitch.ProxyProtocol.Tests.Vectors;

namespace Istio.AppSwitch.ProxyProtocol.Tests;

public class ProxyV2ParserTests
{
    [Fact]
    public void Parse_TcpOverIPv4_ReadsAddressesAndPorts()
    {
        byte[] data = [.. V2(0x21, 0x11, Inet4Block), .. "GET /"u8];

        var header = ProxyProtocolParser.Parse(data);

        Assert.Equal(ProxyVersion.V2, header.Version);
        Assert.Equal(ProxyCommand.Proxy, header.Command);
        Assert.Equal(ProxyAddressFamily.InterNetwork, header.Family);
        Assert.Equal(ProxyTransport.Stream, header.Transport);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("127.0.0.1"), 56324), header.Source);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 443), header.Destination);
        Assert.Equal(28, header.Length);
        Assert.Empty(header.Tlvs);
        Assert.False(header.HasChecksum);
    }

    [Fact]
    public void Parse_ProxyProtocolJsReadmeExample_IsLocalDatagram()
    {
        // The example of proxy-protocol-js's README: LOCAL, UDP over IPv4, 127.0.0.1:12345 -> 192.0.2.1:54321.
        byte[] data = [13, 10, 13, 10, 0, 13, 10, 81, 85, 73, 84, 10, 32, 18, 0, 12, 127, 0, 0, 1, 192, 0, 2, 1, 48, 57, 212, 49];

        var header = ProxyProtocolParser.Parse(data);

        Assert.True(header.IsLocal);
        Assert.Equal(ProxyAddressFamily.InterNetwork, header.Family);
        Assert.Equal(ProxyTransport.Datagram, header.Transport);
        Assert.Null(header.Source); // LOCAL: "discard the protocol block"
        Assert.Equal(28, header.Length);
    }

    [Fact]
    public void Parse_UdpOverIPv6_ReadsAddresses()
    {
        var data = V2(0x21, 0x22, "00000000000000000000000000000001 20010DB8000000000000000000000002 1F90 0035");

        var header = ProxyProtocolParser.Parse(data);

        Assert.Equal(ProxyAddressFamily.InterNetworkV6, header.Family);
        Assert.Equal(ProxyTransport.Datagram, header.Transport);
        Assert.Equal(new IPEndPoint(IPAddress.IPv6Loopback, 8080), header.Source);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8::2"), 53), header.Destination);
    }

    [Theory]
    [InlineData(0x31, ProxyTransport.Stream)]
    [InlineData(0x32, ProxyTransport.Datagram)]
    public void Parse_Unix_ReadsPathsUpToNul(byte family, ProxyTransport transport)
    {
        var source = new byte[108];
        var destination = new byte[108];
        "/run/client.sock"u8.CopyTo(source);
        "/run/server.sock"u8.CopyTo(destination);
        var data = V2(0x21, family, Convert.ToHexString([.. source, .. destination]));

        var header = ProxyProtocolParser.Parse(data);

        Assert.Equal(ProxyAddressFamily.Unix, header.Family);
        Assert.Equal(transport, header.Transport);
        Assert.Equal("/run/client.sock", header.SourceUnixPath);
        Assert.Equal("/run/server.sock", header.DestinationUnixPath);
        Assert.Equal(108, header.SourceUnixAddress.Length);
        Assert.Null(header.Source);
    }

    [Fact]
    public void Parse_LocalWithZeroLength_Accepted()
    {
        var header = ProxyProtocolParser.Parse(Bytes("0D0A0D0A000D0A515549540A 20 00 0000"));

        Assert.True(header.IsLocal);
        Assert.Equal(16, header.Length);
    }

    [Fact]
    public void Parse_LocalWithFamilyButNoAddress_Accepted()
    {
        // "Receivers ... must not assume zero is presented for LOCAL connections", and the converse: a LOCAL sender
        // may name a family and still send no address.
        var header = ProxyProtocolParser.Parse(V2(0x20, 0x11, ""));

        Assert.True(header.IsLocal);
        Assert.Equal(ProxyAddressFamily.InterNetwork, header.Family);
    }

    [Fact]
    public void Parse_LocalWithTlvs_ReadsTlvs()
    {
        var header = ProxyProtocolParser.Parse(V2(0x20, 0x00, TextTlv(0x05, "health-check")));

        Assert.True(header.IsLocal);
        Assert.Equal("health-check", header.UniqueIdText);
    }

    [Fact]
    public void Parse_ProxyUnspecified_HasNoAddressesAndReadsTlvs()
    {
        var header = ProxyProtocolParser.Parse(V2(0x21, 0x00, TextTlv(0x02, "example.com")));

        Assert.Equal(ProxyAddressFamily.Unspecified, header.Family);
        Assert.Null(header.Source);
        Assert.Equal("example.com", header.Authority);
    }

    [Fact]
    public void Parse_HaproxyCapture_ReadsEveryTlvAndVerifiesChecksum()
    {
        var header = ProxyProtocolParser.Parse(Bytes(HaproxyCapture));

        Assert.Equal(101, header.Length);
        Assert.True(header.HasChecksum);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("127.0.0.9"), 1234), header.Source);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("127.0.0.10"), 80), header.Destination);
        Assert.Equal("example.com", header.Authority);
        Assert.Equal("7F000009:04D2_7F00000A:0050_6B027489_0000", header.UniqueIdText);
        Assert.NotNull(header.Ssl);
        Assert.Equal(ProxySslClientFlags.None, header.Ssl.Client);
        Assert.Equal(0u, header.Ssl.Verify);
        Assert.False(header.Ssl.IsClientCertificateVerified);
        Assert.Equal([ProxyTlvType.Crc32c, ProxyTlvType.Authority, ProxyTlvType.UniqueId, ProxyTlvType.Ssl], header.Tlvs.Select(t => t.Type));
    }

    [Fact]
    public void Parse_StandardTlvs_TypedAccessors()
    {
        var ssl = Tlv(0x20, "07 00000000" + TextTlv(0x21, "TLSv1.3") + TextTlv(0x22, "client.example") + TextTlv(0x23, "TLS_AES_128_GCM_SHA256")
            + TextTlv(0x24, "RSA-SHA256") + TextTlv(0x25, "RSA2048"));
        var data = V2(0x21, 0x11, Inet4Block + TextTlv(0x01, "h2") + Tlv(0x04, "000000") + TextTlv(0x30, "blue") + ssl + Tlv(0x99, "CAFE"));

        var header = ProxyProtocolParser.Parse(data);

        Assert.Equal("h2", header.Alpn);
        Assert.Equal("blue", header.Netns);
        Assert.NotNull(header.Find(ProxyTlvType.Noop));
        Assert.Equal(Bytes("CAFE"), header.Find((ProxyTlvType)0x99)!.Value.Value.ToArray());
        var info = header.Ssl!;
        Assert.Equal(ProxySslClientFlags.Ssl | ProxySslClientFlags.CertificateInConnection | ProxySslClientFlags.CertificateInSession, info.Client);
        Assert.True(info.IsClientCertificateVerified);
        Assert.Equal("TLSv1.3", info.Version);
        Assert.Equal("client.example", info.CommonName);
        Assert.Equal("TLS_AES_128_GCM_SHA256", info.Cipher);
        Assert.Equal("RSA-SHA256", info.SignatureAlgorithm);
        Assert.Equal("RSA2048", info.KeyAlgorithm);
        Assert.Equal(5, info.SubTlvs.Count);
    }

    [Fact]
    public void Parse_AxTlvs_Decoded()
    {
        var data = V2(0x21, 0x11, Inet4Block
            + TextTlv(0xE0, "app=reviews,version=v2,app.kubernetes.io/part-of=bookinfo")
            + TextTlv(0xE1, "bookinfo/bookinfo-reviews")
            + TextTlv(0xE2, "ratings.bookinfo.svc.cluster.local")
            + TextTlv(0xE3, "http/1.1")
            + Tlv(0xE4, "474554202F"));

        var header = ProxyProtocolParser.Parse(data);

        Assert.Equal(
            [new("app", "reviews"), new("version", "v2"), new("app.kubernetes.io/part-of", "bookinfo")],
            header.AxLabels!);
        Assert.Equal(new AxIdentity("bookinfo", "bookinfo-reviews"), header.AxIdentity);
        Assert.Equal("ratings.bookinfo.svc.cluster.local", header.AxOriginalDestinationName);
        Assert.Equal("http/1.1", header.AxProtocol);
        Assert.Equal("GET /"u8.ToArray(), header.AxPeekedBytes!.Value.ToArray());
    }

    [Fact]
    public void Parse_EmptyAxLabels_IsEmptyList()
    {
        var header = ProxyProtocolParser.Parse(V2(0x21, 0x11, Inet4Block + Tlv(0xE0, "")));

        Assert.NotNull(header.AxLabels);
        Assert.Empty(header.AxLabels);
    }

    [Fact]
    public void Parse_UnusedCustomType_KeptRaw()
    {
        var header = ProxyProtocolParser.Parse(V2(0x21, 0x11, Inet4Block + Tlv(0xEF, "0102")));

        Assert.Equal(Bytes("0102"), header.Find((ProxyTlvType)0xEF)!.Value.Value.ToArray());
    }

    [Fact]
    public void Parse_AddressBlockLongerThanFamily_RestIsTlvs()
    {
        var header = ProxyProtocolParser.Parse(V2(0x21, 0x11, Inet4Block + Tlv(0x04, "")));

        Assert.Single(header.Tlvs);
    }

    [Fact]
    public void Parse_PayloadAfterHeader_NotConsumed()
    {
        byte[] data = [.. V2(0x21, 0x11, Inet4Block), 0x0D, 0x0A, 0x0D, 0x0A];

        Assert.Equal(ProxyParseStatus.Success, ProxyProtocolParser.TryParse(data, out var header, out var consumed, out _));
        Assert.Equal(28, consumed);
        Assert.Equal(28, header!.Length);
    }

    public static TheoryData<string, ProxyProtocolErrorKind> InvalidHeaders => new()
    {
        { "0D0A0D0A000D0A515549540B 21 11 000C" + Inet4Block, ProxyProtocolErrorKind.InvalidSignature },
        { "0D0A0D0A000D0A515549540A 11 11 000C" + Inet4Block, ProxyProtocolErrorKind.UnsupportedVersion },
        { "0D0A0D0A000D0A515549540A 31 11 000C" + Inet4Block, ProxyProtocolErrorKind.UnsupportedVersion },
        { "0D0A0D0A000D0A515549540A 22 11 000C" + Inet4Block, ProxyProtocolErrorKind.InvalidCommand },
        { "0D0A0D0A000D0A515549540A 2F 11 000C" + Inet4Block, ProxyProtocolErrorKind.InvalidCommand },
        { "0D0A0D0A000D0A515549540A 21 41 000C" + Inet4Block, ProxyProtocolErrorKind.InvalidAddressFamily },
        { "0D0A0D0A000D0A515549540A 21 13 000C" + Inet4Block, ProxyProtocolErrorKind.InvalidAddressFamily },
        { "0D0A0D0A000D0A515549540A 21 10 000C" + Inet4Block, ProxyProtocolErrorKind.InvalidAddressFamily },
        { "0D0A0D0A000D0A515549540A 21 01 0000", ProxyProtocolErrorKind.InvalidAddressFamily },
        { "0D0A0D0A000D0A515549540A 21 11 000B 7F0000017F000002DC0401", ProxyProtocolErrorKind.AddressLengthMismatch },
        { "0D0A0D0A000D0A515549540A 21 21 000C" + Inet4Block, ProxyProtocolErrorKind.AddressLengthMismatch },
        { "0D0A0D0A000D0A515549540A 21 31 0000", ProxyProtocolErrorKind.AddressLengthMismatch },
        { "0D0A0D0A000D0A515549540A 20 11 0004 00000000", ProxyProtocolErrorKind.AddressLengthMismatch },
        { "0D0A0D0A000D0A515549540A 21 11 000E" + Inet4Block + "0400", ProxyProtocolErrorKind.InvalidTlv },
        { "0D0A0D0A000D0A515549540A 21 11 0010" + Inet4Block + "04000200", ProxyProtocolErrorKind.InvalidTlv },
        { "0D0A0D0A000D0A515549540A 21 11 000F" + Inet4Block + "040001", ProxyProtocolErrorKind.InvalidTlv },
        { "4745542F", ProxyProtocolErrorKind.InvalidSignature },
        { "16030100", ProxyProtocolErrorKind.InvalidSignature },
    };

    [Theory]
    [MemberData(nameof(InvalidHeaders))]
    public void TryParse_InvalidHeader_ReportsKind(string hex, ProxyProtocolErrorKind kind)
    {
        var status = ProxyProtocolParser.TryParse(Bytes(hex), out var header, out var consumed, out var error);

        Assert.Equal(ProxyParseStatus.Invalid, status);
        Assert.Equal(kind, error.Kind);
        Assert.False(string.IsNullOrEmpty(error.Message));
        Assert.Null(header);
        Assert.Equal(0, consumed);
        var exception = Assert.Throws<ProxyProtocolException>(() => ProxyProtocolParser.Parse(Bytes(hex)));
        Assert.Equal(kind, exception.Kind);
        Assert.Equal(error.Message, exception.Message);
    }

    [Fact]
    public void TryParse_BadVersionInFirst13Bytes_RejectedBeforeTheRest()
    {
        Assert.Equal(ProxyParseStatus.Invalid, ProxyProtocolParser.TryParse(Bytes("0D0A0D0A000D0A515549540A 11"), out _, out _, out var error));
        Assert.Equal(ProxyProtocolErrorKind.UnsupportedVersion, error.Kind);
    }

    [Fact]
    public void TryParse_LengthOverLimit_RejectedFromThePrefixAlone()
    {
        var status = ProxyProtocolParser.TryParse(Bytes("0D0A0D0A000D0A515549540A 21 11 1000"), out _, out _, out var error);

        Assert.Equal(ProxyParseStatus.Invalid, status);
        Assert.Equal(ProxyProtocolErrorKind.HeaderTooLong, error.Kind);
    }

    [Fact]
    public void TryParse_ConfiguredMaxHeaderLength_Applies()
    {
        var data = V2(0x21, 0x11, Inet4Block + Tlv(0x04, new string('0', 2 * 300)));
        var limits = new ProxyProtocolLimits { MaxHeaderLength = 300 };

        Assert.Equal(ProxyParseStatus.Invalid, ProxyProtocolParser.TryParse(data, limits, out _, out _, out var error));
        Assert.Equal(ProxyProtocolErrorKind.HeaderTooLong, error.Kind);
        Assert.Equal(ProxyParseStatus.Success, ProxyProtocolParser.TryParse(data, new ProxyProtocolLimits { MaxHeaderLength = data.Length }, out _, out _, out _));
    }

    [Fact]
    public void TryParse_LargestHeaderAllowed_Parses()
    {
        var limits = new ProxyProtocolLimits { MaxHeaderLength = ProxyProtocolLimits.MaxV2HeaderLengthPossible };
        var data = V2(0x21, 0x11, Inet4Block + Tlv(0x04, new string('0', 2 * (65535 - 12 - 3))));

        Assert.Equal(ProxyParseStatus.Success, ProxyProtocolParser.TryParse(data, limits, out var header, out _, out _));
        Assert.Equal(65551, header!.Length);
    }

    [Theory]
    [InlineData(100)]
    [InlineData(65552)]
    [InlineData(0)]
    public void Limits_MaxHeaderLengthOutOfRange_Throws(int value) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new ProxyProtocolLimits { MaxHeaderLength = value });

    [Fact]
    public void TryParse_TooManyTlvs_Rejected()
    {
        var tlvs = string.Concat(Enumerable.Repeat(Tlv(0x04, ""), 5));
        var limits = new ProxyProtocolLimits { MaxTlvCount = 4 };

        Assert.Equal(ProxyParseStatus.Invalid, ProxyProtocolParser.TryParse(V2(0x21, 0x11, Inet4Block + tlvs), limits, out _, out _, out var error));
        Assert.Equal(ProxyProtocolErrorKind.TooManyTlvs, error.Kind);
        Assert.Equal(ProxyParseStatus.Success, ProxyProtocolParser.TryParse(V2(0x21, 0x11, Inet4Block + tlvs), new ProxyProtocolLimits { MaxTlvCount = 5 }, out _, out _, out _));
    }

    [Fact]
    public void TryParse_SslSubTlvsCountTowardsLimit()
    {
        var ssl = Tlv(0x20, "01 00000000" + TextTlv(0x21, "TLSv1.2") + TextTlv(0x23, "AES"));
        var limits = new ProxyProtocolLimits { MaxTlvCount = 2 };

        Assert.Equal(ProxyParseStatus.Invalid, ProxyProtocolParser.TryParse(V2(0x21, 0x11, Inet4Block + ssl), limits, out _, out _, out var error));
        Assert.Equal(ProxyProtocolErrorKind.TooManyTlvs, error.Kind);
    }

    public static TheoryData<string, ProxyProtocolErrorKind> InvalidTlvs => new()
    {
        { Tlv(0x05, new string('A', 2 * 129)), ProxyProtocolErrorKind.InvalidTlvValue },
        { Tlv(0x03, "000000"), ProxyProtocolErrorKind.InvalidTlvValue },
        { Tlv(0x02, "C328"), ProxyProtocolErrorKind.InvalidTlvValue },
        { Tlv(0x30, "80"), ProxyProtocolErrorKind.InvalidTlvValue },
        { Tlv(0x20, "01000000"), ProxyProtocolErrorKind.InvalidSsl },
        { Tlv(0x20, "01 00000000" + Tlv(0x20, "01 00000000")), ProxyProtocolErrorKind.InvalidSsl },
        { Tlv(0x20, "01 00000000 2100"), ProxyProtocolErrorKind.InvalidTlv },
        { Tlv(0x20, "01 00000000 21000541"), ProxyProtocolErrorKind.InvalidTlv },
        { Tlv(0x20, "01 00000000" + Tlv(0x22, "FF")), ProxyProtocolErrorKind.InvalidTlvValue },
        { Tlv(0x20, "01 00000000" + Tlv(0x21, "C3A9")), ProxyProtocolErrorKind.InvalidTlvValue },
        { TextTlv(0xE0, "app"), ProxyProtocolErrorKind.InvalidTlvValue },
        { TextTlv(0xE0, "=v"), ProxyProtocolErrorKind.InvalidTlvValue },
        { TextTlv(0xE0, "a=1,a=2"), ProxyProtocolErrorKind.InvalidTlvValue },
        { TextTlv(0xE0, "a=1=2"), ProxyProtocolErrorKind.InvalidTlvValue },
        { TextTlv(0xE0, "a=1,"), ProxyProtocolErrorKind.InvalidTlvValue },
        { TextTlv(0xE1, "default"), ProxyProtocolErrorKind.InvalidTlvValue },
        { TextTlv(0xE1, "a/b/c"), ProxyProtocolErrorKind.InvalidTlvValue },
        { TextTlv(0xE1, "/sa"), ProxyProtocolErrorKind.InvalidTlvValue },
        { TextTlv(0xE1, "ns/"), ProxyProtocolErrorKind.InvalidTlvValue },
        { Tlv(0xE1, "FF2F61"), ProxyProtocolErrorKind.InvalidTlvValue },
        { Tlv(0xE2, ""), ProxyProtocolErrorKind.InvalidTlvValue },
        { TextTlv(0xE2, new string('a', 256)), ProxyProtocolErrorKind.InvalidTlvValue },
        { TextTlv(0xE3, "http 1.1"), ProxyProtocolErrorKind.InvalidTlvValue },
        { Tlv(0xE3, ""), ProxyProtocolErrorKind.InvalidTlvValue },
    };

    [Theory]
    [MemberData(nameof(InvalidTlvs))]
    public void TryParse_InvalidTlv_ReportsKind(string tlvHex, ProxyProtocolErrorKind kind)
    {
        var status = ProxyProtocolParser.TryParse(V2(0x21, 0x11, Inet4Block + tlvHex), out _, out _, out var error);

        Assert.Equal(ProxyParseStatus.Invalid, status);
        Assert.Equal(kind, error.Kind);
    }

    [Fact]
    public void TryParse_UniqueIdOf128Bytes_Accepted()
    {
        var header = ProxyProtocolParser.Parse(V2(0x21, 0x11, Inet4Block + Tlv(0x05, new string('A', 2 * 128))));

        Assert.Equal(128, header.UniqueId!.Value.Length);
    }

    [Fact]
    public void TryParse_ChecksumMismatch_Rejected()
    {
        var data = Bytes(HaproxyCapture);
        data[^1] ^= 0x01;

        Assert.Equal(ProxyParseStatus.Invalid, ProxyProtocolParser.TryParse(data, out _, out _, out var error));
        Assert.Equal(ProxyProtocolErrorKind.ChecksumMismatch, error.Kind);
    }

    [Fact]
    public void TryParse_TwoChecksums_Rejected()
    {
        Span<byte> buffer = stackalloc byte[64];
        var length = ProxyV2Writer.WriteLocal(buffer, addCrc32c: true);
        var data = V2(0x20, 0x00, Convert.ToHexString(buffer[16..length]) + Convert.ToHexString(buffer[16..length]));

        Assert.Equal(ProxyParseStatus.Invalid, ProxyProtocolParser.TryParse(data, out _, out _, out var error));
        Assert.Equal(ProxyProtocolErrorKind.InvalidTlv, error.Kind);
    }

    [Fact]
    public void TryParse_RequireChecksum_RejectsHeaderWithout()
    {
        var limits = new ProxyProtocolLimits { RequireChecksum = true };

        Assert.Equal(ProxyParseStatus.Invalid, ProxyProtocolParser.TryParse(V2(0x21, 0x11, Inet4Block), limits, out _, out _, out var error));
        Assert.Equal(ProxyProtocolErrorKind.ChecksumMissing, error.Kind);
        Assert.Equal(ProxyParseStatus.Success, ProxyProtocolParser.TryParse(Bytes(HaproxyCapture), limits, out _, out _, out _));
    }

    [Fact]
    public void TryParse_EveryStrictPrefix_Incomplete()
    {
        var data = Bytes(HaproxyCapture);
        for (var length = 0; length < data.Length; length++)
        {
            Assert.Equal(ProxyParseStatus.Incomplete, ProxyProtocolParser.TryParse(data.AsSpan(0, length), out var header, out var consumed, out _));
            Assert.Null(header);
            Assert.Equal(0, consumed);
        }
    }

    [Fact]
    public void Parse_TruncatedHeader_ThrowsTruncated()
    {
        var exception = Assert.Throws<ProxyProtocolException>(() => ProxyProtocolParser.Parse(Bytes(HaproxyCapture)[..50]));

        Assert.Equal(ProxyProtocolErrorKind.Truncated, exception.Kind);
    }
}
