using System.Net;
using Envoy.Config.Listener.V3;
using Istio.AppSwitch.Rbac;
using Istio.AppSwitch.Xds.Resources;
using Istio.AppSwitch.Xds.Tests.Resources;
using Istio.AppSwitch.Xds.Translation.Rbac;
using NetworkRbac = Envoy.Extensions.Filters.Network.Rbac.V3.RBAC;

namespace Istio.AppSwitch.Xds.Tests.Translation;

/// <summary>
/// The network RBAC filters istiod emits for TCP chains (<c>authz-golden/tcp/*-out.yaml</c>), translated into ax's model and
/// evaluated as Envoy would at accept time.
/// </summary>
public sealed class RbacEvaluatorGoldenTests
{
    private static readonly IPEndPoint Peer = new(IPAddress.Parse("10.1.2.3"), 40000);

    private static RbacModel Golden(string name)
    {
        var filter = EnvoyJson.ParseYaml<Filter>(Corpus.ReadText($"authz-golden/tcp/{name}"));
        Assert.Equal("envoy.filters.network.rbac", filter.Name);
        Assert.True(filter.TypedConfig.TryUnpackConfig(out NetworkRbac? rbac));
        var engine = RbacTranslator.Translate(rbac.Rules, RbacFilterLayer.Network);
        Assert.NotNull(engine);
        return new RbacModel([engine], rbac.ShadowRules?.Policies.Count ?? 0);
    }

    [Fact]
    public void Evaluate_AllowGolden_OnlyNs1PrincipalOnPort80()
    {
        // ALLOW: of the four rules only "from namespaces ns-1 to port 80" survives on a TCP chain; the others have
        // HTTP-only conditions (methods, requestPrincipals) and istiod drops them.
        var model = Golden("allow-both-http-tcp-out.yaml");
        var engine = Assert.Single(model.Engines);
        Assert.Equal(RbacAction.Allow, engine.Action);
        Assert.Equal("ns[foo]-policy[httpbin-deny]-rule[3]", Assert.Single(engine.Policies).Name);
        Assert.True(model.UsesPrincipal);
        Assert.False(model.HasUnsupported);

        var allowed = RbacEvaluator.Evaluate(model, Peer, 80, "spiffe://cluster.local/ns/ns-1/sa/sleep");
        Assert.Equal(RbacDecision.Allow, allowed.Decision);
        Assert.Equal("ns[foo]-policy[httpbin-deny]-rule[3]", allowed.Policy);

        Assert.Equal(RbacDecision.Deny, RbacEvaluator.Evaluate(model, Peer, 8080, "spiffe://cluster.local/ns/ns-1/sa/sleep").Decision);
        Assert.Equal(RbacDecision.Deny, RbacEvaluator.Evaluate(model, Peer, 80, "spiffe://cluster.local/ns/ns-2/sa/sleep").Decision);
        // A plain-text peer has no principal: `authenticated` never matches.
        Assert.Equal(RbacDecision.Deny, RbacEvaluator.Evaluate(model, Peer, 80, null).Decision);
    }

    [Fact]
    public void Evaluate_DenyGolden_HttpOnlyRulesWidenToAny()
    {
        // DENY: rules whose HTTP conditions cannot be checked on TCP become `any: true` and refuse everything.
        var model = Golden("deny-both-http-tcp-out.yaml");
        var engine = Assert.Single(model.Engines);
        Assert.Equal(RbacAction.Deny, engine.Action);
        Assert.Equal(11, engine.Policies.Length);

        var denied = RbacEvaluator.Evaluate(model, Peer, 12345, null);
        Assert.Equal(RbacDecision.Deny, denied.Decision);
        Assert.Equal("ns[foo]-policy[httpbin-deny]-rule[0]", denied.Policy);
    }

