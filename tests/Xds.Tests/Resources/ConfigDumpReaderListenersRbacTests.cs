using Envoy.Config.Listener.V3;
using Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Envoy.Extensions.Filters.Network.TcpProxy.V3;
using Envoy.Extensions.TransportSockets.Tls.V3;
using Istio.AppSwitch.Xds.Resources;
using HttpRbac = Envoy.Extensions.Filters.Http.Rbac.V3.RBAC;
using NetworkRbac = Envoy.Extensions.Filters.Network.Rbac.V3.RBAC;
using RbacAction = Envoy.Config.Rbac.V3.RBAC.Types.Action;

namespace Istio.AppSwitch.Xds.Tests.Resources;

/// <summary>
/// The listeners-only dump from istioctl's authz testdata (<c>sidecar-partial</c>): RBAC on TCP and HTTP chains,
/// PERMISSIVE mTLS.
/// </summary>
public sealed class ConfigDumpReaderListenersRbacTests
{
    private static readonly ConfigDumpReadResult Result = ConfigDumpReader.Read(Corpus.ReadText(Corpus.ListenersRbacMtls));

    private static Listener VirtualInbound =>
        Assert.Single(Result.DynamicListeners, l => l.Name == "virtualInbound").Resource;

    [Fact]
    public void Read_ListenersDump_DecodesEveryListener()
    {
        Assert.Empty(Result.Errors);
        Assert.Equal(27, Result.DynamicListeners.Count);
        Assert.All(Result.DynamicListeners, l =>
        {
            Assert.Equal(DumpedResourceState.Active, l.State);
            Assert.Equal("2023-06-20T09:07:41Z/3", l.VersionInfo);
            Assert.Equal(l.Name, l.Resource.Name);
        });
        Assert.Equal(2, Result.Static.Listeners.Count);
        Assert.Empty(Result.DynamicClusters);
        Assert.Empty(Result.UnknownFields);
        Assert.Equal(5, Result.OpaqueCounts["type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz"]);
    }

    [Fact]
    public void FindNetworkFilters_VirtualInboundTcpChains_UnpackNetworkRbac()
    {
        var rbacFilters = VirtualInbound.FindNetworkFilters<NetworkRbac>();

        Assert.Equal(3, rbacFilters.Count);
        Assert.Equal(["tls", "raw_buffer", "tls"], rbacFilters.Select(f => f.FilterChain.FilterChainMatch.TransportProtocol));
        Assert.All(rbacFilters, f =>
        {
            Assert.Equal("envoy.filters.network.rbac", f.Filter.Name);
            Assert.Equal("tcp.", f.Config.StatPrefix);
            Assert.Equal("istio_dry_run_allow_", f.Config.ShadowRulesStatPrefix);
            // "rules": {} is an ALLOW policy that matches nothing; proto3 JSON omits the default action.
            Assert.Equal(RbacAction.Allow, f.Config.Rules.Action);
            Assert.Empty(f.Config.Rules.Policies);
            // The RBAC filter sits in front of the tcp_proxy of the same chain.
            var tcpProxy = f.FilterChain.Filters[^1].TypedConfig;
            Assert.True(tcpProxy.TryUnpackConfig(out TcpProxy? proxy));
            Assert.Equal("InboundPassthroughClusterIpv4", proxy.Cluster);
        });
    }

