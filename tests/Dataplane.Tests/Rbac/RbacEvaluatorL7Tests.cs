using System.Net;
using Istio.AppSwitch.Rbac;

namespace Istio.AppSwitch.Dataplane.Tests.Rbac;

/// <summary>
/// Paths, headers and SNI decided from what the daemon peeked (<see cref="RbacL7"/>): definite only where Envoy, with the
/// same first request, could not have decided otherwise, and unknown (hence <see cref="RbacDecision.Chain"/>) elsewhere.
/// </summary>
public sealed class RbacEvaluatorL7Tests
{
    private static readonly IPAddress Peer = IPAddress.Parse("127.0.0.2");

    private static StringMatcher Exact(string value, bool ignoreCase = false) => new(StringMatchKind.Exact, value, ignoreCase);

    private static StringMatcher Prefix(string value) => new(StringMatchKind.Prefix, value, false);

    private static RbacL7 Http(string method, string path, string? host = "httpbin", bool complete = true, params (string Name, string Value)[] headers) =>
        new(null, method, path, host, [.. headers.Select(h => KeyValuePair.Create(h.Name, h.Value))], IsHttp: true, HeadersComplete: complete);

    private static RbacL7 Get(string path, params (string Name, string Value)[] headers) => Http("GET", path, "httpbin", true, headers);

    private static RbacRequest Request(RbacL7? l7) => new(Peer, 40000, IPAddress.Loopback, 8080, null, l7);

    // ALLOW when the matcher matches: Allow for true, Deny for false, Chain for unknown.
    private static RbacDecision Allow(RbacMatcher matcher, RbacL7? l7) =>
        RbacEvaluator.Evaluate(new RbacModel([new RbacEngine(RbacAction.Allow, [new RbacPolicy("p", [matcher], [RbacMatcher.Any.Instance])])], 0), Request(l7)).Decision;

    // DENY when the matcher matches: Deny for true, Allow for false, Chain for unknown.
    private static RbacDecision Deny(RbacMatcher matcher, RbacL7? l7) =>
        RbacEvaluator.Evaluate(new RbacModel([new RbacEngine(RbacAction.Deny, [new RbacPolicy("p", [matcher], [RbacMatcher.Any.Instance])])], 0), Request(l7)).Decision;

    public static TheoryData<StringMatcher, string, bool> PathForms() => new()
    {
        { Exact("/info"), "/info", true },
        { Exact("/info"), "/info/", false },
        { Exact("/info"), "/INFO", false },
        { Exact("/info", ignoreCase: true), "/INFO", true },
        { Prefix("/api/"), "/api/v1/users", true },
        { Prefix("/api/"), "/apiv1", false },
        { new(StringMatchKind.Suffix, ".json", false), "/a/b.json", true },
        { new(StringMatchKind.Contains, "/v2/", false), "/api/v2/x", true },
        { new(StringMatchKind.Regex, "/users/[0-9]+", false), "/users/42", true },
        { new(StringMatchKind.Regex, "/users/[0-9]+", false), "/users/42/x", false },
        // Envoy's PathMatcher matches the path without its query.
        { Exact("/info"), "/info?x=1&y=/../z", true },
        { new(StringMatchKind.Suffix, ".json", false), "/a.json?format=xml", true },
        { Exact("/a%20b"), "/a%20b", true },
    };

    [Theory]
    [MemberData(nameof(PathForms))]
    public void Evaluate_UrlPath_MatchesAsSentWithoutQuery(StringMatcher path, string target, bool matches)
    {
        var matcher = new RbacMatcher.UrlPath(path);

        Assert.Equal(matches ? RbacDecision.Allow : RbacDecision.Deny, Allow(matcher, Get(target)));
        Assert.Equal(matches ? RbacDecision.Deny : RbacDecision.Allow, Deny(matcher, Get(target)));
    }

    [Fact]
    public void Evaluate_UrlPathWithQuery_MatchesTheWholeTarget()
    {
        var matcher = new RbacMatcher.UrlPath(Exact("/info?debug=1"), IgnoreQuery: false);

        Assert.Equal(RbacDecision.Allow, Allow(matcher, Get("/info?debug=1")));
        Assert.Equal(RbacDecision.Deny, Allow(matcher, Get("/info")));
    }