    [Fact]
    public void Translate_DenyGolden_SniIsModelledAndMetadataStaysUnsupported()
    {
        // rule[10] matches on requested_server_name (read from the ClientHello ax peeks at) and dynamic metadata (which
        // only Envoy has): the one is a matcher, the other stays unsupported, and neither is dropped.
        var model = Golden("deny-both-http-tcp-out.yaml");
        var rule10 = Assert.Single(model.Engines[0].Policies, p => p.Name == "ns[foo]-policy[httpbin-deny]-rule[10]");
        Assert.True(rule10.HasUnsupported);
        Assert.True(rule10.UsesL7);
        Assert.False(rule10.UsesHttpRequest);
        Assert.True(model.UsesL7);
        Assert.Contains("sni exact:exact.com", rule10.Text, StringComparison.Ordinal);
        Assert.Contains("not(or(sni exact:not-exact.com", rule10.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("unsupported(requested_server_name)", rule10.Text, StringComparison.Ordinal);
        Assert.Contains("unsupported(metadata envoy.filters.a.b)", rule10.Text, StringComparison.Ordinal);
        Assert.Contains("source_ip 172.18.4.0/22", rule10.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_DenyGoldenRule10Alone_DefiniteFalseBeatsUnknown()
    {
        // rule[10] asks for destination port 80 AND port 91 (two `ports` conditions of one rule), so it can never match,
        // whatever the SNI: three-valued logic sees that, and the connection is allowed without Envoy.
        var full = Golden("deny-both-http-tcp-out.yaml");
        var rule10 = full.Engines[0].Policies.Single(p => p.Name.EndsWith("rule[10]", StringComparison.Ordinal));
        var model = new RbacModel([new RbacEngine(RbacAction.Deny, [rule10])], 0);
        var request = new RbacRequest(IPAddress.Parse("1.2.3.4"), 40000, IPAddress.Parse("10.10.10.10"), 80, "spiffe://principal");

        Assert.Equal(RbacDecision.Allow, RbacEvaluator.Evaluate(model, request).Decision);
    }

    [Fact]
    public void Evaluate_DenyOnUnknownMatcher_ChainsInsteadOfAllowing()
    {
        // DENY to port 80 when SNI is exact.com: at accept time ax does not know the SNI, so it can neither allow nor deny.
        var policy = new RbacPolicy(
            "deny-sni",
            [new RbacMatcher.And([new RbacMatcher.DestinationPort(80, 80), new RbacMatcher.Unsupported("requested_server_name")])],
            [RbacMatcher.Any.Instance]);
        var model = new RbacModel([new RbacEngine(RbacAction.Deny, [policy])], 0);

        Assert.Equal(RbacDecision.Chain, RbacEvaluator.Evaluate(model, Peer, 80, null).Decision);
        // Another port fails the port condition whatever the SNI.
        Assert.Equal(RbacDecision.Allow, RbacEvaluator.Evaluate(model, Peer, 81, null).Decision);
    }

    [Fact]
    public void Evaluate_AuditGolden_NeverDeniesAndLogsOnlySureMatches()
    {
        var model = Golden("audit-both-http-tcp-out.yaml");
        Assert.Equal(RbacAction.Log, Assert.Single(model.Engines).Action);

        var result = RbacEvaluator.Evaluate(model, Peer, 80, "spiffe://principal");
        Assert.Equal(RbacDecision.Allow, result.Decision);
        // The only policy depends on SNI and metadata: not surely matched, so not logged.
        Assert.Empty(result.Logged);
    }

    [Fact]
    public void Evaluate_AllowEmptyPolicies_DeniesEverything()
    {
        // `rules: {}`: what istiod sends when every ALLOW rule had HTTP-only conditions. Envoy refuses all.
        var model = new RbacModel([new RbacEngine(RbacAction.Allow, [])], 0);
        Assert.Equal(RbacDecision.Deny, RbacEvaluator.Evaluate(model, Peer, 80, "spiffe://cluster.local/ns/a/sa/b").Decision);
    }

    [Fact]
    public void Evaluate_NoRbac_Allows()
    {
        Assert.Equal(RbacDecision.Allow, RbacEvaluator.Evaluate(RbacModel.None, Peer, 80, null).Decision);
    }

    [Fact]
    public void Evaluate_DenyBeforeAllow_DenyWinsAndIpv4MappedSourceMatches()
    {
        var deny = new RbacEngine(RbacAction.Deny, [new RbacPolicy("deny-lan", [RbacMatcher.Any.Instance], [new RbacMatcher.SourceIp(IPNetwork.Parse("192.168.0.0/16"))])]);
        var allow = new RbacEngine(RbacAction.Allow, [new RbacPolicy("allow-all", [RbacMatcher.Any.Instance], [RbacMatcher.Any.Instance])]);
        var model = new RbacModel([deny, allow], 0);

        var mapped = new IPEndPoint(IPAddress.Parse("::ffff:192.168.1.1"), 1234);
        var denied = RbacEvaluator.Evaluate(model, mapped, 80, null);
        Assert.Equal(RbacDecision.Deny, denied.Decision);
        Assert.Equal("deny-lan", denied.Policy);
        var allowed = RbacEvaluator.Evaluate(model, Peer, 80, null);
        Assert.Equal(RbacDecision.Allow, allowed.Decision);
        Assert.Equal("allow-all", allowed.Policy);
    }

    [Fact]
    public void Evaluate_NotIdAndPortRange_Honoured()
    {
        var policy = new RbacPolicy(
            "p",
            [new RbacMatcher.DestinationPort(8000, 8999)],
            [new RbacMatcher.Not(new RbacMatcher.Principal(new StringMatcher(StringMatchKind.Prefix, "spiffe://cluster.local/ns/evil/", false)))]);
        var model = new RbacModel([new RbacEngine(RbacAction.Allow, [policy])], 0);

        Assert.Equal(RbacDecision.Allow, RbacEvaluator.Evaluate(model, Peer, 8080, "spiffe://cluster.local/ns/good/sa/x").Decision);
        Assert.Equal(RbacDecision.Deny, RbacEvaluator.Evaluate(model, Peer, 8080, "spiffe://cluster.local/ns/evil/sa/x").Decision);
        Assert.Equal(RbacDecision.Deny, RbacEvaluator.Evaluate(model, Peer, 9000, "spiffe://cluster.local/ns/good/sa/x").Decision);
    }
}
