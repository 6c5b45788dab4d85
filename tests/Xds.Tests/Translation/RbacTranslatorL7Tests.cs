using System.Net;
using Istio.AppSwitch.Rbac;
using Istio.AppSwitch.Xds.Resources;
using Istio.AppSwitch.Xds.Tests.Resources;
using Istio.AppSwitch.Xds.Translation.Rbac;
using HttpFilter = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3.HttpFilter;
using HttpRbac = Envoy.Extensions.Filters.Http.Rbac.V3.RBAC;

namespace Istio.AppSwitch.Xds.Tests.Translation;

/// <summary>
/// Paths, headers and SNI in Envoy RBAC become matchers the daemon decides from the first request; what it still cannot
/// read (metadata, ranges) stays unsupported. Inputs are istiod's golden HTTP RBAC and protos written the way Envoy reads
/// them.
/// </summary>
public sealed class RbacTranslatorL7Tests
{
    private static readonly IPAddress Peer = IPAddress.Parse("10.1.2.3");

    private static RbacMatcher Permission(string json, RbacFilterLayer layer = RbacFilterLayer.Http) =>
        RbacTranslator.Translate(EnvoyJson.Parse<Envoy.Config.Rbac.V3.Permission>(json), layer);

    private static RbacRequest Get(string path, params (string Name, string Value)[] headers) => new(
        Peer,
        40000,
        IPAddress.Loopback,
        80,
        null,
        new RbacL7(null, "GET", path, "httpbin.foo", [.. headers.Select(h => KeyValuePair.Create(h.Name, h.Value))], IsHttp: true, HeadersComplete: true));

    [Theory]
    [InlineData("""{"header": {"name": ":method", "exact_match": "GET"}}""", "header :method exact:GET")]
    [InlineData("""{"header": {"name": "X-Header", "prefix_match": "a"}}""", "header x-header prefix:a")]
    [InlineData("""{"header": {"name": "x-header", "suffix_match": "z"}}""", "header x-header suffix:z")]
    [InlineData("""{"header": {"name": "x-header", "contains_match": "m"}}""", "header x-header contains:m")]
    [InlineData("""{"header": {"name": "x-header", "safe_regex_match": {"regex": "v[0-9]+"}}}""", "header x-header regex:v[0-9]+")]
    [InlineData("""{"header": {"name": ":authority", "string_match": {"exact": "Httpbin.Foo", "ignore_case": true}}}""", "header :authority exact/i:Httpbin.Foo")]
    [InlineData("""{"header": {"name": "x-header", "present_match": true}}""", "header x-header present")]
    [InlineData("""{"header": {"name": "x-header", "present_match": false}}""", "header x-header not present")]
    [InlineData("""{"header": {"name": "x-header", "present_match": true, "invert_match": true}}""", "header x-header not present")]
    [InlineData("""{"header": {"name": "x-header"}}""", "header x-header present")]
    [InlineData("""{"header": {"name": "x-header", "string_match": {"exact": "a"}, "invert_match": true, "treat_missing_header_as_empty": true}}""", "header x-header not exact:a missing-as-empty")]
    [InlineData("""{"header": {"name": "x-header", "range_match": {"start": 1, "end": 9}}}""", "unsupported(header x-header RangeMatch)")]
    [InlineData("""{"url_path": {"path": {"prefix": "/info"}}}""", "path prefix:/info")]
    [InlineData("""{"url_path": {"path": {"exact": "/Data", "ignore_case": true}}}""", "path exact/i:/Data")]
    [InlineData("""{"requested_server_name": {"suffix": ".foo.svc"}}""", "sni suffix:.foo.svc")]
    public void Translate_HttpLayerMatcher_BecomesL7Node(string json, string text)
    {
        var matcher = Permission(json);

        Assert.Equal(text, matcher.ToString());
        Assert.Equal(text.StartsWith("unsupported", StringComparison.Ordinal), matcher.HasUnsupported);
        Assert.Equal(!matcher.HasUnsupported, matcher.UsesL7);
    }

    [Theory]
    [InlineData("""{"header": {"name": ":method", "exact_match": "GET"}}""", "unsupported(header :method in network RBAC)")]
    [InlineData("""{"url_path": {"path": {"prefix": "/info"}}}""", "unsupported(url_path in network RBAC)")]
    [InlineData("""{"requested_server_name": {"exact": "a.b"}}""", "sni exact:a.b")]
    public void Translate_NetworkLayer_RequestMatchersStayUnsupportedButSniIsRead(string json, string text)
    {
        // The network filter never sees a request (Envoy gives it an empty header map); the ClientHello it does see.
        Assert.Equal(text, Permission(json, RbacFilterLayer.Network).ToString());
    }

