using System.Text;

namespace Istio.AppSwitch.Sniffing.Tests.Unit;

/// <summary>HTTP/1 requests built to reach each rule: target forms, Host, header limits and malformed blocks.</summary>
public class Http1SnifferTests
{
    private static SniffStatus Sniff(string request, out SniffResult result) =>
        ProtocolSniffer.Sniff(Encoding.Latin1.GetBytes(request), out result);

    [Fact]
    public void Sniff_AbsoluteFormTarget_HostFromTargetWithoutUserinfo()
    {
        var status = Sniff("GET http://user:pw@api.example:8080/x?y=1 HTTP/1.1\r\nHost: other\r\n\r\n", out var result);

        Assert.Equal(SniffStatus.Complete, status);
        Assert.Equal("http://user:pw@api.example:8080/x?y=1", result.Path);
        Assert.Equal("api.example:8080", result.Host);
    }

    [Fact]
    public void Sniff_ConnectAuthorityForm_HostIsTarget()
    {
        Sniff("CONNECT db.example:5432 HTTP/1.1\r\n\r\n", out var result);

        Assert.Equal("CONNECT", result.Method);
        Assert.Equal("db.example:5432", result.Host);
        Assert.True(result.HeadersComplete);
        Assert.Empty(result.Headers);
    }

    [Fact]
    public void Sniff_AsteriskForm_NoHost()
    {
        Sniff("OPTIONS * HTTP/1.1\r\n\r\n", out var result);

        Assert.Equal("*", result.Path);
        Assert.Null(result.Host);
    }

    [Fact]
    public void Sniff_TwoHostHeaders_HostNullHeadersKept()
    {
        var status = Sniff("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", out var result);

        Assert.Equal(SniffStatus.Complete, status);
        Assert.Null(result.Host);
        Assert.Equal([new("host", "a"), new("host", "b")], result.Headers);
    }

    [Fact]
    public void Sniff_ExtensionMethodAndBareLineFeeds_Http1()
    {
        var status = Sniff("PURGE /cache HTTP/1.1\nX-A:1\n\n", out var result);

        Assert.Equal(SniffStatus.Complete, status);
        Assert.Equal("PURGE", result.Method);
        Assert.Equal([new("x-a", "1")], result.Headers);
    }

    [Fact]
    public void Sniff_ValuesWithWhitespaceAndHighBytes_TrimmedAndDecodedByteForByte()
    {
        Sniff("GET /caf\u00e9 HTTP/1.1\r\nX-Name: \t caf\u00e9 au lait \t\r\n\r\n", out var result);

        Assert.Equal("/caf\u00e9", result.Path);
        Assert.Equal([new("x-name", "caf\u00e9 au lait")], result.Headers);
    }

