using System.Net;
using static Istio.AppSwitch.ProxyProtocol.Tests.Vectors;

namespace Istio.AppSwitch.ProxyProtocol.Tests;

public class ProxyV1ParserTests
{
    [Fact]
    public void Parse_SpecificationExample_ReadsAddressesAndLeavesRequest()
    {
        // Section 2.1's example, followed by the HTTP request it precedes.
        var data = Ascii("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n");

        Assert.Equal(ProxyParseStatus.Success, ProxyProtocolParser.TryParse(data, out var header, out var consumed, out _));

        Assert.Equal(ProxyVersion.V1, header!.Version);
        Assert.Equal(ProxyCommand.Proxy, header.Command);
        Assert.Equal(ProxyAddressFamily.InterNetwork, header.Family);
        Assert.Equal(ProxyTransport.Stream, header.Transport);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.168.0.1"), 56324), header.Source);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.168.0.11"), 443), header.Destination);
        Assert.Equal(47, consumed);
        Assert.Empty(header.Tlvs);
    }

    [Theory]
    // The longest lines of section 2.1: 56 (TCP4), 104 (TCP6) and 107 (UNKNOWN) bytes.
    [InlineData("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n", 56)]
    [InlineData("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n", 104)]
    [InlineData("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n", 107)]
    [InlineData("PROXY UNKNOWN\r\n", 15)]
    public void Parse_LongestAndShortestLines_Accepted(string line, int length)
    {
        var header = ProxyProtocolParser.Parse(Ascii(line));

        Assert.Equal(length, header.Length);
    }

    [Fact]
    public void Parse_Unknown_HasNoAddresses()
    {
        var header = ProxyProtocolParser.Parse(Ascii("PROXY UNKNOWN anything at all, ignored\r\n"));

        Assert.Equal(ProxyAddressFamily.Unspecified, header.Family);
        Assert.Equal(ProxyTransport.Unspecified, header.Transport);
        Assert.Null(header.Source);
        Assert.Null(header.Destination);
    }

    [Theory]
    [InlineData("::1", "::1")]
    [InlineData("::", "::")]
    [InlineData("2001:db8::", "2001:db8::")]
    [InlineData("2001:DB8:0:0:0:0:0:1", "2001:db8::1")]
    [InlineData("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8")]
    [InlineData("1::8", "1::8")]
    [InlineData("1:2:3:4:5:6::8", "1:2:3:4:5:6:0:8")]
    [InlineData("::ffff:127.0.0.1", "::ffff:127.0.0.1")]
    [InlineData("::127.0.0.1", "::127.0.0.1")]
    [InlineData("64:ff9b::192.0.2.33", "64:ff9b::c000:221")]
    [InlineData("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304")]
    public void Parse_Tcp6Addresses_Accepted(string address, string expected)
    {
        var header = ProxyProtocolParser.Parse(Ascii($"PROXY TCP6 {address} ::1 1 2\r\n"));

        Assert.Equal(IPAddress.Parse(expected), header.Source!.Address);
    }

    [Theory]
    [InlineData("1.2.3.4")]
    [InlineData("1:2:3:4:5:6:7")]
    [InlineData("1:2:3:4:5:6:7:8:9")]
    [InlineData("1::2::3")]
    [InlineData(":1::")]
    [InlineData("1:")]
    [InlineData("12345::")]
    [InlineData("::g")]
    [InlineData("fe80::1%eth0")]
    [InlineData("[::1]")]
    [InlineData("1:2:3:4:5:6:7:1.2.3.4")]
    [InlineData("::01.2.3.4")]
    [InlineData("::1.2.3")]
    [InlineData(":::")]
    public void Parse_BadTcp6Address_InvalidAddress(string address) =>
        AssertInvalid($"PROXY TCP6 {address} ::1 1 2\r\n", ProxyProtocolErrorKind.InvalidAddress);

    [Theory]
    [InlineData("01.2.3.4")]
    [InlineData("1.2.3.256")]
    [InlineData("1.2.3")]
    [InlineData("1.2.3.4.5")]
    [InlineData("1..3.4")]
    [InlineData("1.2.3.4 ")]
    [InlineData("::1")]
    [InlineData("0x1.2.3.4")]
    [InlineData("1.2.3.0004")]
    [InlineData("-1.2.3.4")]
    public void Parse_BadTcp4Address_Rejected(string address)
    {
        var status = ProxyProtocolParser.TryParse(Ascii($"PROXY TCP4 {address} 1.1.1.1 1 2\r\n"), out _, out _, out var error);

        Assert.Equal(ProxyParseStatus.Invalid, status);
        Assert.Contains(error.Kind, (ProxyProtocolErrorKind[])[ProxyProtocolErrorKind.InvalidAddress, ProxyProtocolErrorKind.InvalidV1Syntax]);
    }

    [Theory]
    [InlineData("65536")]
    [InlineData("080")]
    [InlineData("00")]
    [InlineData("-1")]
    [InlineData("+1")]
    [InlineData("1a")]
    [InlineData("100000")]
    public void Parse_BadPort_InvalidPort(string port) =>
        AssertInvalid($"PROXY TCP4 1.1.1.1 2.2.2.2 {port} 80\r\n", ProxyProtocolErrorKind.InvalidPort);

    [Theory]
    [InlineData("0")]
    [InlineData("65535")]
    public void Parse_EdgePorts_Accepted(string port) =>
        Assert.Equal(ushort.Parse(port, System.Globalization.CultureInfo.InvariantCulture),
            ProxyProtocolParser.Parse(Ascii($"PROXY TCP4 1.1.1.1 2.2.2.2 {port} 80\r\n")).Source!.Port);

    [Theory]
    [InlineData("PROXY TCP4  1.1.1.1 2.2.2.2 1 2\r\n")]
    [InlineData("PROXY TCP4 1.1.1.1 2.2.2.2 1 2 \r\n")]
    [InlineData("PROXY TCP4 1.1.1.1 2.2.2.2 1\r\n")]
    [InlineData("PROXY TCP4 1.1.1.1 2.2.2.2 1 2 3\r\n")]
    [InlineData("PROXY TCP5 1.1.1.1 2.2.2.2 1 2\r\n")]
    [InlineData("PROXY tcp4 1.1.1.1 2.2.2.2 1 2\r\n")]
    [InlineData("PROXY UDP4 1.1.1.1 2.2.2.2 1 2\r\n")]
    [InlineData("PROXY UNKNOWNX\r\n")]
    [InlineData("PROXY TCP4\r\n")]
    [InlineData("PROXY \r\n")]
    [InlineData("PROXY TCP4 1.1.1.1 2.2.2.2 1 2\n")]
    [InlineData("PROXY TCP4 1.1.1.1 2.2.2.2 1 2\rX")]
    [InlineData("PROXY UNKNOWN\n")]
    [InlineData("PROXY TCP4\t1.1.1.1 2.2.2.2 1 2\r\n")]
    public void Parse_BadSyntax_InvalidV1Syntax(string line) => AssertInvalid(line, ProxyProtocolErrorKind.InvalidV1Syntax);

    [Fact]
    public void Parse_FamilyMismatch_InvalidAddress() =>
        AssertInvalid("PROXY TCP4 ::1 ::1 1 2\r\n", ProxyProtocolErrorKind.InvalidAddress);

    [Theory]
    [InlineData(106)]
    [InlineData(107)]
    [InlineData(200)]
    public void TryParse_NoCrlfWithin107Bytes_HeaderTooLong(int length)
    {
        // 106 bytes then CRLF is 108 bytes: one too many, whether or not the LF has arrived.
        var line = "PROXY UNKNOWN " + new string('x', length - 14);
        var data = Ascii(line + "\r\n");

        Assert.Equal(ProxyParseStatus.Invalid, ProxyProtocolParser.TryParse(data, out _, out _, out var error));
        Assert.Equal(ProxyProtocolErrorKind.HeaderTooLong, error.Kind);
    }

    [Fact]
    public void TryParse_EveryStrictPrefix_Incomplete()
    {
        var data = Ascii("PROXY TCP6 2001:db8::1 ::ffff:127.0.0.1 65535 0\r\n");
        for (var length = 0; length < data.Length; length++)
        {
            Assert.Equal(ProxyParseStatus.Incomplete, ProxyProtocolParser.TryParse(data.AsSpan(0, length), out _, out _, out _));
        }
        Assert.Equal(ProxyParseStatus.Success, ProxyProtocolParser.TryParse(data, out _, out _, out _));
    }

    [Theory]
    [InlineData("PROXX")]
    [InlineData("PROXYTCP4")]
    [InlineData("GET / HTTP/1.1\r\n")]
    [InlineData("P\r\n")]
    public void TryParse_NotProxy_InvalidSignatureAtOnce(string text)
    {
        Assert.Equal(ProxyParseStatus.Invalid, ProxyProtocolParser.TryParse(Ascii(text), out _, out _, out var error));
        Assert.Equal(ProxyProtocolErrorKind.InvalidSignature, error.Kind);
    }

    [Fact]
    public void TryParse_V1NotAllowed_Rejected()
    {
        var limits = new ProxyProtocolLimits { AllowV1 = false };

        Assert.Equal(ProxyParseStatus.Invalid, ProxyProtocolParser.TryParse(Ascii("PROXY UNKNOWN\r\n"), limits, out _, out _, out var error));
        Assert.Equal(ProxyProtocolErrorKind.VersionNotAllowed, error.Kind);
    }

    private static void AssertInvalid(string line, ProxyProtocolErrorKind kind)
    {
        var status = ProxyProtocolParser.TryParse(Ascii(line), out var header, out _, out var error);

        Assert.True(status == ProxyParseStatus.Invalid, $"{line.ReplaceLineEndings("\\n")}: {status}");
        Assert.Null(header);
        Assert.Equal(kind, error.Kind);
        Assert.Equal(kind, Assert.Throws<ProxyProtocolException>(() => ProxyProtocolParser.Parse(Ascii(line))).Kind);
    }
}
