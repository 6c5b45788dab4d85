using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Envoy.Extensions.Filters.Network.TcpProxy.V3;
using Istio.AppSwitch.Xds.Resources;
using NetworkRbac = Envoy.Extensions.Filters.Network.Rbac.V3.RBAC;

namespace Istio.AppSwitch.Xds.Translation;

public static partial class MeshTranslator
{
    // What one filter chain of an outbound listener does.
    private sealed record ChainOutcome(
        ServiceProtocol Protocol,
        ImmutableArray<ChainCause> Causes,
        ImmutableArray<WeightedDestination> Destinations,
        bool HashOnSourceIp,
        HttpConnectionManager? ConnectionManager,
        ImmutableArray<IstioResource> Sources);

    private static IEnumerable<OutboundService> TranslateOutbound(Listener listener, Context context)
    {
        var socket = listener.Address?.SocketAddress;
        if (socket is null)
        {
            context.Diagnostics.Add(new(DiagnosticSeverity.Warning, "listener", listener.Name, "no socket address; not translated"));
            return [];
        }
        if (!IPAddress.TryParse(socket.Address, out var address))
        {
            context.Diagnostics.Add(new(DiagnosticSeverity.Warning, "listener", listener.Name, $"address {socket.Address} is not an IP; not translated"));
            return [];
        }
        var port = socket.PortValue;
        var wildcard = address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any);

        // A chain that matches the listener's own port catches traffic addressed to Envoy itself (virtualOutbound's
        // 15001 → BlackHoleCluster loop guard); applications never connect there through ax.
        var chains = listener.FilterChains
            .Where(c => port == 0 || c.FilterChainMatch?.DestinationPort != port)
            .Select(c => (Chain: c, Outcome: TranslateChain(listener, c, context)))
            .ToList();
        ChainOutcome? tcpDefault = listener.DefaultFilterChain is { } d ? TranslateChain(listener, d, context) : null;
        var http = chains.Where(c => c.Outcome.ConnectionManager is not null).ToList();
        var tcp = chains.Where(c => c.Outcome.ConnectionManager is null).Select(c => c.Outcome).ToList();
        if (tcpDefault is not null)
        {
            tcp.Add(tcpDefault);
        }

        // virtualOutbound: the catch-all for destinations no other listener claims (outboundTrafficPolicy).
        if (listener.Name == "virtualOutbound" || (listener.UseOriginalDst == true && http.Count == 0))
        {
            var outcome = Merge(tcp, listener.Name);
            return [Service(AnyKey(address, 0), address, 0, 0, [], listener.Name, null, ServiceProtocol.Tcp, outcome, 0, null, context)];
        }

        if (http.Count == 0)
        {
            var outcome = Merge(tcp, listener.Name);
            var prefix = wildcard ? 0 : MaxPrefix(address);
            var key = wildcard ? AnyKey(address, port) : Key(address, port);
            return [Service(key, address, prefix, port, [], listener.Name, null, ServiceProtocol.Tcp, outcome, 0, null, context)];
        }

        var services = new List<OutboundService>();
        // Every HTTP chain of one listener carries the same HCM in Istio's output (they differ in ALPN only).
        var hcm = http[0].Outcome;
        var routeName = hcm.ConnectionManager!.RouteSpecifierCase == HttpConnectionManager.RouteSpecifierOneofCase.Rds
            ? hcm.ConnectionManager.Rds.RouteConfigName
            : hcm.ConnectionManager.RouteConfig?.Name ?? "";
        var routeConfig = hcm.ConnectionManager.RouteSpecifierCase == HttpConnectionManager.RouteSpecifierOneofCase.RouteConfig
            ? hcm.ConnectionManager.RouteConfig
            : context.Routes.GetValueOrDefault(routeName);
        var tcpOutcome = tcp.Count > 0 ? Merge(tcp, listener.Name) : null;
        var protocol = tcp.Count > 0 ? ServiceProtocol.Sniffed : ServiceProtocol.Http;

