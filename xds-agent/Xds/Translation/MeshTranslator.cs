using System.Collections.Immutable;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Core.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.TransportSockets.Tls.V3;
using Istio.AppSwitch.Xds.Resources;

namespace Istio.AppSwitch.Xds.Translation;

/// <summary>
/// Translates Istio's Envoy configuration (CDS, EDS, LDS, RDS) into ax's connect-time model. A pure function: no I/O,
/// no clock, no shared state; it runs before any lock is taken and its result is swapped in whole. Problems with one
/// resource are diagnostics on the result, never exceptions, and never a silent "allow": what ax cannot enforce at
/// connect or accept time is marked <see cref="TranslationMode.Chain"/> with its reasons.
/// </summary>
public static partial class MeshTranslator
{
    /// <summary>Translates <paramref name="input"/> with <see cref="TranslationOptions.Default"/>.</summary>
    public static MeshTranslation Translate(TranslationInput input) => Translate(input, TranslationOptions.Default);

    /// <summary>Translates the dynamic resources of a config dump.</summary>
    public static MeshTranslation Translate(ConfigDumpReadResult dump, TranslationOptions? options = null) =>
        Translate(TranslationInput.FromConfigDump(dump), options ?? TranslationOptions.Default);

    /// <summary>Translates <paramref name="input"/>.</summary>
    public static MeshTranslation Translate(TranslationInput input, TranslationOptions options)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(options);
        var diagnostics = ImmutableArray.CreateBuilder<TranslationDiagnostic>();
        diagnostics.AddRange(input.Notes);

        var assignments = new Dictionary<string, ClusterLoadAssignment>(input.Endpoints.Count, StringComparer.Ordinal);
        foreach (var assignment in input.Endpoints)
        {
            if (!assignments.TryAdd(assignment.ClusterName, assignment))
            {
                diagnostics.Add(new(DiagnosticSeverity.Warning, "endpoints", assignment.ClusterName, "duplicate assignment; the first is used"));
            }
        }

        var clusters = ImmutableSortedDictionary.CreateBuilder<string, ClusterPolicy>(StringComparer.Ordinal);
        foreach (var cluster in input.Clusters)
        {
            if (clusters.ContainsKey(cluster.Name))
            {
                diagnostics.Add(new(DiagnosticSeverity.Warning, "cluster", cluster.Name, "duplicate cluster; the first is used"));
                continue;
            }
            clusters[cluster.Name] = TranslateCluster(cluster, assignments, options, diagnostics);
        }

        var routes = new Dictionary<string, RouteConfiguration>(input.RouteConfigurations.Count, StringComparer.Ordinal);
        foreach (var route in input.RouteConfigurations)
        {
            routes.TryAdd(route.Name, route);
        }

        var context = new Context(clusters, routes, options, diagnostics);
        var outbound = new Dictionary<string, OutboundService>(StringComparer.Ordinal);
        var inbound = new List<InboundPort>();
        foreach (var listener in input.Listeners)
        {
            if (listener.InternalListener is not null || listener.Address?.EnvoyInternalAddress is not null)
            {
                diagnostics.Add(new(DiagnosticSeverity.Info, "listener", listener.Name, "internal listener (HBONE/ambient plumbing), not translated"));
                continue;
            }
            if (IsInbound(listener))
            {
                inbound.AddRange(TranslateInbound(listener, context));
            }
            else
            {
                foreach (var service in TranslateOutbound(listener, context))
                {
                    AddOutbound(outbound, service, diagnostics);
                }
            }
        }