    [Theory]
    [InlineData("/public/../admin")]
    [InlineData("/admin/..")]
    [InlineData("/a/./admin")]
    [InlineData("/admin/.")]
    [InlineData("//admin")]
    [InlineData("/public//admin")]
    [InlineData("/public\\..\\admin")]
    [InlineData("/%2e%2e/admin")]
    [InlineData("/%2E%2E/admin")]
    [InlineData("/public%2f..%2fadmin")]
    [InlineData("/public%2F%2E%2E%2Fadmin")]
    [InlineData("/%61dmin")]
    [InlineData("/adm%69n")]
    [InlineData("/a%5Cb")]
    [InlineData("/a%3ab")]
    [InlineData("/a%zz")]
    [InlineData("/a%2")]
    [InlineData("/a b")]
    [InlineData("/caf\u00e9")]
    [InlineData("/a#/admin")]
    [InlineData("*")]
    [InlineData("http://httpbin/admin")]
    [InlineData("admin")]
    public void Evaluate_PathNormalisationCouldChange_UnknownForAllowAndDeny(string target)
    {
        // Envoy's connection manager normalises before RBAC; ax does not guess its result. Neither an ALLOW of "/" nor a
        // DENY of "/admin" may decide on the text.
        Assert.True(RbacPaths.IsAmbiguous(target));
        Assert.Equal(RbacDecision.Chain, Allow(new RbacMatcher.UrlPath(Prefix("/")), Get(target)));
        Assert.Equal(RbacDecision.Chain, Deny(new RbacMatcher.UrlPath(Prefix("/admin")), Get(target)));
        Assert.Equal(RbacDecision.Chain, Deny(new RbacMatcher.Header(":path", new HeaderMatch(Prefix("/admin"))), Get(target)));
    }

    [Theory]
    [InlineData("/", false)]
    [InlineData("/info/status", false)]
    [InlineData("/a%20b/%E2%82%AC", false)]
    [InlineData("/a;b=c/d:e@f!$&'()*+,=", false)]
    [InlineData("/search?q=../../etc&next=//x\\y", false)]
    [InlineData("/.well-known/x", false)]
    // A ".." inside a name is no segment, but any ".." is refused: the rule stays simple and errs on the safe side.
    [InlineData("/file..txt", true)]
    public void IsAmbiguous_OnlyThePathPartCounts(string target, bool ambiguous)
    {
        // A query is never normalised, whatever it holds.
        Assert.Equal(ambiguous, RbacPaths.IsAmbiguous(target));
    }

    [Fact]
    public void Evaluate_NotPeeked_EveryL7MatcherUnknown()
    {
        RbacMatcher[] matchers =
        [
            new RbacMatcher.UrlPath(Prefix("/")),
            new RbacMatcher.Header(":method", new HeaderMatch(Exact("GET"))),
            new RbacMatcher.Header("x-user", HeaderMatch.Present(invert: true)),
            new RbacMatcher.RequestedServerName(Exact("")),
        ];

        Assert.All(matchers, m => Assert.Equal(RbacDecision.Chain, Allow(m, null)));
        Assert.All(matchers, m => Assert.Equal(RbacDecision.Chain, Deny(m, null)));
        // A rule that fails on L4 grounds is still decided without the bytes.
        var elsewhere = new RbacMatcher.And([new RbacMatcher.DestinationPort(9000, 9000), new RbacMatcher.UrlPath(Prefix("/admin"))]);
        Assert.Equal(RbacDecision.Allow, Deny(elsewhere, null));
    }

