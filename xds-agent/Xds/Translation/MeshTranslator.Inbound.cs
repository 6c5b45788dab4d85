using System.Collections.Immutable;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Envoy.Extensions.Filters.Network.TcpProxy.V3;
using Istio.AppSwitch.Rbac;
using Istio.AppSwitch.Xds.Resources;
using Istio.AppSwitch.Xds.Translation.Rbac;
using HttpRbac = Envoy.Extensions.Filters.Http.Rbac.V3.RBAC;
using NetworkRbac = Envoy.Extensions.Filters.Network.Rbac.V3.RBAC;

namespace Istio.AppSwitch.Xds.Translation;

public static partial class MeshTranslator
{
    // What one inbound filter chain enforces.
    private sealed record InboundChain(
        string Name,
        bool Tls,
        ServiceProtocol Protocol,
        RbacModel Rbac,
        ImmutableArray<ChainCause> Causes,
        string? Cluster,
        ImmutableArray<IstioResource> Sources);

    private static IEnumerable<InboundPort> TranslateInbound(Listener listener, Context context)
    {
        var byPort = new SortedDictionary<uint, List<InboundChain>>();
        foreach (var chain in listener.AllFilterChains())
        {
            var port = chain.FilterChainMatch?.DestinationPort ?? 0;
            if (!byPort.TryGetValue(port, out var list))
            {
                byPort[port] = list = [];
            }
            list.Add(TranslateInboundChain(listener, chain));
        }

        foreach (var (port, chains) in byPort)
        {
            var causes = chains.SelectMany(c => c.Causes).ToList();
            var rbac = chains[0].Rbac;
            if (chains.Skip(1).Any(c => !c.Rbac.SameAs(rbac)))
            {
                causes.Add(new ChainCause(ChainReason.RbacDiffersByChain, $"port {port}: {chains.Count} chains"));
            }
            var requiresIdentity = chains.Any(c => c.Rbac.UsesPrincipal);
            if (requiresIdentity && !context.Options.PeerIdentityKnown)
            {
                causes.Add(new ChainCause(ChainReason.PrincipalRequiresIdentity, $"port {port}: a rule names an mTLS principal"));
            }
            var tls = chains.Any(c => c.Tls);
            var plain = chains.Any(c => !c.Tls);
            var protocols = chains.Select(c => c.Protocol).Distinct().ToList();
            var clusters = chains.Select(c => c.Cluster).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
            var mode = causes.Count > 0 ? TranslationMode.Chain
                : clusters.Count > 0 && clusters.All(c => c == "BlackHoleCluster") ? TranslationMode.Blackhole
                : TranslationMode.Fast;
            yield return new InboundPort(
                port,
                listener.Name,
                chains.Select(c => c.Name).Distinct(StringComparer.Ordinal).ToImmutableArray(),
                protocols.Count == 1 ? protocols[0] : ServiceProtocol.Sniffed,
                tls && plain ? PeerAuthenticationMode.Permissive : tls ? PeerAuthenticationMode.Strict : PeerAuthenticationMode.Plaintext,
                mode,
                RouteAnalyzer.Dedupe(causes),
                rbac,
                requiresIdentity,
                clusters.Count == 1 ? clusters[0] : null)
            {
                IstioResources = IstioResource.Distinct(chains.SelectMany(c => c.Sources)),
            };
        }
    }

