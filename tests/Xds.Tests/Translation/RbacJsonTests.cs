using System.Net;
using System.Text;
using Envoy.Config.Listener.V3;
using Istio.AppSwitch.Rbac;
using Istio.AppSwitch.Xds.Resources;
using Istio.AppSwitch.Xds.Tests.Resources;
using Istio.AppSwitch.Xds.Translation;
using Istio.AppSwitch.Xds.Translation.Rbac;
using HttpRbac = Envoy.Extensions.Filters.Http.Rbac.V3.RBAC;
using NetworkRbac = Envoy.Extensions.Filters.Network.Rbac.V3.RBAC;

namespace Istio.AppSwitch.Xds.Tests.Translation;

/// <summary>
/// The JSON form of the RBAC model that the agent sends the daemon: every inbound RBAC the real corpus translates to
/// survives the trip, and bad JSON is an <see cref="RbacJsonException"/> with a path, never another exception.
/// </summary>
public sealed class RbacJsonTests
{
    public static TheoryData<string> CorpusModels()
    {
        var data = new TheoryData<string>();
        foreach (var (name, _) in AllCorpusModels())
        {
            data.Add(name);
        }
        return data;
    }

    private static IEnumerable<(string Name, RbacModel Model)> AllCorpusModels()
    {
        foreach (var dir in new[] { "sidecar-full", "sidecar-partial" })
        {
            foreach (var file in Directory.GetFiles(Corpus.PathOf(dir)).Order(StringComparer.Ordinal))
            {
                var dump = ConfigDumpReader.Read(File.ReadAllText(file));
                foreach (var port in MeshTranslator.Translate(dump).Inbound)
                {
                    yield return ($"{dir}/{Path.GetFileName(file)} inbound port {port.Port}", port.Rbac);
                }
            }
        }
        foreach (var file in Directory.GetFiles(Corpus.PathOf("authz-golden/tcp"), "*-out.yaml").Order(StringComparer.Ordinal))
        {
            var filter = EnvoyJson.ParseYaml<Filter>(File.ReadAllText(file));
            Assert.True(filter.TypedConfig.TryUnpackConfig(out NetworkRbac? rbac));
            yield return ($"authz-golden/tcp/{Path.GetFileName(file)}", new RbacModel([RbacTranslator.Translate(rbac.Rules, RbacFilterLayer.Network)!], rbac.ShadowRules?.Policies.Count ?? 0));
        }
        foreach (var file in Directory.GetFiles(Corpus.PathOf("authz-golden/http"), "*-out.yaml").Order(StringComparer.Ordinal))
        {
            var filter = EnvoyJson.ParseYaml<Envoy.Extensions.Filters.Network.HttpConnectionManager.V3.HttpFilter>(File.ReadAllText(file));
            Assert.True(filter.TypedConfig.TryUnpackConfig(out HttpRbac? rbac));
            yield return ($"authz-golden/http/{Path.GetFileName(file)}", new RbacModel([RbacTranslator.Translate(rbac.Rules, RbacFilterLayer.Http)!], rbac.ShadowRules?.Policies.Count ?? 0));
        }
    }

    [Theory]
    [MemberData(nameof(CorpusModels))]
    public void Parse_EveryCorpusInboundRbac_RoundTrips(string name)
    {
        var model = AllCorpusModels().Single(m => m.Name == name).Model;

        var json = RbacJson.ToUtf8Bytes(model);
        var back = RbacJson.Parse(json);

        Assert.True(back.SameAs(model), name);
        Assert.Equal(model.ShadowPolicyCount, back.ShadowPolicyCount);
        // Byte for byte: what SameAs does not compare (ignoreCase, ports as ranges) survives too.
        Assert.Equal(Encoding.UTF8.GetString(json), Encoding.UTF8.GetString(RbacJson.ToUtf8Bytes(back)));
        // And through the DTO's JsonElement.
        Assert.True(RbacJson.Read(RbacJson.ToElement(model)).SameAs(model));
    }

