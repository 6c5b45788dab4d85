using System.Net;
using Envoy.Config.Rbac.V3;
using Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Google.Protobuf.WellKnownTypes;
using Istio.AppSwitch.Rbac;
using Istio.AppSwitch.Xds.Resources;
using Istio.AppSwitch.Xds.Tests.Resources;
using Istio.AppSwitch.Xds.Translation;
using HttpRbac = Envoy.Extensions.Filters.Http.Rbac.V3.RBAC;

namespace Istio.AppSwitch.Xds.Tests.Translation;

/// <summary>
/// The listeners-only dump of istioctl's authz testdata: <c>virtualInbound</c> with network RBAC on TCP chains, HTTP RBAC
/// with request conditions and a CUSTOM (ext_authz) policy on HTTP chains, PERMISSIVE mTLS.
/// </summary>
public sealed class MeshTranslatorInboundTests
{
    private static readonly ConfigDumpReadResult Dump = ConfigDumpReader.Read(Corpus.ReadText(Corpus.ListenersRbacMtls));
    private static readonly IPEndPoint Peer = new(IPAddress.Parse("10.244.0.177"), 51000);

    private static MeshTranslation Translate(TranslationOptions? options = null) => MeshTranslator.Translate(Dump, options);

    [Fact]
    public void Translate_Port80_HttpRbacWithRequestConditionsAndExtAuthz_Chains()
    {
        var port = Translate().FindInbound(80);

        Assert.NotNull(port);
        Assert.Equal("virtualInbound", port.Listener);
        Assert.Equal(ServiceProtocol.Http, port.Protocol);
        Assert.Equal(PeerAuthenticationMode.Permissive, port.PeerAuthentication);
        Assert.Equal("inbound|80||", port.Cluster);
        Assert.Equal(TranslationMode.Chain, port.Mode);
        Assert.Equal(
            [ChainReason.HttpRbacL7, ChainReason.L7RbacOverTls, ChainReason.ExtAuthz, ChainReason.PrincipalRequiresIdentity],
            port.Causes.Select(c => c.Reason).Distinct().ToArray());
        Assert.True(port.RequiresPeerIdentity);

        var engine = Assert.Single(port.Rbac.Engines);
        Assert.Equal(RbacAction.Allow, engine.Action);
        Assert.Equal("ns[default]-policy[httpbin]-rule[0]", Assert.Single(engine.Policies).Name);
        // The CUSTOM policy is a shadow rule that only marks requests for ext_authz: counted, not enforced.
        Assert.Equal(1, port.Rbac.ShadowPolicyCount);
    }

    [Fact]
    public void Evaluate_Port80_AllowsNobodyForSureAndDeniesWhoCanNeverMatch()
    {
        // ALLOW from principal .../sa/sleep (or ns test) AND a JWT issuer, for GET /info or POST /data. Method, path and
        // JWT are request-level: for sleep, only Envoy can decide (chain). Anyone else can never match: denied at accept.
        var rbac = Translate().FindInbound(80)!.Rbac;

        Assert.Equal(RbacDecision.Chain, RbacEvaluator.Evaluate(rbac, Peer, 80, "spiffe://cluster.local/ns/default/sa/sleep").Decision);
        Assert.Equal(RbacDecision.Chain, RbacEvaluator.Evaluate(rbac, Peer, 80, "spiffe://cluster.local/ns/test/sa/any").Decision);
        Assert.Equal(RbacDecision.Deny, RbacEvaluator.Evaluate(rbac, Peer, 80, "spiffe://cluster.local/ns/default/sa/other").Decision);
        Assert.Equal(RbacDecision.Deny, RbacEvaluator.Evaluate(rbac, Peer, 80, null).Decision);
    }

