using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Rbac;
using Istio.AppSwitch.Xds.Translation;

namespace Istio.AppSwitch.XdsAgent.Mesh;

/// <summary>
/// Turns a <see cref="MeshTranslation"/> into the mesh rules the daemon holds (<c>POST /v1/mesh</c>). Pure: no I/O,
/// no clock, so it runs before anything is sent and the same translation always maps to equal rules.
/// </summary>
/// <remarks>
/// Only what a connect can match is sent: a service needs an address (its VIP or CIDR). A host known only by name
/// cannot be matched at <c>connect</c>, which sees an IP; it is counted, not sent. Clusters go only when a sent service
/// names them, and endpoints only when they are IP addresses.
/// </remarks>
public static class MeshRuleMapper
{
    /// <summary>The most connect retries the daemon takes (<c>MeshServiceDto.ConnectRetries</c>).</summary>
    public const int MaxConnectRetries = 10;

    /// <summary>istiod's "no limit" for <c>max_connections</c>: sent as no limit.</summary>
    public const uint UnlimitedConnections = uint.MaxValue;

    /// <summary>The largest locality priority the daemon takes.</summary>
    public const uint MaxPriority = 127;

    /// <summary>The largest hash ring (Envoy's and the daemon's limit).</summary>
    public const ulong MaxRingSize = 8_388_608;

    /// <summary>The longest duration the daemon takes.</summary>
    public static readonly TimeSpan MaxDuration = TimeSpan.FromHours(1);

    /// <summary>The longest ejection when the cluster does not say (Envoy's <c>max_ejection_time</c> default).</summary>
    public static readonly TimeSpan DefaultMaxEjectionTime = TimeSpan.FromSeconds(300);

    /// <summary>Maps a translation; with <paramref name="inbound"/>, its inbound ports too, for the apps that scope selects.</summary>
    public static DesiredMesh Map(MeshTranslation translation, MeshInboundScope? inbound = null)
    {
        ArgumentNullException.ThrowIfNull(translation);
        var services = ImmutableSortedDictionary.CreateBuilder<string, MeshServiceDto>(StringComparer.Ordinal);
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        int dnsOnly = 0, unusable = 0;
        foreach (var service in translation.Outbound)
        {
            if (service.Address is null)
            {
                dnsOnly++;
                continue;
            }

            if (ToVip(service.Address, service.PrefixLength, service.Port) is not { } vip ||
                (service.Mode == TranslationMode.Fast && !service.Destinations.Any(d => d.Weight > 0)))
            {
                unusable++;
                continue;
            }

            var dto = ToDto(service, vip);
            services[service.Key] = dto;
            foreach (var cluster in dto.Clusters ?? [])
            {
                wanted.Add(cluster.Name!);
            }
        }

        var clusters = ImmutableSortedDictionary.CreateBuilder<string, MeshClusterDto>(StringComparer.Ordinal);
        var fallbacks = ImmutableArray.CreateBuilder<string>();
        var nonIp = 0;
        foreach (var name in wanted)
        {
            // A fast service never names a missing cluster (the translation chains it as unknown_cluster); a chained
            // one may, and then the daemon does not need it.
            if (translation.Clusters.TryGetValue(name, out var policy))
            {
                clusters[name] = ToDto(policy, ref nonIp, fallbacks);
            }
        }

        // A chained service may name a cluster the translation lacks: drop the name so the batch stays consistent. A
        // fast service left with nothing to connect to would make the daemon refuse the whole batch: it is not sent.
        foreach (var (key, dto) in services.ToList())
        {
            if (dto.Clusters is { } named && named.Any(c => !clusters.ContainsKey(c.Name!)))
            {
                var kept = named.Where(c => clusters.ContainsKey(c.Name!)).ToList();
                services[key] = dto with { Clusters = kept.Count == 0 ? null : kept };
                if (dto.Mode is null && kept.Count == 0)
                {
                    services.Remove(key);
                    unusable++;
                }
            }
        }

        fallbacks.Sort(StringComparer.Ordinal);
        return new DesiredMesh(services.ToImmutable(), clusters.ToImmutable(),
            new MeshMappingSkips(dnsOnly, unusable, nonIp, fallbacks.ToImmutable()),
            inbound is null ? null : MapInbound(translation, inbound));
    }