        if (routeConfig is null)
        {
            context.Diagnostics.Add(new(DiagnosticSeverity.Warning, "listener", listener.Name, $"route configuration {routeName} is missing"));
            var missing = hcm with { Causes = hcm.Causes.Add(new ChainCause(ChainReason.MissingRouteConfig, $"route_config {routeName}")) };
            var key = wildcard ? AnyKey(address, port) : Key(address, port);
            return [Service(key, address, wildcard ? 0 : MaxPrefix(address), port, [], listener.Name, routeName, protocol, missing, 0, null, context)];
        }

        if (!wildcard)
        {
            // A VIP listener: the VIP is the listener's; its virtual host is the one that names the VIP, else the only one.
            var vip = $"{address}";
            var host = routeConfig.VirtualHosts.FirstOrDefault(h => h.Domains.Any(d => StripPort(d) == vip))
                ?? routeConfig.VirtualHosts.FirstOrDefault(h => !h.Domains.Contains("*"))
                ?? routeConfig.VirtualHosts.FirstOrDefault();
            if (host is null)
            {
                return [];
            }
            var routed = RouteAnalyzer.Analyze(routeConfig, host);
            var outcome = Combine(hcm, routed);
            if (tcpOutcome is not null && !SameDestinations(outcome.Destinations, tcpOutcome.Destinations))
            {
                // Envoy sniffs the protocol and sends HTTP and other bytes to different places; ax cannot sniff.
                outcome = outcome with
                {
                    Causes = outcome.Causes.Add(new ChainCause(ChainReason.FilterChainMatch, $"listener {listener.Name}: HTTP and TCP chains differ")),
                    Destinations = outcome.Destinations.AddRange(tcpOutcome.Destinations.Where(t => !outcome.Destinations.Any(o => o.Cluster == t.Cluster))),
                };
            }
            return [Service(Key(address, port), address, MaxPrefix(address), port, Names(host), listener.Name, $"{routeConfig.Name}/{host.Name}", protocol, outcome, routed.ConnectRetries, routed.Timeout, context)];
        }