    [Fact]
    public void Evaluate_NotHttp_RequestMatchersUnknownSniRead()
    {
        // A TLS ClientHello on a port with HTTP rules: Envoy's HTTP connection manager would refuse these bytes, so no
        // request rule is "not matched" (that would let a DENY pass); the SNI is in the clear.
        var tls = new RbacL7("api.example.com", null, null, null, [], IsHttp: false, HeadersComplete: false);

        Assert.Equal(RbacDecision.Chain, Deny(new RbacMatcher.UrlPath(Prefix("/admin")), tls));
        Assert.Equal(RbacDecision.Chain, Deny(new RbacMatcher.Header("x-debug", HeaderMatch.Present()), tls));
        Assert.Equal(RbacDecision.Chain, Allow(new RbacMatcher.Not(new RbacMatcher.Header(":method", new HeaderMatch(Exact("DELETE")))), tls));
        Assert.Equal(RbacDecision.Allow, Allow(new RbacMatcher.RequestedServerName(new StringMatcher(StringMatchKind.Suffix, ".example.com", false)), tls));
        Assert.Equal(RbacDecision.Allow, Deny(new RbacMatcher.RequestedServerName(Exact("admin.example.com")), tls));
    }

    [Fact]
    public void Evaluate_Http2Preface_Unknown()
    {
        // h2c with prior knowledge: the headers follow HPACK-encoded, which ax does not decode.
        var h2 = Http("PRI", "*", host: null);

        Assert.Equal(RbacDecision.Chain, Allow(new RbacMatcher.Header(":method", new HeaderMatch(Exact("PRI"))), h2));
        Assert.Equal(RbacDecision.Chain, Deny(new RbacMatcher.Header("x-debug", HeaderMatch.Present()), h2));
        Assert.Equal(RbacDecision.Chain, Deny(new RbacMatcher.UrlPath(Prefix("/admin")), h2));
    }

    [Fact]
    public void Evaluate_Sni_EmptyOnPlainHttpUnknownOnUnreadBytes()
    {
        var denyEvil = new RbacMatcher.RequestedServerName(Exact("evil.example.com"));
        var requireEmpty = new RbacMatcher.RequestedServerName(Exact(""));

        Assert.Equal(RbacDecision.Deny, Deny(denyEvil, new RbacL7("evil.example.com", null, null, null, [], false, false)));
        // Plain-text HTTP has no TLS: Envoy's requested server name is "".
        Assert.Equal(RbacDecision.Allow, Deny(denyEvil, Get("/")));
        Assert.Equal(RbacDecision.Allow, Allow(requireEmpty, Get("/")));
        // Neither HTTP nor a ClientHello with a name (perhaps one that did not fit in the peek): unknown.
        Assert.Equal(RbacDecision.Chain, Deny(denyEvil, new RbacL7(null, null, null, null, [], false, false)));
    }

    [Fact]
    public void Evaluate_HeaderNames_CaseInsensitiveAndRepeatedValuesJoined()
    {
        var exact = new RbacMatcher.Header("x-user", new HeaderMatch(Exact("alice")));
        var joined = new RbacMatcher.Header("X-Tenant", new HeaderMatch(Exact("a,b")));

        Assert.Equal(RbacDecision.Allow, Allow(exact, Get("/", ("X-USER", "alice"))));
        Assert.Equal(RbacDecision.Allow, Allow(exact, Get("/", ("x-user", " alice\t"))));
        Assert.Equal(RbacDecision.Deny, Allow(exact, Get("/", ("x-user", "Alice"))));
        // Envoy joins a repeated header with commas before matching.
        Assert.Equal(RbacDecision.Allow, Allow(joined, Get("/", ("x-tenant", "a"), ("X-Other", "z"), ("x-TENANT", "b"))));
        Assert.Equal(RbacDecision.Deny, Allow(exact, Get("/", ("x-user", "alice"), ("x-user", "bob"))));
    }