    [Fact]
    public void FindHttpFilters_VirtualInboundHttpChains_UnpackHttpRbac()
    {
        var connectionManagers = VirtualInbound.FindNetworkFilters<HttpConnectionManager>();
        Assert.Equal(4, connectionManagers.Count);

        foreach (var hcm in connectionManagers)
        {
            var rbac = hcm.Config.FindHttpFilters<HttpRbac>();
            Assert.Equal(2, rbac.Count);

            var allow = rbac[0].Config;
            Assert.Equal("envoy.filters.http.rbac", rbac[0].Filter.Name);
            Assert.Equal(RbacAction.Allow, allow.Rules.Action);
            var policy = Assert.Single(allow.Rules.Policies);
            Assert.Equal("ns[default]-policy[httpbin]-rule[0]", policy.Key);
            Assert.Equal(2, policy.Value.Permissions.Count);
            var method = policy.Value.Permissions[0].AndRules.Rules[0].OrRules.Rules[0].Header;
            Assert.Equal(":method", method.Name);
#pragma warning disable CS0612 // Deprecated in Envoy (string_match), still sent by Istio 1.18.
            Assert.Equal("GET", method.ExactMatch);
#pragma warning restore CS0612
            Assert.Equal("/info", policy.Value.Permissions[0].AndRules.Rules[1].OrRules.Rules[0].UrlPath.Path.Prefix);
            var peer = policy.Value.Principals[0].AndIds.Ids[0].OrIds.Ids[0].FilterState;
            Assert.Equal("io.istio.peer_principal", peer.Key);
            Assert.Equal("spiffe://cluster.local/ns/default/sa/sleep", peer.StringMatch.Exact);
            Assert.Equal(".*/ns/test/.*", policy.Value.Principals[1].AndIds.Ids[0].OrIds.Ids[0].FilterState.StringMatch.SafeRegex.Regex);

            // The CUSTOM (ext_authz) policy becomes a shadow DENY rule that only marks requests for ext_authz.
            var custom = rbac[1].Config;
            Assert.Null(custom.Rules);
            Assert.Equal(RbacAction.Deny, custom.ShadowRules.Action);
            Assert.Equal("istio_ext_authz_", custom.ShadowRulesStatPrefix);
            Assert.Equal("istio-ext-authz-ns[default]-policy[ext-authz]-rule[0]", Assert.Single(custom.ShadowRules.Policies).Key);

            var extAuthz = Assert.Single(hcm.Config.HttpFilters, f => f.Name == "envoy.filters.http.ext_authz");
            Assert.True(extAuthz.TypedConfig.IsOpaque());
        }
    }

    [Fact]
    public void Read_PermissiveMtlsChains_DecodeDownstreamTlsContext()
    {
        var chains = VirtualInbound.AllFilterChains().ToList();
        Assert.Equal(8, chains.Count);

        var tlsChains = chains.Where(c => c.TransportSocket is not null).ToList();
        Assert.Equal(3, tlsChains.Count);
        Assert.All(tlsChains, chain =>
        {
            Assert.Equal("envoy.transport_sockets.tls", chain.TransportSocket.Name);
            Assert.True(chain.TransportSocket.TypedConfig.TryUnpackConfig(out DownstreamTlsContext? tls));
            Assert.True(tls.RequireClientCertificate);
            Assert.Equal("default", Assert.Single(tls.CommonTlsContext.TlsCertificateSdsSecretConfigs).Name);
        });
        // PERMISSIVE keeps plaintext chains next to the mTLS ones.
        Assert.Contains(chains, c => c.TransportSocket is null && c.FilterChainMatch?.TransportProtocol == "raw_buffer");
        Assert.Contains(
            tlsChains,
            c => c.FilterChainMatch.ApplicationProtocols.SequenceEqual(["istio-peer-exchange", "istio"]));
    }

    [Fact]
    public void FindHttpFilters_InternalListener_UnpacksHttpRbac()
    {
        var listener = Assert.Single(Result.DynamicListeners, l => l.Name == "main_internal").Resource;

        Assert.NotNull(listener.InternalListener);
        var hcm = Assert.Single(listener.FindNetworkFilters<HttpConnectionManager>());
        Assert.Equal(2, hcm.Config.FindHttpFilters<HttpRbac>().Count);
        Assert.Equal(
            10,
            Result.DynamicListeners
                .SelectMany(l => l.Resource.FindNetworkFilters<HttpConnectionManager>())
                .Sum(h => h.Config.FindHttpFilters<HttpRbac>().Count));
    }
}