    [Fact]
    public void Sniff_InvalidUtf8_NoThrowLatin1()
    {
        byte[] request = [.. "GET /"u8, 0xFF, 0xFE, .. " HTTP/1.1\r\nHost: "u8, 0xC3, 0x28, .. "\r\n\r\n"u8];

        var status = ProtocolSniffer.Sniff(request, out var result);

        Assert.Equal(SniffStatus.Complete, status);
        Assert.Equal("/\u00ff\u00fe", result.Path);
        Assert.Equal("\u00c3(", result.Host);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", "obsolete line folding")]
    [InlineData("GET / HTTP/1.1\r\nHost : a\r\n\r\n", "space before the colon")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nX: b\0c\r\n\r\n", "NUL in a value")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nno colon\r\n\r\n", "no colon")]
    [InlineData("GET / HTTP/1.1\r\n: a\r\n\r\n", "empty name")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nX: b\rc\r\n\r\n", "bare CR in a value")]
    public void Sniff_MalformedHeaderBlock_CompleteWithoutHeadersOrHost(string request, string what)
    {
        var status = Sniff(request, out var result);

        Assert.True(status == SniffStatus.Complete, what);
        Assert.Equal(SniffedProtocol.Http1, result.Protocol);
        Assert.Equal("GET", result.Method);
        Assert.False(result.HeadersComplete);
        Assert.Empty(result.Headers);
        Assert.Null(result.Host);
    }

    [Fact]
    public void Sniff_MoreHeadersThanLimit_CompleteWithoutHeadersHostKept()
    {
        var request = new StringBuilder("GET / HTTP/1.1\r\nHost: a\r\n");
        for (var i = 0; i < SniffLimits.MaxHeaderCount; i++)
        {
            request.Append(System.Globalization.CultureInfo.InvariantCulture, $"X-{i}: v\r\n");
        }

        var status = Sniff(request.Append("\r\n").ToString(), out var result);

        Assert.Equal(SniffStatus.Complete, status);
        Assert.False(result.HeadersComplete);
        Assert.Empty(result.Headers);
        Assert.Equal("a", result.Host);
    }

    [Fact]
    public void Sniff_HeaderLineOverLimit_CompleteWithoutHeaders()
    {
        var status = Sniff($"GET / HTTP/1.1\r\nX: {new string('v', SniffLimits.MaxHeaderLineLength)}", out var result);

        Assert.Equal(SniffStatus.Complete, status);
        Assert.False(result.HeadersComplete);
    }

    [Fact]
    public void Sniff_HeadersWithoutEmptyLine_NeedMoreDataWithHost()
    {
        var status = Sniff("POST /api HTTP/1.1\r\nHost: svc\r\nContent-Le", out var result);

        Assert.Equal(SniffStatus.NeedMoreData, status);
        Assert.Equal(SniffedProtocol.Http1, result.Protocol);
        Assert.Equal("POST", result.Method);
        Assert.Equal("svc", result.Host);
        Assert.Empty(result.Headers);
    }

    [Theory]
    [InlineData("GET /x HTTP/1.1")]
    [InlineData("GET /x")]
    [InlineData("G")]
    public void Sniff_RequestLineNotEnded_NeedMoreDataUnknown(string partial)
    {
        var status = Sniff(partial, out var result);

        Assert.Equal(SniffStatus.NeedMoreData, status);
        Assert.Equal(SniffedProtocol.Unknown, result.Protocol);
        Assert.Null(result.Method);
    }

    [Theory]
    [InlineData("GET  /x HTTP/1.1\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1 \r\n\r\n")]
    [InlineData("GET /x HTTP/2.0\r\n\r\n")]
    [InlineData("GET /x HTTP/1.x\r\n\r\n")]
    [InlineData("GET /x http/1.1\r\n\r\n")]
    [InlineData("GET /\u0001 HTTP/1.1\r\n\r\n")]
    [InlineData("GET /a\tb HTTP/1.1\r\n\r\n")]
    public void Sniff_NotAnHttp1RequestLine_NotHttp1(string request)
    {
        Sniff(request, out var result);

        Assert.NotEqual(SniffedProtocol.Http1, result.Protocol);
    }

    [Fact]
    public void Sniff_RequestLineOverLimit_Unrecognized()
    {
        var status = Sniff($"GET /{new string('a', SniffLimits.MaxLineLength)}", out var result);

        Assert.Equal(SniffStatus.Unrecognized, status);
        Assert.Equal(SniffedProtocol.Unknown, result.Protocol);
    }

    [Theory]
    [InlineData("PRI * HTTP/2.0", SniffStatus.NeedMoreData, SniffedProtocol.Http2)]
    [InlineData("PRI * HTTP/2", SniffStatus.NeedMoreData, SniffedProtocol.Unknown)]
    [InlineData("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", SniffStatus.Complete, SniffedProtocol.Http2)]
    [InlineData("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04", SniffStatus.Complete, SniffedProtocol.Http2)]
    public void Sniff_Http2Preface_Http2(string data, SniffStatus expected, SniffedProtocol protocol)
    {
        var status = Sniff(data, out var result);

        Assert.Equal(expected, status);
        Assert.Equal(protocol, result.Protocol);
    }
}