    public static TheoryData<HeaderMatch, (string Name, string Value)[], bool> HeaderForms() => new()
    {
        { HeaderMatch.Present(), [("x-debug", "")], true },
        { HeaderMatch.Present(), [], false },
        { HeaderMatch.Present(invert: true), [], true },
        { HeaderMatch.Present(invert: true), [("x-debug", "1")], false },
        { new(Prefix("v1")), [("x-debug", "v1.2")], true },
        { new(new StringMatcher(StringMatchKind.Suffix, "-beta", false)), [("x-debug", "v2-beta")], true },
        { new(new StringMatcher(StringMatchKind.Contains, "trace", true)), [("x-debug", "a,TRACE,b")], true },
        { new(new StringMatcher(StringMatchKind.Regex, "[0-9]{3}", false)), [("x-debug", "1234")], false },
        { new(new StringMatcher(StringMatchKind.Regex, "[0-9]{3}", false), Invert: true), [("x-debug", "1234")], true },
        // Envoy: a value matcher on a missing header does not match, inverted or not...
        { new(Exact("1"), Invert: true), [], false },
        { new(Exact(""), Invert: false), [], false },
        // ...unless the header is to be read as empty.
        { new(Exact(""), TreatMissingAsEmpty: true), [], true },
        { new(Exact("1"), Invert: true, TreatMissingAsEmpty: true), [], true },
    };

    [Theory]
    [MemberData(nameof(HeaderForms))]
    public void Evaluate_HeaderForms_AsEnvoyHeaderMatcher(HeaderMatch match, (string Name, string Value)[] headers, bool matches)
    {
        Assert.Equal(matches ? RbacDecision.Allow : RbacDecision.Deny, Allow(new RbacMatcher.Header("x-debug", match), Get("/", headers)));
    }

    [Fact]
    public void Evaluate_HeadersIncomplete_OnlyAPresentHeaderIsKnown()
    {
        // The peek ended inside the header block: a header seen is there for good, but its full value (a repeat could
        // follow) and the absence of any other are unknown.
        var partial = Http("GET", "/", "httpbin", complete: false, ("x-debug", "1"));

        Assert.Equal(RbacDecision.Deny, Deny(new RbacMatcher.Header("X-Debug", HeaderMatch.Present()), partial));
        Assert.Equal(RbacDecision.Deny, Allow(new RbacMatcher.Header("x-debug", HeaderMatch.Present(invert: true)), partial));
        Assert.Equal(RbacDecision.Chain, Deny(new RbacMatcher.Header("x-other", HeaderMatch.Present()), partial));
        Assert.Equal(RbacDecision.Chain, Deny(new RbacMatcher.Header("x-debug", new HeaderMatch(Exact("1"))), partial));
        Assert.Equal(RbacDecision.Chain, Deny(new RbacMatcher.Header(":authority", new HeaderMatch(Exact("httpbin"))), partial));
        // The request line is whole.
        Assert.Equal(RbacDecision.Deny, Deny(new RbacMatcher.Header(":method", new HeaderMatch(Exact("GET"))), partial));
        Assert.Equal(RbacDecision.Deny, Deny(new RbacMatcher.UrlPath(Exact("/")), partial));
    }

    [Fact]
    public void Evaluate_PseudoHeaders_FromTheRequestLineAndHost()
    {
        Assert.Equal(RbacDecision.Allow, Allow(new RbacMatcher.Header(":method", new HeaderMatch(Exact("POST"))), Http("POST", "/data")));
        Assert.Equal(RbacDecision.Deny, Allow(new RbacMatcher.Header(":method", new HeaderMatch(Exact("POST"))), Http("post", "/data")));
        // :path is the whole target, query included.
        Assert.Equal(RbacDecision.Allow, Allow(new RbacMatcher.Header(":path", new HeaderMatch(Exact("/data?x=1"))), Get("/data?x=1")));
        Assert.Equal(RbacDecision.Allow, Allow(new RbacMatcher.Header(":Authority", new HeaderMatch(Exact("HTTPBIN", ignoreCase: true))), Get("/")));
        Assert.Equal(RbacDecision.Deny, Allow(new RbacMatcher.Header(":authority", HeaderMatch.Present()), Http("GET", "/", host: null)));
        Assert.Equal(RbacDecision.Allow, Allow(new RbacMatcher.Header(":scheme", new HeaderMatch(Exact("http"))), Get("/")));
        Assert.Equal(RbacDecision.Chain, Allow(new RbacMatcher.Header(":protocol", HeaderMatch.Present()), Get("/")));
    }