    [Fact]
    public void Translate_CatchAllTcpChains_AllowWithNoPoliciesDeniesEverything()
    {
        // The passthrough TCP chains carry `rules: {}` (every ALLOW rule had HTTP conditions): Envoy refuses all TCP
        // traffic to ports without their own chain. The HTTP catch-all chains carry the L7 policy: the port is chained.
        var port = Translate().FindInbound(0);
        Assert.NotNull(port);
        Assert.Equal(TranslationMode.Chain, port.Mode);
        Assert.Contains(port.Causes, c => c.Reason == ChainReason.RbacDiffersByChain);
        Assert.Equal(ServiceProtocol.Sniffed, port.Protocol);

        var tcpOnly = MeshTranslator.Translate(new TranslationInput(
            [],
            [],
            [TcpChainsOnly(Dump.DynamicListeners.Single(l => l.Name == "virtualInbound").Resource)],
            []));
        var tcp = tcpOnly.FindInbound(0);
        Assert.NotNull(tcp);
        Assert.Equal(TranslationMode.Fast, tcp.Mode);
        Assert.Empty(Assert.Single(tcp.Rbac.Engines).Policies);
        Assert.Equal(RbacDecision.Deny, RbacEvaluator.Evaluate(tcp.Rbac, Peer, 3306, "spiffe://cluster.local/ns/default/sa/sleep").Decision);
        Assert.Equal(RbacDecision.Deny, RbacEvaluator.Evaluate(tcp.Rbac, Peer, 3306, null).Decision);
    }

    [Fact]
    public void Translate_PeerIdentityKnown_NoPrincipalCauseButStillL7()
    {
        var port = Translate(new TranslationOptions { PeerIdentityKnown = true }).FindInbound(80);

        Assert.NotNull(port);
        Assert.True(port.RequiresPeerIdentity);
        Assert.DoesNotContain(port.Causes, c => c.Reason == ChainReason.PrincipalRequiresIdentity);
        Assert.Contains(port.Causes, c => c.Reason == ChainReason.HttpRbacL7);
    }

    [Fact]
    public void Translate_ListenersOnlyDump_OutboundWithoutClustersIsChainedNotGuessed()
    {
        // No CDS in this dump: every destination is an unknown cluster. ax must not connect anywhere on a guess.
        var translation = Translate();

        var kube = translation.FindOutbound("10.96.0.1:443");
        Assert.NotNull(kube);
        Assert.Equal(TranslationMode.Chain, kube.Mode);
        Assert.Equal(ChainReason.UnknownCluster, Assert.Single(kube.Causes).Reason);
        Assert.Contains(translation.Diagnostics, d => d.ResourceName == "main_internal" && d.Severity == DiagnosticSeverity.Info);
        Assert.Contains(translation.Diagnostics, d => d.Message == "route configuration 9080 is missing");
    }

    [Fact]
    public void Translate_NetworkRbacOnPrincipal_ChainsUntilIdentityIsKnownThenEvaluates()
    {
        // A port with only the golden ALLOW filter (from namespaces ns-1 to port 80) in front of tcp_proxy.
        var listener = EnvoyJson.Parse<Envoy.Config.Listener.V3.Listener>("""
            {
              "name": "virtualInbound",
              "address": {"socket_address": {"address": "0.0.0.0", "port_value": 15006}},
              "traffic_direction": "INBOUND",
              "filter_chains": [{
                "filter_chain_match": {"destination_port": 80, "transport_protocol": "tls"},
                "transport_socket": {"name": "envoy.transport_sockets.tls"},
                "filters": [
                  {"name": "envoy.filters.network.rbac", "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC",
                    "stat_prefix": "tcp.",
                    "rules": {"policies": {"ns1": {
                      "permissions": [{"destination_port": 80}],
                      "principals": [{"authenticated": {"principal_name": {"safe_regex": {"regex": ".*/ns/ns-1/.*"}}}}]}}}}},
                  {"name": "envoy.filters.network.tcp_proxy", "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
                    "stat_prefix": "inbound|80||", "cluster": "inbound|80||"}}
                ]
              }]
            }
            """);
        var input = new TranslationInput([], [], [listener], []);

        var unknown = MeshTranslator.Translate(input).FindInbound(80)!;
        Assert.Equal(TranslationMode.Chain, unknown.Mode);
        Assert.Equal("principal_requires_identity", Assert.Single(unknown.Causes).Code);
        Assert.Equal(PeerAuthenticationMode.Strict, unknown.PeerAuthentication);

        var known = MeshTranslator.Translate(input, new TranslationOptions { PeerIdentityKnown = true }).FindInbound(80)!;
        Assert.Equal(TranslationMode.Fast, known.Mode);
        Assert.Equal(RbacDecision.Allow, RbacEvaluator.Evaluate(known.Rbac, Peer, 80, "spiffe://cluster.local/ns/ns-1/sa/a").Decision);
        Assert.Equal(RbacDecision.Deny, RbacEvaluator.Evaluate(known.Rbac, Peer, 80, "spiffe://cluster.local/ns/ns-2/sa/a").Decision);
    }

