using System.Globalization;
using System.Text;
using Istio.AppSwitch.Sniffing.Tests.Tools;

namespace Istio.AppSwitch.Sniffing.Tests.Captured;

/// <summary>HTTP as curl sends it: the first bytes of a real request, captured on loopback and sniffed.</summary>
public class HttpCaptureTests
{
    [Fact]
    public async Task Sniff_CurlHttp1Request_MethodPathHostAndHeaders()
    {
        var bytes = await Capture.FromAsync("curl", port =>
            ["-sS", "--max-time", "5", $"http://127.0.0.1:{Port(port)}/admin/x", "-H", "Host: example.local", "-H", "X-Trace:  abc  "]);

        var (status, result) = Prefixes.CheckConsistent(bytes);

        Assert.True(status == SniffStatus.Complete, Encoding.Latin1.GetString(bytes));
        Assert.Equal(SniffedProtocol.Http1, result.Protocol);
        Assert.Equal("http/1.1", result.ProtocolToken);
        Assert.Equal("GET", result.Method);
        Assert.Equal("/admin/x", result.Path);
        Assert.Equal("example.local", result.Host);
        Assert.True(result.HeadersComplete);
        Assert.Contains(new KeyValuePair<string, string>("host", "example.local"), result.Headers);
        Assert.Contains(new KeyValuePair<string, string>("x-trace", "abc"), result.Headers);
        Assert.Contains(result.Headers, h => h.Key == "user-agent" && h.Value.StartsWith("curl/", StringComparison.Ordinal));
        Assert.Equal(["host", "user-agent", "accept", "x-trace"], result.Headers.Select(h => h.Key));
    }

    [Fact]
    public async Task Sniff_CurlHttp1CutAfterHost_NeedMoreDataWithMethodPathAndHost()
    {
        var bytes = await Capture.FromAsync("curl", port =>
            ["-sS", "--max-time", "5", $"http://127.0.0.1:{Port(port)}/status?full=1", "-H", "Host: svc.local:8080"]);
        // Cut just after the Host line, as a peek that came too early would.
        var text = Encoding.ASCII.GetString(bytes);
        var cut = text.IndexOf('\n', text.IndexOf("Host:", StringComparison.Ordinal)) + 1;

        var status = ProtocolSniffer.Sniff(bytes.AsSpan(0, cut), out var result);

        Assert.Equal(SniffStatus.NeedMoreData, status);
        Assert.Equal(SniffedProtocol.Http1, result.Protocol);
        Assert.Equal("GET", result.Method);
        Assert.Equal("/status?full=1", result.Path);
        Assert.Equal("svc.local:8080", result.Host);
        Assert.False(result.HeadersComplete);
        Assert.Empty(result.Headers);
    }

    [Fact]
    public async Task Sniff_CurlThroughProxy_AbsoluteFormHostFromTarget()
    {
        var bytes = await Capture.FromAsync("curl", port =>
            ["-sS", "--max-time", "5", "-x", $"http://127.0.0.1:{Port(port)}", "http://api.example:8080/v1/items?id=7"]);

        var (status, result) = Prefixes.CheckConsistent(bytes);

        Assert.Equal(SniffStatus.Complete, status);
        Assert.Equal("http://api.example:8080/v1/items?id=7", result.Path);
        Assert.Equal("api.example:8080", result.Host);
    }

    [Fact]
    public async Task Sniff_CurlHttp10Post_TokenHttp10()
    {
        var bytes = await Capture.FromAsync("curl", port =>
            ["-sS", "--max-time", "5", "--http1.0", "--data", "a=1", $"http://127.0.0.1:{Port(port)}/form"]);

        var (status, result) = Prefixes.CheckConsistent(bytes);

        Assert.Equal(SniffStatus.Complete, status);
        Assert.Equal("http/1.0", result.ProtocolToken);
        Assert.Equal("POST", result.Method);
        Assert.Contains(new KeyValuePair<string, string>("content-length", "3"), result.Headers);
    }

    [Fact]
    public async Task Sniff_CurlHttp2PriorKnowledge_Http2()
    {
        var bytes = await Capture.FromAsync("curl", port =>
            ["-sS", "--max-time", "5", "--http2-prior-knowledge", $"http://127.0.0.1:{Port(port)}/"]);

        var (status, result) = Prefixes.CheckConsistent(bytes);

        Assert.True(bytes.Length > ProtocolSniffer.Http2Preface.Length, "curl sends SETTINGS after the preface");
        Assert.Equal(SniffStatus.Complete, status);
        Assert.Equal(SniffedProtocol.Http2, result.Protocol);
        Assert.Equal("h2", result.ProtocolToken);
        Assert.Null(result.Method);
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