    /// <summary>
    /// The inbound ports of the workload the agent speaks for. Each applies to the apps under ax whose labels match the
    /// scope's selector (the workload's labels): xDS describes one workload, and the daemon hosts many.
    /// </summary>
    public static ImmutableSortedDictionary<string, MeshInboundPortDto> MapInbound(MeshTranslation translation, MeshInboundScope scope)
    {
        ArgumentNullException.ThrowIfNull(translation);
        ArgumentNullException.ThrowIfNull(scope);
        var ports = ImmutableSortedDictionary.CreateBuilder<string, MeshInboundPortDto>(StringComparer.Ordinal);
        foreach (var port in translation.Inbound)
        {
            if (port.Port > 65535)
            {
                continue;
            }

            var key = $"{scope.KeyPrefix}:{port.Port.ToString(CultureInfo.InvariantCulture)}";
            ports[key] = new MeshInboundPortDto
            {
                Key = key,
                Selector = scope.Selector,
                Port = (int)port.Port,
                Mode = ModeName(port.Mode),
                Reasons = port.Causes.IsDefaultOrEmpty ? null : [.. port.Causes.Select(c => c.Code).Distinct(StringComparer.Ordinal)],
                Rbac = port.Rbac.Engines.IsDefaultOrEmpty ? null : RbacJson.ToElement(port.Rbac),
                IstioResources = ToDtos(port.IstioResources),
            };
        }

        return ports.ToImmutable();
    }

    /// <summary>
    /// <paramref name="current"/> with the clusters named in <paramref name="clusterNames"/> mapped again from
    /// <paramref name="translation"/>: for a change of endpoints only, where no service and no other cluster can differ.
    /// Clusters no sent service names stay out; the skip counts are those of the last whole mapping.
    /// </summary>
    public static DesiredMesh MapClusters(DesiredMesh current, MeshTranslation translation, IEnumerable<string> clusterNames)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(translation);
        ArgumentNullException.ThrowIfNull(clusterNames);
        var clusters = current.Clusters;
        var nonIp = 0;
        var fallbacks = ImmutableArray.CreateBuilder<string>();
        foreach (var name in clusterNames)
        {
            if (clusters.ContainsKey(name) && translation.Clusters.TryGetValue(name, out var policy))
            {
                clusters = clusters.SetItem(name, ToDto(policy, ref nonIp, fallbacks));
            }
        }

