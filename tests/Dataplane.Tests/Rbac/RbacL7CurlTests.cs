using System.Net;
using System.Net.Sockets;
using System.Text;
using Istio.AppSwitch.Rbac;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Dataplane.Tests.Rbac;

/// <summary>
/// What real curl sends as its first bytes, peeked on a loopback socket (<c>MSG_PEEK</c>, as the daemon does), read into
/// an <see cref="RbacL7"/> and evaluated: the decisions of the L7 matchers on requests a client really sends.
/// </summary>
public sealed class RbacL7CurlTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static RbacDecision Evaluate(RbacAction action, RbacMatcher permission, RbacL7 l7) => RbacEvaluator.Evaluate(
        new RbacModel([new RbacEngine(action, [new RbacPolicy("p", [permission], [RbacMatcher.Any.Instance])])], 0),
        new RbacRequest(IPAddress.Loopback, 40000, IPAddress.Loopback, 80, null, l7)).Decision;

    private static RbacMatcher.UrlPath PathPrefix(string prefix) => new(new StringMatcher(StringMatchKind.Prefix, prefix, false));

    [Fact]
    public async Task Curl_DotSegments_SquashedByCurlUnlessPathAsIsThenUnknown()
    {
        // curl resolves /public/../admin itself: the request is for /admin, and a DENY on /admin refuses it.
        var squashed = await FirstRequestAsync("http://127.0.0.1:{port}/public/../admin");
        Assert.Equal("/admin", squashed.Path);
        Assert.Equal(RbacDecision.Deny, Evaluate(RbacAction.Deny, PathPrefix("/admin"), squashed));

        // With --path-as-is the traversal reaches the server, where Envoy would resolve it to /admin: neither an ALLOW of
        // /public nor a DENY of /admin decides on the text.
        var asIs = await FirstRequestAsync("--path-as-is", "http://127.0.0.1:{port}/public/../admin");
        Assert.Equal("/public/../admin", asIs.Path);
        Assert.Equal(RbacDecision.Chain, Evaluate(RbacAction.Deny, PathPrefix("/admin"), asIs));
        Assert.Equal(RbacDecision.Chain, Evaluate(RbacAction.Allow, PathPrefix("/public"), asIs));
    }

    [Fact]
    public async Task Curl_MethodHeadersAndHost_MatchedAsEnvoyWould()
    {
        var l7 = await FirstRequestAsync("-X", "POST", "-H", "X-Debug: 1", "-H", "x-debug: 2", "http://localhost:{port}/data?verbose=1");

        Assert.Equal(RbacDecision.Allow, Evaluate(RbacAction.Allow, new RbacMatcher.Header(":method", new HeaderMatch(new(StringMatchKind.Exact, "POST", false))), l7));
        Assert.Equal(RbacDecision.Allow, Evaluate(RbacAction.Allow, new RbacMatcher.UrlPath(new(StringMatchKind.Exact, "/data", false)), l7));
        Assert.Equal(RbacDecision.Allow, Evaluate(RbacAction.Allow, new RbacMatcher.Header("x-debug", new HeaderMatch(new(StringMatchKind.Exact, "1,2", false))), l7));
        Assert.Equal(RbacDecision.Deny, Evaluate(RbacAction.Deny, new RbacMatcher.Header("user-agent", new HeaderMatch(new(StringMatchKind.Prefix, "curl/", false))), l7));
        // curl sends Host: localhost:PORT; whether Envoy would compare it with or without the port is not known here.
        Assert.Equal(RbacDecision.Chain, Evaluate(RbacAction.Deny, new RbacMatcher.Header(":authority", new HeaderMatch(new(StringMatchKind.Exact, "localhost", false))), l7));
        Assert.Equal(RbacDecision.Deny, Evaluate(RbacAction.Deny, new RbacMatcher.Header(":authority", new HeaderMatch(new(StringMatchKind.Prefix, "localhost", false))), l7));
    }

    [Fact]
    public async Task Curl_Http2PriorKnowledge_Unknown()
    {
        var l7 = await FirstRequestAsync("--http2-prior-knowledge", "http://127.0.0.1:{port}/admin");

        Assert.Equal("PRI", l7.Method);
        Assert.Equal(RbacDecision.Chain, Evaluate(RbacAction.Deny, PathPrefix("/admin"), l7));
        Assert.Equal(RbacDecision.Chain, Evaluate(RbacAction.Allow, PathPrefix("/"), l7));
    }

    // Runs curl against a loopback listener and reads its first request from the accepted socket without consuming it.
    private static async Task<RbacL7> FirstRequestAsync(params string[] arguments)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var curl = ExternalProcess.Start("curl", ["-s", "-o", "/dev/null", "--max-time", "5", .. arguments.Select(a => a.Replace("{port}", port, StringComparison.Ordinal))]);
        using var cancel = new CancellationTokenSource(Timeout);
        using var socket = await listener.AcceptSocketAsync(cancel.Token);
        var buffer = new byte[16 * 1024];
        while (true)
        {
            var peeked = await socket.ReceiveAsync(buffer, SocketFlags.Peek, cancel.Token);
            var text = Encoding.Latin1.GetString(buffer, 0, peeked);
            if (text.StartsWith("PRI * HTTP/2.0\r\n", StringComparison.Ordinal))
            {
                return new RbacL7(null, "PRI", "*", null, [], IsHttp: true, HeadersComplete: false);
            }
            if (text.IndexOf("\r\n\r\n", StringComparison.Ordinal) is var end and >= 0)
            {
                return Parse(text[..end]);
            }
            await Task.Delay(10, cancel.Token);
        }
    }

    private static RbacL7 Parse(string head)
    {
        var lines = head.Split("\r\n");
        var requestLine = lines[0].Split(' ');
        var headers = lines.Skip(1)
            .Select(l => l.Split(':', 2))
            .Select(p => KeyValuePair.Create(p[0], p[1].Trim(' ', '\t')))
            .ToList();
        var host = headers.FirstOrDefault(h => string.Equals(h.Key, "host", StringComparison.OrdinalIgnoreCase)).Value;
        return new RbacL7(null, requestLine[0], requestLine[1], host, headers, IsHttp: true, HeadersComplete: true);
    }
}