    [Fact]
    public void Translate_PrincipalHeaderAndPath_BecomeL7Nodes()
    {
        var principal = EnvoyJson.Parse<Envoy.Config.Rbac.V3.Principal>("""
            {"or_ids": {"ids": [
              {"header": {"name": "x-user", "string_match": {"exact": "alice"}}},
              {"url_path": {"path": {"prefix": "/public/"}}}]}}
            """);

        var matcher = RbacTranslator.Translate(principal, RbacFilterLayer.Http);

        Assert.Equal("or(header x-user exact:alice, path prefix:/public/)", matcher.ToString());
        Assert.True(matcher.UsesHttpRequest);
    }

    [Fact]
    public void Translate_HttpGolden_OnlyJwtMetadataStaysUnsupported()
    {
        // istiod's HTTP RBAC for hosts, methods, paths, ports, IPs, principals and request principals (JWT).
        var filter = EnvoyJson.ParseYaml<HttpFilter>(Corpus.ReadText("authz-golden/http/single-policy-out.yaml"));
        Assert.True(filter.TypedConfig.TryUnpackConfig(out HttpRbac? rbac));

        var engine = RbacTranslator.Translate(rbac.Rules, RbacFilterLayer.Http);

        Assert.NotNull(engine);
        Assert.True(engine.UsesL7);
        var texts = string.Join("\n", engine.Policies.Select(p => p.Text));
        Assert.Contains("header :authority exact/i:rule[0]-to[0]-host[1]", texts, StringComparison.Ordinal);
        Assert.Contains("header :method exact:rule[0]-to[0]-method[1]", texts, StringComparison.Ordinal);
        Assert.Contains("path exact:rule[0]-to[0]-path[1]", texts, StringComparison.Ordinal);
        Assert.DoesNotContain("unsupported(header", texts, StringComparison.Ordinal);
        Assert.DoesNotContain("unsupported(url_path", texts, StringComparison.Ordinal);
        // Request principals are JWT claims in dynamic metadata: Envoy's alone.
        Assert.Contains("unsupported(metadata envoy.filters.http.jwt_authn)", texts, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_TranslatedHttpRbac_DecidedFromTheFirstRequest()
    {
        // ALLOW GET on /info* or POST /data, from anyone, for hosts httpbin.foo; DENY anything with x-debug present.
        var allow = EnvoyJson.Parse<Envoy.Config.Rbac.V3.RBAC>("""
            {"policies": {"allow-info": {
              "permissions": [{"and_rules": {"rules": [
                {"header": {"name": ":authority", "string_match": {"exact": "HTTPBIN.foo", "ignore_case": true}}},
                {"or_rules": {"rules": [
                  {"and_rules": {"rules": [{"header": {"name": ":method", "exact_match": "GET"}}, {"url_path": {"path": {"prefix": "/info"}}}]}},
                  {"and_rules": {"rules": [{"header": {"name": ":method", "exact_match": "POST"}}, {"url_path": {"path": {"exact": "/data"}}}]}}]}}]}}],
              "principals": [{"any": true}]}}}
            """);
        var deny = EnvoyJson.Parse<Envoy.Config.Rbac.V3.RBAC>("""
            {"action": "DENY", "policies": {"no-debug": {
              "permissions": [{"header": {"name": "x-debug", "present_match": true}}],
              "principals": [{"any": true}]}}}
            """);
        var model = new RbacModel(
            [RbacTranslator.Translate(deny, RbacFilterLayer.Http)!, RbacTranslator.Translate(allow, RbacFilterLayer.Http)!],
            0);

        Assert.True(model.UsesL7);
        Assert.False(model.HasUnsupported);
        var allowed = RbacEvaluator.Evaluate(model, Get("/info/status?verbose=1"));
        Assert.Equal(RbacDecision.Allow, allowed.Decision);
        Assert.Equal("allow-info", allowed.Policy);
        Assert.Equal(RbacDecision.Deny, RbacEvaluator.Evaluate(model, Get("/admin")).Decision);
        Assert.Equal(RbacDecision.Deny, RbacEvaluator.Evaluate(model, Get("/data")).Decision);
        Assert.Equal("no-debug", RbacEvaluator.Evaluate(model, Get("/info", ("X-Debug", "1"))).Policy);
        // Normalised by Envoy to /admin; ax does not guess.
        Assert.Equal(RbacDecision.Chain, RbacEvaluator.Evaluate(model, Get("/info/../admin")).Decision);
        // Not peeked: nothing L7 is known.
        Assert.Equal(RbacDecision.Chain, RbacEvaluator.Evaluate(model, new IPEndPoint(Peer, 40000), 80, null).Decision);
    }
}