    [Fact]
    public void Parse_CorpusHasRulesOfEveryKindAx_EnforcesAndChains()
    {
        var all = AllCorpusModels().Select(m => m.Model).ToList();
        var texts = string.Join("\n", all.SelectMany(m => m.Engines).SelectMany(e => e.Policies).Select(p => p.Text));

        // The round trip above is only worth something if the corpus exercises the matchers.
        Assert.Contains("source_ip", texts, StringComparison.Ordinal);
        Assert.Contains("principal", texts, StringComparison.Ordinal);
        Assert.Contains("unsupported(", texts, StringComparison.Ordinal);
        Assert.Contains("port ", texts, StringComparison.Ordinal);
        Assert.Contains("not(", texts, StringComparison.Ordinal);
        Assert.Contains(all, m => m.Engines.Any(e => e.Action == RbacAction.Deny));
        Assert.Contains(all, m => m.Engines.Any(e => e.Action == RbacAction.Log));
    }

    [Fact]
    public void Parse_HandWrittenModel_EvaluatesAsWritten()
    {
        var model = RbacJson.Parse(Encoding.UTF8.GetBytes("""
            {"engines": [
              {"action": "deny", "policies": [{"name": "deny-3", "permissions": [{"any": true}], "principals": [{"sourceIp": "127.0.0.3/32"}]}]},
              {"action": "allow", "policies": [{"name": "allow-2", "permissions": [{"destinationPort": {"start": 8000, "end": 8999}}],
                "principals": [{"or": [{"sourceIp": "127.0.0.2/32"}, {"principal": {"prefix": "spiffe://cluster.local/ns/good/", "ignoreCase": true}}]}]}]}
            ]}
            """));

        Assert.Equal(RbacDecision.Deny, RbacEvaluator.Evaluate(model, new IPEndPoint(IPAddress.Parse("127.0.0.3"), 1), 8080, null).Decision);
        Assert.Equal(RbacDecision.Allow, RbacEvaluator.Evaluate(model, new IPEndPoint(IPAddress.Parse("127.0.0.2"), 1), 8080, null).Decision);
        Assert.Equal(RbacDecision.Allow, RbacEvaluator.Evaluate(model, new IPEndPoint(IPAddress.Parse("127.0.0.9"), 1), 8080, "SPIFFE://cluster.local/ns/GOOD/sa/x").Decision);
        Assert.Equal(RbacDecision.Deny, RbacEvaluator.Evaluate(model, new IPEndPoint(IPAddress.Parse("127.0.0.2"), 1), 9000, null).Decision);
        Assert.Equal(0, model.ShadowPolicyCount);
    }