    [Fact]
    public void Translate_Port80Strict_L7RbacOverTlsChains()
    {
        // STRICT keeps only the mTLS chain: the method and path are inside TLS that Envoy terminates. JWT and ext_authz
        // aside, the TLS alone keeps the port chained.
        var port = TranslatePort80(c => c.TransportSocket is not null, withoutJwtAndExtAuthz: true);

        Assert.Equal(PeerAuthenticationMode.Strict, port.PeerAuthentication);
        Assert.Equal(TranslationMode.Chain, port.Mode);
        Assert.Equal(ChainReason.L7RbacOverTls, Assert.Single(port.Causes).Reason);
        Assert.True(port.Rbac.UsesL7);
    }

    [Fact]
    public void Translate_Port80Plaintext_MethodAndPathModelledOnlyJwtStaysUnsupported()
    {
        // PeerAuthentication DISABLE keeps only the raw_buffer chain: no TLS, so the request is readable. What still
        // chains is the request principal (JWT claims in istio_authn metadata), and ext_authz.
        var port = TranslatePort80(c => c.TransportSocket is null, withoutJwtAndExtAuthz: false);

        Assert.Equal(PeerAuthenticationMode.Plaintext, port.PeerAuthentication);
        Assert.Equal([ChainReason.HttpRbacL7, ChainReason.ExtAuthz], port.Causes.Select(c => c.Reason).Distinct().ToArray());
        var text = Assert.Single(port.Rbac.Engines[0].Policies).Text;
        Assert.Contains("header :method exact:GET", text, StringComparison.Ordinal);
        Assert.Contains("path prefix:/info", text, StringComparison.Ordinal);
        Assert.Contains("path exact:/data", text, StringComparison.Ordinal);
        Assert.Contains("unsupported(metadata istio_authn)", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Translate_Port80PlaintextWithoutJwt_FastAndDecidedFromTheFirstRequest()
    {
        // The same port with the principal rule only (no JWT, no CUSTOM): nothing is left for Envoy.
        var port = TranslatePort80(c => c.TransportSocket is null, withoutJwtAndExtAuthz: true);

        Assert.Equal(TranslationMode.Fast, port.Mode);
        Assert.Empty(port.Causes);
        Assert.True(port.Rbac.UsesL7);
        Assert.False(port.Rbac.HasUnsupported);

        const string sleep = "spiffe://cluster.local/ns/default/sa/sleep";
        Assert.Equal(RbacDecision.Allow, Decide(port.Rbac, sleep, "GET", "/info/headers?x=1"));
        Assert.Equal(RbacDecision.Allow, Decide(port.Rbac, sleep, "POST", "/data"));
        Assert.Equal(RbacDecision.Deny, Decide(port.Rbac, sleep, "POST", "/info"));
        Assert.Equal(RbacDecision.Deny, Decide(port.Rbac, sleep, "GET", "/status/200"));
        Assert.Equal(RbacDecision.Deny, Decide(port.Rbac, "spiffe://cluster.local/ns/default/sa/other", "GET", "/info"));
        // /info/../status is /status to Envoy: never allowed on its text.
        Assert.Equal(RbacDecision.Chain, Decide(port.Rbac, sleep, "GET", "/info/../status"));
        Assert.Equal(RbacDecision.Chain, RbacEvaluator.Evaluate(port.Rbac, Peer, 80, sleep).Decision);
    }

    private static RbacDecision Decide(RbacModel rbac, string principal, string method, string path) =>
        RbacEvaluator.Evaluate(rbac, new RbacRequest(
            Peer.Address,
            Peer.Port,
            IPAddress.Parse("10.244.0.20"),
            80,
            principal,
            new RbacL7(null, method, path, "httpbin", [KeyValuePair.Create("Host", "httpbin")], IsHttp: true, HeadersComplete: true))).Decision;

    // Port 80 of the corpus's virtualInbound with only the chains `keep` selects, optionally without the request principal
    // (JWT) conditions and the CUSTOM (ext_authz) policy.
    private static InboundPort TranslatePort80(Func<Envoy.Config.Listener.V3.FilterChain, bool> keep, bool withoutJwtAndExtAuthz)
    {
        var copy = Dump.DynamicListeners.Single(l => l.Name == "virtualInbound").Resource.Clone();
        var chains = copy.FilterChains.Where(c => c.FilterChainMatch?.DestinationPort == 80 && keep(c)).ToList();
        Assert.Single(chains);
        if (withoutJwtAndExtAuthz)
        {
            foreach (var filter in chains.SelectMany(c => c.Filters))
            {
                if (filter.TypedConfig.TryUnpackConfig(out HttpConnectionManager? hcm))
                {
                    StripJwtAndExtAuthz(hcm);
                    filter.TypedConfig = Any.Pack(hcm);
                }
            }
        }
        copy.FilterChains.Clear();
        copy.FilterChains.Add(chains);
        var port = MeshTranslator.Translate(new TranslationInput([], [], [copy], []), new TranslationOptions { PeerIdentityKnown = true }).FindInbound(80);
        Assert.NotNull(port);
        return port;
    }

    private static void StripJwtAndExtAuthz(HttpConnectionManager hcm)
    {
        var keep = new List<HttpFilter>();
        foreach (var filter in hcm.HttpFilters)
        {
            if (filter.Name == "envoy.filters.http.ext_authz")
            {
                continue;
            }
            if (filter.TypedConfig.TryUnpackConfig(out HttpRbac? rbac) && rbac.Rules is { } rules)
            {
                foreach (var policy in rules.Policies.Values)
                {
                    foreach (var principal in policy.Principals.Where(p => p.IdentifierCase == Principal.IdentifierOneofCase.AndIds))
                    {
                        var ids = principal.AndIds.Ids.Where(i => !(i.OrIds?.Ids.Any(m => m.IdentifierCase == Principal.IdentifierOneofCase.Metadata) ?? false)).ToList();
                        principal.AndIds.Ids.Clear();
                        principal.AndIds.Ids.Add(ids);
                    }
                }
                filter.TypedConfig = Any.Pack(rbac);
            }
            keep.Add(filter);
        }
        hcm.HttpFilters.Clear();
        hcm.HttpFilters.Add(keep);
    }

    private static Envoy.Config.Listener.V3.Listener TcpChainsOnly(Envoy.Config.Listener.V3.Listener listener)
    {
        var copy = listener.Clone();
        var keep = copy.FilterChains.Where(c => c.FilterChainMatch?.DestinationPort is null or 0 && c.Filters.Any(f => f.Name == "envoy.filters.network.rbac")).ToList();
        copy.FilterChains.Clear();
        copy.FilterChains.Add(keep);
        return copy;
    }
}