    [Fact]
    public void Evaluate_AuthorityWithPort_UnknownWhenThePortDecides()
    {
        // Whether Envoy strips the port is a setting of its connection manager: ax decides only when it does not matter.
        var withPort = Http("GET", "/", "httpbin.foo:8000");

        Assert.Equal(RbacDecision.Chain, Deny(new RbacMatcher.Header(":authority", new HeaderMatch(Exact("httpbin.foo"))), withPort));
        Assert.Equal(RbacDecision.Deny, Deny(new RbacMatcher.Header(":authority", new HeaderMatch(Prefix("httpbin."))), withPort));
        Assert.Equal(RbacDecision.Allow, Deny(new RbacMatcher.Header(":authority", new HeaderMatch(Exact("other"))), withPort));
        Assert.Equal(RbacDecision.Chain, Deny(new RbacMatcher.Header(":authority", new HeaderMatch(Exact("[::1]"))), Http("GET", "/", "[::1]:80")));
        Assert.Equal("[::1]", RbacPaths.WithoutPort("[::1]:80"));
        Assert.Null(RbacPaths.WithoutPort("[::1]"));
        Assert.Null(RbacPaths.WithoutPort("httpbin"));
    }

    [Theory]
    [InlineData("host")]
    [InlineData("x-forwarded-for")]
    [InlineData("X-Forwarded-Client-Cert")]
    [InlineData("x-envoy-internal")]
    [InlineData("x-request-id")]
    [InlineData("connection")]
    [InlineData("transfer-encoding")]
    public void Evaluate_HeadersEnvoySetsOrStrips_Unknown(string name)
    {
        // What the client sent is not what Envoy's RBAC sees for these.
        Assert.Equal(RbacDecision.Chain, Deny(new RbacMatcher.Header(name, HeaderMatch.Present()), Get("/", (name, "1"))));
    }

    [Fact]
    public void UsesL7_ComputedFromTheEnginesAlsoThroughWith()
    {
        var l4 = new RbacPolicy("l4", [new RbacMatcher.DestinationPort(80, 80)], [RbacMatcher.Any.Instance]);
        var l7 = new RbacPolicy("l7", [new RbacMatcher.Not(new RbacMatcher.UrlPath(Prefix("/admin")))], [RbacMatcher.Any.Instance]);
        var sni = new RbacPolicy("sni", [RbacMatcher.Any.Instance], [new RbacMatcher.Or([new RbacMatcher.RequestedServerName(Exact("a"))])]);
        var model = new RbacModel([new RbacEngine(RbacAction.Allow, [l4])], 0);

        Assert.False(model.UsesL7);
        Assert.False(RbacModel.None.UsesL7);
        Assert.True((model with { Engines = [new RbacEngine(RbacAction.Deny, [l7])] }).UsesL7);
        Assert.True(new RbacEngine(RbacAction.Allow, [l4]) { Policies = [l4, sni] }.UsesL7);
        Assert.True(l7.UsesHttpRequest);
        Assert.True(sni.UsesL7);
        Assert.False(sni.UsesHttpRequest);
    }

    [Fact]
    public void Text_IgnoreCaseAndEveryFlagIsPartOfTheCanonicalForm()
    {
        var a = new RbacModel([new RbacEngine(RbacAction.Allow, [new RbacPolicy("p", [new RbacMatcher.UrlPath(Exact("/a"))], [RbacMatcher.Any.Instance])])], 0);
        var b = new RbacModel([new RbacEngine(RbacAction.Allow, [new RbacPolicy("p", [new RbacMatcher.UrlPath(Exact("/a", ignoreCase: true))], [RbacMatcher.Any.Instance])])], 0);
        var c = new RbacModel([new RbacEngine(RbacAction.Allow, [new RbacPolicy("p", [new RbacMatcher.UrlPath(Exact("/a"), IgnoreQuery: false)], [RbacMatcher.Any.Instance])])], 0);

        Assert.False(a.SameAs(b));
        Assert.False(a.SameAs(c));
        Assert.Equal("permissions: path exact/i:/a; principals: any", b.Engines[0].Policies[0].Text);
        Assert.Equal(
            "header x-a not exact:1 missing-as-empty",
            new RbacMatcher.Header("x-a", new HeaderMatch(Exact("1"), Invert: true, TreatMissingAsEmpty: true)).ToString());
    }
}