    private static InboundChain TranslateInboundChain(Listener listener, FilterChain chain)
    {
        var causes = new List<ChainCause>();
        var engines = ImmutableArray.CreateBuilder<RbacEngine>();
        var shadows = 0;
        var protocol = ServiceProtocol.Tcp;
        string? cluster = null;
        var name = chain.Name.Length > 0 ? chain.Name : listener.Name;
        var tls = chain.TransportSocket is not null || chain.FilterChainMatch?.TransportProtocol == "tls";
        var sources = new List<IstioResource>();
        sources.AddRange(new[] { IstioResource.FromMetadata(listener.Metadata), IstioResource.FromMetadata(chain.Metadata) }.OfType<IstioResource>());
        foreach (var filter in chain.Filters)
        {
            if (filter.TypedConfig.TryUnpackConfig(out NetworkRbac? networkRbac))
            {
                shadows += networkRbac.ShadowRules?.Policies.Count ?? 0;
                ShadowSources(networkRbac.ShadowRules, sources);
                if (RbacTranslator.Translate(networkRbac.Rules, RbacFilterLayer.Network) is { } engine)
                {
                    engines.Add(engine);
                    if (engine.Policies.Any(p => p.HasUnsupported))
                    {
                        causes.Add(new ChainCause(ChainReason.RbacUnsupported, $"chain {name}: network RBAC matcher ax does not model"));
                    }
                }
            }
            else if (filter.TypedConfig.TryUnpackConfig(out TcpProxy? tcpProxy))
            {
                cluster = tcpProxy.ClusterSpecifierCase == TcpProxy.ClusterSpecifierOneofCase.Cluster ? tcpProxy.Cluster : null;
            }
            else if (filter.TypedConfig.TryUnpackConfig(out HttpConnectionManager? hcm))
            {
                protocol = ServiceProtocol.Http;
                foreach (var httpFilter in hcm.HttpFilters)
                {
                    if (httpFilter.TypedConfig.TryUnpackConfig(out HttpRbac? httpRbac))
                    {
                        shadows += httpRbac.ShadowRules?.Policies.Count ?? 0;
                        ShadowSources(httpRbac.ShadowRules, sources);
                        if (RbacTranslator.Translate(httpRbac.Rules, RbacFilterLayer.Http) is { } engine)
                        {
                            engines.Add(engine);
                            // Paths, methods, hosts and headers the daemon reads from the first request; only what it
                            // cannot read at all chains.
                            if (engine.Policies.Any(p => p.HasUnsupported))
                            {
                                causes.Add(new ChainCause(ChainReason.HttpRbacL7, $"chain {name}: http filter {httpFilter.Name}"));
                            }
                            // With Envoy terminating (m)TLS, the request ax would peek at is ciphertext (only a client that
                            // is itself under ax speaks plain text to such a port, and which one comes is unknown here).
                            if (tls && engine.Policies.Any(p => p.UsesHttpRequest))
                            {
                                causes.Add(new ChainCause(ChainReason.L7RbacOverTls, $"chain {name}: http filter {httpFilter.Name} reads the request under TLS"));
                            }
                        }
                    }
                    else if (FilterClassifier.Classify(httpFilter) is { } cause)
                    {
                        causes.Add(cause with { Detail = $"chain {name}: {cause.Detail}" });
                    }
                }
                if (hcm.RouteSpecifierCase == HttpConnectionManager.RouteSpecifierOneofCase.RouteConfig)
                {
                    foreach (var host in hcm.RouteConfig.VirtualHosts)
                    {
                        var routed = RouteAnalyzer.Analyze(hcm.RouteConfig, host);
                        causes.AddRange(routed.Causes);
                        sources.AddRange(routed.Sources);
                        cluster ??= routed.Destinations.Length == 1 ? routed.Destinations[0].Cluster : null;
                    }
                }
            }
            else if (FilterClassifier.Classify(filter) is { } cause)
            {
                causes.Add(cause with { Detail = $"chain {name}: {cause.Detail}" });
            }
        }
        var rbac = new RbacModel(engines.ToImmutable(), shadows);
        sources.AddRange(IstioResource.FromRbac(rbac));
        return new InboundChain(name, tls, protocol, rbac, RouteAnalyzer.Dedupe(causes), cluster, IstioResource.Distinct(sources));
    }

    // Shadow rules are not enforced, but they are how istiod carries CUSTOM (ext_authz) and dry-run policies: they are
    // still Istio resources that shaped the port.
    private static void ShadowSources(Envoy.Config.Rbac.V3.RBAC? shadow, List<IstioResource> sources)
    {
        if (shadow is null)
        {
            return;
        }
        foreach (var name in shadow.Policies.Keys)
        {
            if (IstioResource.ParseRbacPolicyName(name) is { } resource)
            {
                sources.Add(resource);
            }
        }
    }
}