        return current with { Clusters = clusters };
    }

    /// <summary>
    /// The VIP text the daemon parses (<see cref="VipSpec"/>): <c>IP:PORT</c>, <c>IP/PREFIX:PORT</c>, <c>[v6]:PORT</c>,
    /// <c>v6/PREFIX:PORT</c>; port 0 (any port) is <c>*</c>. Null when the daemon would refuse it.
    /// </summary>
    public static string? ToVip(IPAddress address, int prefixLength, uint port)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (port > 65535)
        {
            return null;
        }

        var portText = port == 0 ? "*" : port.ToString(CultureInfo.InvariantCulture);
        var max = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        var text = prefixLength == max
            ? address.AddressFamily == AddressFamily.InterNetwork ? $"{address}:{portText}" : $"[{address}]:{portText}"
            : $"{address}/{prefixLength.ToString(CultureInfo.InvariantCulture)}:{portText}";

        // Checked here, not left to the daemon: the daemon refuses a whole batch for one bad VIP.
        return VipSpec.TryParse(text, out var vip, out _) ? vip.ToString() : null;
    }

    /// <summary>The mode's API name; null for <c>fast</c>, which the API takes as the default.</summary>
    public static string? ModeName(TranslationMode mode) => mode switch
    {
        TranslationMode.Fast => null,
        TranslationMode.Chain => "chain",
        TranslationMode.Passthrough => "passthrough",
        TranslationMode.Blackhole => "blackhole",
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
    };

    /// <summary>The LB policy's API name; policies ax does not have fall back to round robin.</summary>
    public static string LbPolicyName(LoadBalancerPolicy policy, out bool fallback)
    {
        fallback = policy is LoadBalancerPolicy.ClusterProvided or LoadBalancerPolicy.Other;
        return policy switch
        {
            LoadBalancerPolicy.LeastRequest => "least_request",
            LoadBalancerPolicy.Random => "random",
            LoadBalancerPolicy.RingHash => "ring_hash",
            LoadBalancerPolicy.Maglev => "maglev",
            _ => "round_robin",
        };
    }

    /// <summary>The health's API name; null for healthy (and unknown, which Envoy uses as healthy).</summary>
    public static string? HealthName(EndpointHealth health) => health switch
    {
        EndpointHealth.Degraded => "degraded",
        EndpointHealth.Unhealthy => "unhealthy",
        EndpointHealth.Draining => "draining",
        EndpointHealth.Timeout => "timeout",
        _ => null,
    };

    private static MeshServiceDto ToDto(OutboundService service, string vip)
    {
        // Passthrough and blackhole services need no endpoint: their clusters (PassthroughCluster, BlackHoleCluster)
        // say nothing the mode does not.
        var routed = service.Mode is TranslationMode.Fast or TranslationMode.Chain && !service.Destinations.IsEmpty;
        return new MeshServiceDto
        {
            Key = service.Key,
            Vip = vip,
            DnsNames = service.DnsNames.IsDefaultOrEmpty ? null : [.. service.DnsNames],
            Mode = ModeName(service.Mode),
            Reasons = service.Causes.IsDefaultOrEmpty ? null : [.. service.Causes.Select(c => c.Code).Distinct(StringComparer.Ordinal)],
            Clusters = routed
                ? [.. service.Destinations.Where(d => d.Weight > 0)
                    .Select(d => new MeshWeightedClusterDto { Name = d.Cluster, Weight = d.Weight == 1 ? null : d.Weight })]
                : null,
            HashOnSourceIp = service.HashOnSourceIp,
            ConnectRetries = Math.Clamp(service.ConnectRetries, 0, MaxConnectRetries),
            Listener = service.Listener,
            IstioResources = ToDtos(service.IstioResources),
        };
    }

    /// <summary>
    /// The resources the daemon takes: an entry it would refuse (a text too long, a kind that is not a word) is left out,
    /// and the list is cut at <see cref="MeshIstioResourceDto.MaxPerRule"/>: they are for people, and the daemon refuses a
    /// whole batch for one bad entry. Null for none.
    /// </summary>
    public static List<MeshIstioResourceDto>? ToDtos(ImmutableArray<IstioResource> resources)
    {
        if (resources.IsDefaultOrEmpty)
        {
            return null;
        }

        var list = resources
            .Where(r => r.Kind.Length is > 0 and <= MeshIstioResourceDto.MaxNameLength && r.Kind.All(char.IsAsciiLetter) &&
                r.Name.Length is > 0 and <= MeshIstioResourceDto.MaxNameLength && r.Namespace.Length <= MeshIstioResourceDto.MaxNameLength &&
                !(r.Name + r.Namespace).Any(char.IsControl))
            .Take(MeshIstioResourceDto.MaxPerRule)
            .Select(r => new MeshIstioResourceDto
            {
                Kind = r.Kind,
                Namespace = r.Namespace.Length == 0 ? null : r.Namespace,
                Name = r.Name,
                Raw = r.Raw.Length is 0 or > MeshIstioResourceDto.MaxRawLength || r.Raw.Any(char.IsControl) ? null : r.Raw,
            })
            .ToList();
        return list.Count == 0 ? null : list;
    }

    private static MeshClusterDto ToDto(ClusterPolicy cluster, ref int nonIp, ImmutableArray<string>.Builder fallbacks)
    {
        var lb = LbPolicyName(cluster.LbPolicy, out var fallback);
        if (fallback)
        {
            fallbacks.Add(cluster.Name);
        }

        var endpoints = new List<MeshEndpointDto>(cluster.Endpoints.Length);
        var seen = new HashSet<(string, uint)>();
        foreach (var endpoint in cluster.Endpoints)
        {
            // STRICT_DNS/LOGICAL_DNS endpoints are names, and pipes are paths: the daemon connects to IPs only.
            if (!IPAddress.TryParse(endpoint.Address, out var ip) || endpoint.Address.Contains('/', StringComparison.Ordinal) ||
                endpoint.Port is 0 or > 65535)
            {
                nonIp++;
                continue;
            }

            // The daemon refuses a whole batch for one endpoint listed twice; EDS may repeat one in two localities.
            var address = ip.ToString();
            if (!seen.Add((address, endpoint.Port)))
            {
                continue;
            }

            endpoints.Add(new MeshEndpointDto
            {
                Address = address,
                Port = (int)endpoint.Port,
                Weight = endpoint.Weight <= 1 ? null : endpoint.Weight,
                Priority = endpoint.Priority == 0 ? null : Math.Min(endpoint.Priority, MaxPriority),
                Health = HealthName(endpoint.Health),
            });
        }

        return new MeshClusterDto
        {
            Name = cluster.Name,
            LbPolicy = lb,
            HealthyPanicThreshold = cluster.HealthyPanicThreshold == 50 ? null : (int)Math.Clamp(Math.Round(cluster.HealthyPanicThreshold), 0, 100),
            // Out-of-range values (which Envoy would refuse too) are clamped: the daemon refuses a whole batch for one.
            ChoiceCount = cluster.LbPolicy == LoadBalancerPolicy.LeastRequest ? (int)Math.Clamp(cluster.ChoiceCount, 2u, 100u) : null,
            MinimumRingSize = cluster.LbPolicy == LoadBalancerPolicy.RingHash ? Math.Clamp(cluster.MinimumRingSize, 1, MaxRingSize) : null,
            MaximumRingSize = cluster.LbPolicy == LoadBalancerPolicy.RingHash
                ? Math.Clamp(cluster.MaximumRingSize, Math.Clamp(cluster.MinimumRingSize, 1, MaxRingSize), MaxRingSize)
                : null,
            MaglevTableSize = cluster.LbPolicy == LoadBalancerPolicy.Maglev ? cluster.MaglevTableSize : null,
            ConnectTimeout = cluster.ConnectTimeout > TimeSpan.Zero ? Duration(cluster.ConnectTimeout) : null,
            MaxConnections = cluster.MaxConnections == UnlimitedConnections ? null : cluster.MaxConnections,
            OutlierDetection = cluster.OutlierDetection is { } outlier && ConsecutiveFailures(outlier) > 0 ? ToDto(outlier) : null,
            Endpoints = endpoints,
        };
    }

    private static MeshOutlierDetectionDto ToDto(OutlierDetectionPolicy outlier) => new()
    {
        ConsecutiveFailures = ConsecutiveFailures(outlier),
        BaseEjectionTime = Duration(outlier.BaseEjectionTime > TimeSpan.Zero ? outlier.BaseEjectionTime : TimeSpan.FromSeconds(30)),
        MaxEjectionTime = Duration(DefaultMaxEjectionTime),
        MaxEjectionPercent = (int)Math.Min(outlier.MaxEjectionPercent, 100),
    };

    // ax sees connect failures only: the local-origin count is the exact match, a gateway failure (502-504 and connect
    // errors) the next best, and consecutive 5xx (which Envoy also feeds connect errors into) the last. 0 disables.
    private static int ConsecutiveFailures(OutlierDetectionPolicy outlier) =>
        (int)Math.Min(outlier.ConsecutiveLocalOriginFailure ?? outlier.ConsecutiveGatewayFailure ?? outlier.Consecutive5xx, int.MaxValue);

    // The daemon takes durations up to an hour.
    private static string Duration(TimeSpan value) => DurationText.Format(value < MaxDuration ? value : MaxDuration);
}

/// <summary>Whom the agent's inbound ports apply to.</summary>
/// <param name="KeyPrefix">What makes the ports' keys unique on the daemon: the agent's node id.</param>
/// <param name="Selector">The apps under ax that are this workload, as a selector of their labels (<c>k=v[,k=v]</c>).</param>
public sealed record MeshInboundScope(string KeyPrefix, string Selector)
{
    /// <summary>
    /// The scope of a sidecar with node id <paramref name="nodeId"/> and workload labels <paramref name="labels"/>; null
    /// when no label can select it (an agent without <c>--labels</c> cannot say which apps its inbound rules protect).
    /// </summary>
    public static MeshInboundScope? For(string nodeId, IEnumerable<KeyValuePair<string, string>> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        // Only terms a ref selector can say: a label it cannot parse would make the daemon refuse the whole batch.
        var terms = labels
            .Select(l => $"{l.Key}={l.Value}")
            .Where(t => LabelSelector.TryParse(t, out _, out _))
            .Order(StringComparer.Ordinal)
            .ToList();
        return terms.Count == 0 ? null : new MeshInboundScope(nodeId, string.Join(',', terms));
    }
}
