using System.Text;
using Istio.AppSwitch.Rbac;

namespace Istio.AppSwitch.Dataplane.Tests.Rbac;

/// <summary>The JSON form of the L7 matchers: every node and flag survives the trip, and a bad node is named by its path.</summary>
public sealed class RbacJsonL7Tests
{
    private static RbacModel Model(params RbacMatcher[] permissions) =>
        new([new RbacEngine(RbacAction.Deny, [new RbacPolicy("p", [.. permissions], [RbacMatcher.Any.Instance])])], 0);

    public static TheoryData<string, string> Nodes() => new()
    {
        { "path", """{"urlPath":{"path":{"prefix":"/admin"}}}""" },
        { "path, case ignored, query matched", """{"urlPath":{"path":{"exact":"/A?b=1","ignoreCase":true},"ignoreQuery":false}}""" },
        { "header value", """{"header":{"name":":method","value":{"exact":"GET"}}}""" },
        { "header regex", """{"header":{"name":"x-v","value":{"regex":"v[0-9]{1,3}"}}}""" },
        { "header present", """{"header":{"name":"x-debug","present":true}}""" },
        { "header absent", """{"header":{"name":"x-debug","present":true,"invert":true}}""" },
        { "header every flag", """{"header":{"name":":authority","value":{"suffix":".foo","ignoreCase":true},"invert":true,"treatMissingAsEmpty":true}}""" },
        { "sni", """{"requestedServerName":{"exact":"api.example.com"}}""" },
        { "nested", """{"not":{"or":[{"urlPath":{"path":{"contains":"/v2/"}}},{"requestedServerName":{"suffix":".internal"}}]}}""" },
    };

    [Theory]
    [MemberData(nameof(Nodes))]
    public void Parse_EveryL7Node_RoundTripsByteForByte(string what, string matcher)
    {
        var json = $$"""{"shadowPolicies":0,"engines":[{"action":"deny","policies":[{"name":"p","permissions":[{{matcher}}],"principals":[{"any":true}]}]}]}""";

        var model = RbacJson.Parse(Encoding.UTF8.GetBytes(json));

        Assert.True(model.UsesL7, what);
        Assert.Equal(json, Encoding.UTF8.GetString(RbacJson.ToUtf8Bytes(model)));
        Assert.True(RbacJson.Read(RbacJson.ToElement(model)).SameAs(model), what);
    }

    [Fact]
    public void Write_L7Nodes_DocumentedShapeAndTheSameDecisions()
    {
        var model = Model(
            new RbacMatcher.UrlPath(new StringMatcher(StringMatchKind.Prefix, "/admin", false)),
            new RbacMatcher.Header("x-debug", HeaderMatch.Present()),
            new RbacMatcher.RequestedServerName(new StringMatcher(StringMatchKind.Exact, "evil", false)));

        var json = Encoding.UTF8.GetString(RbacJson.ToUtf8Bytes(model));
        var back = RbacJson.Parse(Encoding.UTF8.GetBytes(json));

        Assert.Equal(
            """{"shadowPolicies":0,"engines":[{"action":"deny","policies":[{"name":"p","permissions":[{"urlPath":{"path":{"prefix":"/admin"}}},{"header":{"name":"x-debug","present":true}},{"requestedServerName":{"exact":"evil"}}],"principals":[{"any":true}]}]}]}""",
            json);
        var request = new RbacRequest(
            System.Net.IPAddress.Loopback,
            1,
            null,
            80,
            null,
            new RbacL7(null, "GET", "/admin/users", "h", [], IsHttp: true, HeadersComplete: true));
        Assert.Equal(RbacDecision.Deny, RbacEvaluator.Evaluate(back, request).Decision);
        Assert.Equal(RbacDecision.Allow, RbacEvaluator.Evaluate(back, request with { L7 = request.L7! with { Path = "/public" } }).Decision);
    }

    [Theory]
    [InlineData("""{"urlPath": "/admin"}""", "urlPath", "must be an object")]
    [InlineData("""{"urlPath": {}}""", "urlPath.path", "required")]
    [InlineData("""{"urlPath": {"path": {"prefix": "/a"}, "query": true}}""", "urlPath.query", "not a known field")]
    [InlineData("""{"urlPath": {"path": {"prefix": "/a"}, "ignoreQuery": "no"}}""", "urlPath.ignoreQuery", "true or false")]
    [InlineData("""{"urlPath": {"path": {"glob": "/a*"}}}""", "urlPath.path.glob", "not a known field")]
    [InlineData("""{"urlPath": {"path": {"regex": "(/a"}}}""", "urlPath.path.regex", "regex")]
    [InlineData("""{"header": {"value": {"exact": "GET"}}}""", "header.name", "required")]
    [InlineData("""{"header": {"name": "", "present": true}}""", "header.name", "non-empty")]
    [InlineData("""{"header": {"name": "x"}}""", "header", "exactly one of")]
    [InlineData("""{"header": {"name": "x", "present": true, "value": {"exact": "1"}}}""", "header", "exactly one of")]
    [InlineData("""{"header": {"name": "x", "present": false}}""", "header.present", "invert")]
    [InlineData("""{"header": {"name": "x", "present": true, "invert": 1}}""", "header.invert", "true or false")]
    [InlineData("""{"header": {"name": "x", "present": true, "treatMissingAsEmpty": null}}""", "header.treatMissingAsEmpty", "true or false")]
    [InlineData("""{"header": {"name": "x", "value": "GET"}}""", "header.value", "must be an object")]
    [InlineData("""{"header": {"name": "x", "present": true, "range": [1, 2]}}""", "header.range", "not a known field")]
    [InlineData("""{"requestedServerName": "a.b"}""", "requestedServerName", "must be an object")]
    [InlineData("""{"requestedServerName": {}}""", "requestedServerName", "one of exact")]
    [InlineData("""{"not": {"requestedServerName": {"exact": 1}}}""", "not.requestedServerName.exact", "must be a string")]
    [InlineData("""{"sni": {"exact": "a"}}""", "sni", "requestedServerName")]
    public void Parse_BadL7Node_RbacJsonExceptionWithPath(string matcher, string path, string problem)
    {
        var json = $$"""{"engines": [{"action": "deny", "policies": [{"name": "p", "permissions": [{"any": true}], "principals": [{"or": [{"any": true}, {{matcher}}]}]}]}]}""";

        var error = Assert.Throws<RbacJsonException>(() => RbacJson.Parse(Encoding.UTF8.GetBytes(json)));

        Assert.Equal($"engines[0].policies[0].principals[0].or[1].{path}", error.Path);
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
    }
}