    [Theory]
    [InlineData("{\"engines\": [", "", "malformed JSON")]
    [InlineData("[]", "", "must be an object")]
    [InlineData("{\"engines\": {}}", "engines", "must be a list")]
    [InlineData("{\"engines\": [{\"policies\": []}]}", "engines[0].action", "required")]
    [InlineData("{\"engines\": [{\"action\": \"audit\", \"policies\": []}]}", "engines[0].action", "allow")]
    [InlineData("{\"engines\": [{\"action\": \"allow\", \"policies\": [{\"name\": \"p\", \"permissions\": [{\"any\": true}]}]}]}", "engines[0].policies[0].principals", "required")]
    [InlineData("{\"engines\": [{\"action\": \"allow\", \"policies\": [{\"name\": \"p\", \"permissions\": [{\"any\": true}], \"principals\": [{\"or\": [{\"any\": true}, {\"sourceIp\": \"127.0.0.1/33\"}]}]}]}]}", "engines[0].policies[0].principals[0].or[1].sourceIp", "CIDR")]
    [InlineData("{\"engines\": [{\"action\": \"deny\", \"policies\": [{\"name\": \"p\", \"permissions\": [{\"header\": \":path\"}], \"principals\": []}]}]}", "engines[0].policies[0].permissions[0].header", "must be an object")]
    [InlineData("{\"engines\": [{\"action\": \"deny\", \"policies\": [{\"name\": \"p\", \"permissions\": [{\"any\": true, \"not\": {\"any\": true}}], \"principals\": []}]}]}", "engines[0].policies[0].permissions[0]", "exactly one field")]
    [InlineData("{\"engines\": [{\"action\": \"deny\", \"policies\": [{\"name\": \"p\", \"permissions\": [{\"destinationPort\": {\"start\": 90, \"end\": 80}}], \"principals\": []}]}]}", "engines[0].policies[0].permissions[0].destinationPort.end", "below")]
    [InlineData("{\"engines\": [{\"action\": \"deny\", \"policies\": [{\"name\": \"p\", \"permissions\": [], \"principals\": [{\"principal\": {\"regex\": \"(\"}}]}]}]}", "engines[0].policies[0].principals[0].principal.regex", "regex")]
    [InlineData("{\"engines\": [], \"shadow\": 1}", "shadow", "not a known field")]
    public void Parse_BadJson_RbacJsonExceptionWithPath(string json, string path, string problem)
    {
        var error = Assert.Throws<RbacJsonException>(() => RbacJson.Parse(Encoding.UTF8.GetBytes(json)));

        Assert.Equal(path, error.Path);
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_DeepNesting_RefusedWithPathNotStackOverflow()
    {
        var deep = new StringBuilder();
        for (var i = 0; i < 1000; i++)
        {
            deep.Append("{\"not\":");
        }
        deep.Append("{\"any\":true}").Append('}', 1000);
        var json = $"{{\"engines\": [{{\"action\": \"deny\", \"policies\": [{{\"name\": \"p\", \"permissions\": [{deep}], \"principals\": []}}]}}]}}";

        var error = Assert.Throws<RbacJsonException>(() => RbacJson.Parse(Encoding.UTF8.GetBytes(json)));
        Assert.Contains("malformed JSON", error.Message, StringComparison.Ordinal);

        // Within the parser's depth but beyond the model's.
        var model = new RbacModel([new RbacEngine(RbacAction.Deny, [new RbacPolicy("p", [Nest(RbacJson.MaxDepth + 2)], [])])], 0);
        var tooDeep = Assert.Throws<RbacJsonException>(() => RbacJson.Read(RbacJson.ToElement(model)));
        Assert.StartsWith("engines[0].policies[0].permissions[0].not.not.", tooDeep.Path, StringComparison.Ordinal);
        Assert.Contains("deeper", tooDeep.Message, StringComparison.Ordinal);
    }

    private static RbacMatcher Nest(int depth) => depth == 0 ? RbacMatcher.Any.Instance : new RbacMatcher.Not(Nest(depth - 1));

    [Fact]
    public void Write_EveryMatcherKind_DocumentedShape()
    {
        var model = new RbacModel(
            [new RbacEngine(RbacAction.Allow, [new RbacPolicy("p",
                [new RbacMatcher.And([new RbacMatcher.DestinationPort(80, 80), new RbacMatcher.DestinationIp(IPNetwork.Parse("127.0.0.0/8"))])],
                [new RbacMatcher.Or([new RbacMatcher.Principal(null), new RbacMatcher.Principal(new StringMatcher(StringMatchKind.Exact, "spiffe://x", false)),
                    new RbacMatcher.Not(new RbacMatcher.SourceIp(IPNetwork.Parse("::1/128"))), new RbacMatcher.Unsupported("header :path")])])])],
            2);

        var json = Encoding.UTF8.GetString(RbacJson.ToUtf8Bytes(model));

        Assert.Equal(
            """{"shadowPolicies":2,"engines":[{"action":"allow","policies":[{"name":"p","permissions":[{"and":[{"destinationPort":{"start":80,"end":80}},{"destinationIp":"127.0.0.0/8"}]}],"principals":[{"or":[{"principal":null},{"principal":{"exact":"spiffe://x"}},{"not":{"sourceIp":"::1/128"}},{"unsupported":"header :path"}]}]}]}]}""",
            json);
        Assert.True(RbacJson.Parse(Encoding.UTF8.GetBytes(json)).SameAs(model));
    }
}