        // 0.0.0.0_PORT: one service per VIP named in the virtual hosts' domains.
        foreach (var host in routeConfig.VirtualHosts)
        {
            var routed = RouteAnalyzer.Analyze(routeConfig, host);
            var outcome = Combine(hcm, routed);
            var names = Names(host);
            var vips = host.Domains.Select(StripPort).Select(d => IPAddress.TryParse(d, out var ip) ? ip : null).OfType<IPAddress>().Distinct().ToList();
            var where = $"{routeConfig.Name}/{host.Name}";
            if (host.Domains.Contains("*"))
            {
                services.Add(Service(AnyKey(address, port), address, 0, port, [], listener.Name, where, protocol, outcome, routed.ConnectRetries, routed.Timeout, context));
            }
            foreach (var vip in vips)
            {
                services.Add(Service(Key(vip, port), vip, MaxPrefix(vip), port, names, listener.Name, where, ServiceProtocol.Http, outcome, routed.ConnectRetries, routed.Timeout, context));
            }
            if (vips.Count == 0 && names.Length > 0)
            {
                // A host without a VIP (headless, or a ServiceEntry without addresses): reachable by name only.
                services.Add(Service($"{names[0]}:{port}", null, 0, port, names, listener.Name, where, ServiceProtocol.Http, outcome, routed.ConnectRetries, routed.Timeout, context));
            }
        }
        if (tcpOutcome is not null && !services.Any(s => s.Key == AnyKey(address, port)))
        {
            services.Add(Service(AnyKey(address, port), address, 0, port, [], listener.Name, null, ServiceProtocol.Tcp, tcpOutcome, 0, null, context));
        }
        return services;
    }

    private static ChainOutcome TranslateChain(Listener listener, FilterChain chain, Context context)
    {
        var causes = new List<ChainCause>();
        var destinations = ImmutableArray<WeightedDestination>.Empty;
        var hashOnSourceIp = false;
        HttpConnectionManager? hcm = null;
        var match = chain.FilterChainMatch;
        if (match is not null && (match.ServerNames.Count > 0 || match.SourcePrefixRanges.Count > 0 || match.SourcePorts.Count > 0 || match.DirectSourcePrefixRanges.Count > 0))
        {
            causes.Add(new ChainCause(ChainReason.FilterChainMatch, $"listener {listener.Name}: chain {chain.Name} matches on SNI or source"));
        }
        foreach (var filter in chain.Filters)
        {
            if (filter.TypedConfig.TryUnpackConfig(out TcpProxy? tcpProxy))
            {
                switch (tcpProxy.ClusterSpecifierCase)
                {
                    case TcpProxy.ClusterSpecifierOneofCase.Cluster:
                        destinations = [new WeightedDestination(tcpProxy.Cluster, 1)];
                        break;
                    case TcpProxy.ClusterSpecifierOneofCase.WeightedClusters:
                        destinations = tcpProxy.WeightedClusters.Clusters.Where(c => c.Weight > 0)
                            .Select(c => new WeightedDestination(c.Name, c.Weight)).ToImmutableArray();
                        break;
                    default:
                        causes.Add(new ChainCause(ChainReason.DynamicClusterSpecifier, $"listener {listener.Name}: tcp_proxy without cluster"));
                        break;
                }
                foreach (var hash in tcpProxy.HashPolicy)
                {
                    if (hash.PolicySpecifierCase == Envoy.Type.V3.HashPolicy.PolicySpecifierOneofCase.SourceIp)
                    {
                        hashOnSourceIp = true;
                    }
                    else
                    {
                        causes.Add(new ChainCause(ChainReason.L7HashPolicy, $"listener {listener.Name}: tcp_proxy hash on {hash.PolicySpecifierCase}"));
                    }
                }
            }
            else if (filter.TypedConfig.TryUnpackConfig(out HttpConnectionManager? manager))
            {
                hcm = manager;
                foreach (var httpFilter in manager.HttpFilters)
                {
                    if (httpFilter.TypedConfig?.TypeUrl.EndsWith("http.rbac.v3.RBAC", StringComparison.Ordinal) == true)
                    {
                        // Outbound HTTP RBAC is not something istiod emits; keep it from being ignored.
                        causes.Add(new ChainCause(ChainReason.HttpRbacL7, $"listener {listener.Name}: outbound http filter {httpFilter.Name}"));
                    }
                    else if (FilterClassifier.Classify(httpFilter) is { } cause)
                    {
                        causes.Add(cause);
                    }
                }
            }
            else if (filter.TypedConfig.TryUnpackConfig(out NetworkRbac? _))
            {
                causes.Add(new ChainCause(ChainReason.RbacUnsupported, $"listener {listener.Name}: outbound network RBAC"));
            }
            else if (FilterClassifier.Classify(filter) is { } cause)
            {
                causes.Add(cause);
            }
        }
        return new ChainOutcome(
            hcm is null ? ServiceProtocol.Tcp : ServiceProtocol.Http,
            RouteAnalyzer.Dedupe(causes),
            destinations,
            hashOnSourceIp,
            hcm,
            ListenerSources(listener, chain));
    }

    private static ChainOutcome Merge(List<ChainOutcome> outcomes, string listener)
    {
        if (outcomes.Count == 0)
        {
            return new ChainOutcome(ServiceProtocol.Tcp, [new ChainCause(ChainReason.DynamicClusterSpecifier, $"listener {listener}: no tcp_proxy")], [], false, null, []);
        }
        var first = outcomes[0];
        var causes = outcomes.SelectMany(o => o.Causes).ToList();
        if (outcomes.Skip(1).Any(o => !SameDestinations(o.Destinations, first.Destinations)))
        {
            causes.Add(new ChainCause(ChainReason.FilterChainMatch, $"listener {listener}: filter chains go to different clusters"));
        }
        var destinations = outcomes.SelectMany(o => o.Destinations).DistinctBy(d => d.Cluster).ToImmutableArray();
        return first with
        {
            Causes = RouteAnalyzer.Dedupe(causes),
            Destinations = destinations,
            HashOnSourceIp = outcomes.Any(o => o.HashOnSourceIp),
            Sources = IstioResource.Distinct(outcomes.SelectMany(o => o.Sources)),
        };
    }

    private static ChainOutcome Combine(ChainOutcome hcm, RouteOutcome routed) =>
        hcm with
        {
            Causes = RouteAnalyzer.Dedupe(hcm.Causes.Concat(routed.Causes)),
            Destinations = routed.Destinations,
            HashOnSourceIp = routed.HashOnSourceIp,
            Sources = IstioResource.Distinct(hcm.Sources.Concat(routed.Sources)),
        };

    private static bool SameDestinations(ImmutableArray<WeightedDestination> a, ImmutableArray<WeightedDestination> b) =>
        a.Select(d => d.Cluster).Order(StringComparer.Ordinal).SequenceEqual(b.Select(d => d.Cluster).Order(StringComparer.Ordinal), StringComparer.Ordinal);

    private static OutboundService Service(
        string key,
        IPAddress? address,
        int prefixLength,
        uint port,
        ImmutableArray<string> names,
        string listener,
        string? routeConfig,
        ServiceProtocol protocol,
        ChainOutcome outcome,
        int retries,
        TimeSpan? timeout,
        Context context,
        IEnumerable<IstioResource>? resources = null)
    {
        var causes = outcome.Causes.ToList();
        var modes = new List<TranslationMode>();
        foreach (var destination in outcome.Destinations)
        {
            if (context.Clusters.TryGetValue(destination.Cluster, out var cluster))
            {
                modes.Add(cluster.Mode);
                causes.AddRange(cluster.Causes);
            }
            else
            {
                causes.Add(new ChainCause(ChainReason.UnknownCluster, $"cluster {destination.Cluster}"));
            }
        }
        if (names.IsEmpty && prefixLength > 0)
        {
            // Istio's VIP listeners route with domains ["*"]; the service's names are on its cluster's metadata.
            names = outcome.Destinations
                .SelectMany(d => context.Clusters.TryGetValue(d.Cluster, out var c) && c.Mode == TranslationMode.Fast ? c.ServiceHosts : [])
                .Distinct(StringComparer.Ordinal)
                .Order(StringComparer.Ordinal)
                .ToImmutableArray();
        }
        var mode = causes.Count > 0 ? TranslationMode.Chain
            : modes.Count > 0 && modes.All(m => m == TranslationMode.Blackhole) ? TranslationMode.Blackhole
            : modes.Count > 0 && modes.All(m => m == TranslationMode.Passthrough) ? TranslationMode.Passthrough
            : TranslationMode.Fast;
        return new OutboundService(
            key,
            address,
            prefixLength,
            port,
            names,
            listener,
            routeConfig,
            protocol,
            mode,
            RouteAnalyzer.Dedupe(causes),
            outcome.Destinations,
            outcome.HashOnSourceIp,
            retries,
            timeout)
        {
            IstioResources = IstioResource.Distinct((resources ?? []).Concat(outcome.Sources).Concat(outcome.Destinations
                .SelectMany(d => context.Clusters.TryGetValue(d.Cluster, out var c) ? c.IstioResources : []))),
        };
    }

    // istiod names a Sidecar or Gateway on the listener or its chains in some versions; the corpus's 1.18 dumps do not.
    private static ImmutableArray<IstioResource> ListenerSources(Listener listener, FilterChain chain) =>
        IstioResource.Distinct(new[] { IstioResource.FromMetadata(listener.Metadata), IstioResource.FromMetadata(chain.Metadata) }.OfType<IstioResource>());

    private static ImmutableArray<string> Names(VirtualHost host) =>
        host.Domains.Where(d => d != "*").Select(StripPort)
            .Where(d => !IPAddress.TryParse(d, out _))
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToImmutableArray();

    // "name:80" → "name"; "[::1]:80" → "::1"; a bare IPv6 stays.
    private static string StripPort(string domain)
    {
        if (domain.StartsWith('['))
        {
            var end = domain.IndexOf(']', StringComparison.Ordinal);
            return end > 0 ? domain[1..end] : domain;
        }
        var colon = domain.LastIndexOf(':');
        return colon > 0 && domain.IndexOf(':', StringComparison.Ordinal) == colon ? domain[..colon] : domain;
    }

    private static int MaxPrefix(IPAddress address) => address.AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32;

    private static string Key(IPAddress address, uint port) =>
        address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]:{port}" : $"{address}:{port}";

    private static string AnyKey(IPAddress address, uint port)
    {
        var network = address.AddressFamily == AddressFamily.InterNetworkV6 ? "::/0" : "0.0.0.0/0";
        return port == 0 ? $"{network}:*" : $"{network}:{port}";
    }
}