        return new MeshTranslation(
            outbound.Values.OrderBy(o => o.Key, StringComparer.Ordinal).ToImmutableArray(),
            inbound.OrderBy(i => i.Port).ThenBy(i => i.Listener, StringComparer.Ordinal).ToImmutableArray(),
            clusters.ToImmutable(),
            diagnostics.ToImmutable());
    }

    // Envoy picks the listener whose address matches the original destination exactly before the 0.0.0.0 one, so a
    // VIP_PORT listener wins over a VIP named in the domains of a 0.0.0.0_PORT route; its DNS names are kept.
    private static void AddOutbound(Dictionary<string, OutboundService> outbound, OutboundService service, ImmutableArray<TranslationDiagnostic>.Builder diagnostics)
    {
        if (!outbound.TryGetValue(service.Key, out var existing))
        {
            outbound[service.Key] = service;
            return;
        }
        var existingExact = IsExactListener(existing);
        var serviceExact = IsExactListener(service);
        if (existingExact == serviceExact)
        {
            diagnostics.Add(new(DiagnosticSeverity.Warning, "listener", service.Listener, $"{service.Key} is also defined by listener {existing.Listener}; the first is used"));
            return;
        }
        var (winner, loser) = serviceExact ? (service, existing) : (existing, service);
        outbound[service.Key] = winner with
        {
            DnsNames = winner.DnsNames.Union(loser.DnsNames, StringComparer.Ordinal).Order(StringComparer.Ordinal).ToImmutableArray(),
        };
    }

    private static bool IsExactListener(OutboundService service) => !service.Listener.StartsWith("0.0.0.0_", StringComparison.Ordinal) && !service.Listener.StartsWith("[::]_", StringComparison.Ordinal);

    private sealed record Context(
        ImmutableSortedDictionary<string, ClusterPolicy>.Builder Clusters,
        Dictionary<string, RouteConfiguration> Routes,
        TranslationOptions Options,
        ImmutableArray<TranslationDiagnostic>.Builder Diagnostics);

    private static bool IsInbound(Listener listener) =>
        listener.TrafficDirection == TrafficDirection.Inbound || listener.Name == "virtualInbound";

    private static ClusterPolicy TranslateCluster(
        Cluster cluster,
        Dictionary<string, ClusterLoadAssignment> assignments,
        TranslationOptions options,
        ImmutableArray<TranslationDiagnostic>.Builder diagnostics)
    {
        var discovery = cluster.ClusterDiscoveryTypeCase == Cluster.ClusterDiscoveryTypeOneofCase.ClusterType
            ? ClusterDiscovery.Custom
            : cluster.Type switch
            {
                Cluster.Types.DiscoveryType.Static => ClusterDiscovery.Static,
                Cluster.Types.DiscoveryType.StrictDns => ClusterDiscovery.StrictDns,
                Cluster.Types.DiscoveryType.LogicalDns => ClusterDiscovery.LogicalDns,
                Cluster.Types.DiscoveryType.Eds => ClusterDiscovery.Eds,
                Cluster.Types.DiscoveryType.OriginalDst => ClusterDiscovery.OriginalDst,
                _ => ClusterDiscovery.Custom,
            };
        var lb = cluster.LbPolicy switch
        {
            Cluster.Types.LbPolicy.RoundRobin => LoadBalancerPolicy.RoundRobin,
            Cluster.Types.LbPolicy.LeastRequest => LoadBalancerPolicy.LeastRequest,
            Cluster.Types.LbPolicy.Random => LoadBalancerPolicy.Random,
            Cluster.Types.LbPolicy.RingHash => LoadBalancerPolicy.RingHash,
            Cluster.Types.LbPolicy.Maglev => LoadBalancerPolicy.Maglev,
            Cluster.Types.LbPolicy.ClusterProvided => LoadBalancerPolicy.ClusterProvided,
            _ => LoadBalancerPolicy.Other,
        };
        if (lb == LoadBalancerPolicy.Other)
        {
            diagnostics.Add(new(DiagnosticSeverity.Warning, "cluster", cluster.Name, $"lb_policy {cluster.LbPolicy} is not modelled; round robin is used"));
        }

        var causes = new List<ChainCause>();
        var tls = UpstreamTls(cluster);
        switch (tls)
        {
            case UpstreamTlsMode.IstioMutual:
                causes.Add(new ChainCause(ChainReason.UpstreamMtls, $"cluster {cluster.Name}: always ISTIO_MUTUAL"));
                break;
            case UpstreamTlsMode.Tls:
                causes.Add(new ChainCause(ChainReason.UpstreamTls, $"cluster {cluster.Name}: TLS origination"));
                break;
            case UpstreamTlsMode.IstioAutoMtls when options.ChainAutoMtls:
                causes.Add(new ChainCause(ChainReason.UpstreamMtls, $"cluster {cluster.Name}: auto-mTLS, chained by option"));
                break;
            default:
                break;
        }

        var mode = cluster.Name switch
        {
            "BlackHoleCluster" => TranslationMode.Blackhole,
            "PassthroughCluster" or "InboundPassthroughClusterIpv4" or "InboundPassthroughClusterIpv6" => TranslationMode.Passthrough,
            _ when discovery == ClusterDiscovery.OriginalDst => TranslationMode.Passthrough,
            _ when causes.Count > 0 => TranslationMode.Chain,
            _ => TranslationMode.Fast,
        };

        var threshold = cluster.CircuitBreakers?.Thresholds.FirstOrDefault(t => t.Priority == RoutingPriority.Default);
        var outlier = cluster.OutlierDetection is { } od
            ? new OutlierDetectionPolicy(
                od.Consecutive5Xx ?? 5,
                od.ConsecutiveGatewayFailure,
                od.ConsecutiveLocalOriginFailure,
                od.Interval?.ToTimeSpan() ?? TimeSpan.FromSeconds(10),
                od.BaseEjectionTime?.ToTimeSpan() ?? TimeSpan.FromSeconds(30),
                od.MaxEjectionPercent ?? 10)
            : null;

        var edsName = cluster.EdsClusterConfig?.ServiceName is { Length: > 0 } serviceName ? serviceName : cluster.Name;
        var assignment = discovery == ClusterDiscovery.Eds
            ? assignments.GetValueOrDefault(edsName)
            : cluster.LoadAssignment;
        if (discovery == ClusterDiscovery.Eds && assignment is null)
        {
            diagnostics.Add(new(DiagnosticSeverity.Info, "cluster", cluster.Name, "no ClusterLoadAssignment: no endpoints yet"));
        }

        return new ClusterPolicy(
            cluster.Name,
            discovery,
            mode,
            RouteAnalyzer.Dedupe(causes),
            lb,
            cluster.LeastRequestLbConfig?.ChoiceCount ?? 2,
            cluster.RingHashLbConfig?.MinimumRingSize ?? 1024,
            cluster.RingHashLbConfig?.MaximumRingSize ?? 8 * 1024 * 1024,
            cluster.MaglevLbConfig?.TableSize ?? 65537,
            cluster.ConnectTimeout?.ToTimeSpan() ?? TimeSpan.FromSeconds(5),
            threshold?.MaxConnections ?? 1024,
            outlier,
            tls,
            cluster.CommonLbConfig?.LocalityWeightedLbConfig is not null,
            ServiceHosts(cluster),
            assignment is null ? [] : Endpoints(assignment),
            assignment is not null,
            cluster.CommonLbConfig?.HealthyPanicThreshold?.Value ?? 50)
        {
            IstioResources = IstioResource.FromMetadata(cluster.Metadata) is { } source ? [source] : [],
        };
    }

    private static UpstreamTlsMode UpstreamTls(Cluster cluster)
    {
        if (cluster.TransportSocketMatches.Count > 0)
        {
            var tlsMatches = cluster.TransportSocketMatches.Where(m => IsTls(m.TransportSocket)).ToList();
            if (tlsMatches.Count == 0)
            {
                return UpstreamTlsMode.None;
            }
            // Istio's auto-mTLS: mTLS for endpoints labelled tlsMode=istio, plain text for the rest.
            var istio = tlsMatches.All(m => m.Match?.Fields.TryGetValue("tlsMode", out var v) == true && v.StringValue == "istio");
            var plainFallback = cluster.TransportSocketMatches.Any(m => !IsTls(m.TransportSocket));
            if (istio && plainFallback)
            {
                return UpstreamTlsMode.IstioAutoMtls;
            }
            return tlsMatches.All(m => IsIstioMutual(m.TransportSocket)) ? UpstreamTlsMode.IstioMutual : UpstreamTlsMode.Tls;
        }
        if (IsTls(cluster.TransportSocket))
        {
            return IsIstioMutual(cluster.TransportSocket) ? UpstreamTlsMode.IstioMutual : UpstreamTlsMode.Tls;
        }
        return UpstreamTlsMode.None;
    }

    private static bool IsTls(TransportSocket? socket) =>
        socket is not null && (socket.Name == "envoy.transport_sockets.tls" || socket.TypedConfig?.TypeUrl.EndsWith(".UpstreamTlsContext", StringComparison.Ordinal) == true);

    // Istio's mutual TLS uses the workload certificate from SDS ("default") and the istio ALPN.
    private static bool IsIstioMutual(TransportSocket socket) =>
        socket.TypedConfig.TryUnpackConfig(out UpstreamTlsContext? context) &&
        context.CommonTlsContext?.TlsCertificateSdsSecretConfigs.Any(s => s.Name == "default") == true &&
        context.CommonTlsContext.AlpnProtocols.Contains("istio");

    private static ImmutableArray<string> ServiceHosts(Cluster cluster)
    {
        if (cluster.Metadata?.FilterMetadata.TryGetValue("istio", out var istio) != true ||
            !istio!.Fields.TryGetValue("services", out var services) || services.ListValue is null)
        {
            return [];
        }
        return services.ListValue.Values
            .Select(v => v.StructValue?.Fields.TryGetValue("host", out var host) == true ? host.StringValue : null)
            .OfType<string>()
            .ToImmutableArray();
    }

    private static ImmutableArray<EndpointPolicy> Endpoints(ClusterLoadAssignment assignment)
    {
        var builder = ImmutableArray.CreateBuilder<EndpointPolicy>();
        foreach (var locality in assignment.Endpoints)
        {
            foreach (var lbEndpoint in locality.LbEndpoints)
            {
                var address = lbEndpoint.Endpoint?.Address;
                var (host, port) = address?.AddressCase switch
                {
                    Address.AddressOneofCase.SocketAddress => (address.SocketAddress.Address, address.SocketAddress.PortValue),
                    Address.AddressOneofCase.Pipe => (address.Pipe.Path, 0u),
                    _ => ("", 0u),
                };
                var mtls = lbEndpoint.Metadata?.FilterMetadata.TryGetValue("envoy.transport_socket_match", out var match) == true &&
                    match!.Fields.TryGetValue("tlsMode", out var tlsMode) && tlsMode.StringValue == "istio";
                builder.Add(new EndpointPolicy(
                    host,
                    port,
                    lbEndpoint.LoadBalancingWeight ?? 1,
                    locality.LoadBalancingWeight,
                    locality.Priority,
                    locality.Locality?.Region ?? "",
                    locality.Locality?.Zone ?? "",
                    locality.Locality?.SubZone ?? "",
                    lbEndpoint.HealthStatus switch
                    {
                        HealthStatus.Healthy => EndpointHealth.Healthy,
                        HealthStatus.Unhealthy => EndpointHealth.Unhealthy,
                        HealthStatus.Draining => EndpointHealth.Draining,
                        HealthStatus.Timeout => EndpointHealth.Timeout,
                        HealthStatus.Degraded => EndpointHealth.Degraded,
                        _ => EndpointHealth.Unknown,
                    },
                    mtls));
            }
        }
        return builder.ToImmutable();
    }
}
