using System.Collections.Immutable;
using System.Net;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Dataplane.Configuration;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Dataplane.Policy.LoadBalancing;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Mesh;

/// <summary>
/// Checks a <see cref="MeshUpdateRequest"/> field by field, without stopping at the first problem, and builds the
/// domain update. Every problem names its field as a path (<c>clusters[2].endpoints[0].port</c>) so that an agent
/// that sent a bad batch can tell which resource it came from.
/// </summary>
internal static class MeshUpdateValidator
{
    /// <summary>Envoy's default connect timeout is 5 s; istiod sends 10 s, and ax uses that when none is given.</summary>
    public static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan MaxDuration = TimeSpan.FromHours(1);
    private const int MaxKeyLength = 512;
    private const int MaxEndpoints = 100_000;

    public static MeshUpdate Validate(MeshUpdateRequest request)
    {
        var errors = new List<FieldError>();
        var clusters = new List<UpstreamClusterSpec>();
        var clusterNames = new HashSet<string>(StringComparer.Ordinal);
        var requestClusters = request.Clusters ?? [];
        for (var i = 0; i < requestClusters.Count; i++)
        {
            var field = $"clusters[{i}]";
            if (ValidateCluster(requestClusters[i], field, errors) is { } cluster)
            {
                if (!clusterNames.Add(cluster.Name))
                {
                    errors.Add(new FieldError($"{field}.name", $"{field}: cluster \"{cluster.Name}\" appears more than once in the batch"));
                }
                clusters.Add(cluster);
            }
        }

        var services = new List<MeshService>();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        var requestServices = request.Services ?? [];
        for (var i = 0; i < requestServices.Count; i++)
        {
            var field = $"services[{i}]";
            if (ValidateService(requestServices[i], field, errors) is { } service)
            {
                if (!keys.Add(service.Key))
                {
                    errors.Add(new FieldError($"{field}.key", $"{field}: service \"{service.Key}\" appears more than once in the batch"));
                }
                services.Add(service);
            }
        }

        var deleteClusters = Names(request.DeleteClusters, "deleteClusters", clusterNames, "cluster", errors);
        var deleteServices = Names(request.DeleteServices, "deleteServices", keys, "service", errors);
        ValidationException.ThrowIfAny(errors);
        return new MeshUpdate(request.Replace, request.Version, clusters, deleteClusters, services, deleteServices);
    }

    private static string[] Names(List<string>? names, string field, HashSet<string> upserted, string what, List<FieldError> errors)
    {
        if (names is null)
        {
            return [];
        }
        var result = new string[names.Count];
        for (var i = 0; i < names.Count; i++)
        {
            var name = names[i] ?? "";
            result[i] = name;
            if (name.Length == 0)
            {
                errors.Add(new FieldError($"{field}[{i}]", $"{field}[{i}]: a {what} name is required"));
            }
            else if (upserted.Contains(name))
            {
                errors.Add(new FieldError($"{field}[{i}]", $"{field}[{i}]: {what} \"{name}\" is both upserted and deleted in the batch"));
            }
        }
        return result;
    }

    private static UpstreamClusterSpec? ValidateCluster(MeshClusterDto? dto, string field, List<FieldError> errors)
    {
        if (dto is null)
        {
            errors.Add(new FieldError(field, $"{field}: a cluster is required"));
            return null;
        }
        var count = errors.Count;
        if (string.IsNullOrEmpty(dto.Name) || dto.Name.Length > MaxKeyLength)
        {
            errors.Add(new FieldError($"{field}.name", $"{field}.name: a name of 1 to {MaxKeyLength} characters is required"));
        }

        var policy = UpstreamLbPolicy.RoundRobin;
        switch (dto.LbPolicy)
        {
            case null or "round_robin":
                break;
            case "least_request":
                policy = UpstreamLbPolicy.LeastRequest;
                break;
            case "random":
                policy = UpstreamLbPolicy.Random;
                break;
            case "ring_hash":
                policy = UpstreamLbPolicy.RingHash;
                break;
            case "maglev":
                policy = UpstreamLbPolicy.Maglev;
                break;
            default:
                errors.Add(new FieldError($"{field}.lbPolicy", $"{field}.lbPolicy: \"{dto.LbPolicy}\" is not round_robin, least_request, random, ring_hash or maglev"));
                break;
        }
        if (dto.ChoiceCount is < 2 or > 100)
        {
            errors.Add(new FieldError($"{field}.choiceCount", $"{field}.choiceCount: must be 2 to 100"));
        }
        var minRing = dto.MinimumRingSize ?? 1024;
        var maxRing = dto.MaximumRingSize ?? 8 * 1024 * 1024;
        if (minRing is 0 or > 8 * 1024 * 1024 || maxRing < minRing || maxRing > 8 * 1024 * 1024)
        {
            errors.Add(new FieldError($"{field}.minimumRingSize", $"{field}: ring sizes must satisfy 1 <= minimumRingSize <= maximumRingSize <= 8388608"));
        }
        var maglev = dto.MaglevTableSize ?? 65537;
        if (maglev is < 2 or > 5_000_011 || !IsPrime(maglev))
        {
            errors.Add(new FieldError($"{field}.maglevTableSize", $"{field}.maglevTableSize: must be a prime no larger than 5000011"));
        }
        if (dto.HealthyPanicThreshold is < 0 or > 100)
        {
            errors.Add(new FieldError($"{field}.healthyPanicThreshold", $"{field}.healthyPanicThreshold: must be 0 to 100"));
        }
        var connectTimeout = Duration(dto.ConnectTimeout, DefaultConnectTimeout, $"{field}.connectTimeout", errors);
        if (connectTimeout == TimeSpan.Zero)
        {
            errors.Add(new FieldError($"{field}.connectTimeout", $"{field}.connectTimeout: must be more than 0"));
        }

        OutlierDetectionSpec? outlier = null;
        if (dto.OutlierDetection is { } od)
        {
            var consecutive = od.ConsecutiveFailures ?? 5;
            if (consecutive < 1)
            {
                errors.Add(new FieldError($"{field}.outlierDetection.consecutiveFailures", $"{field}.outlierDetection.consecutiveFailures: must be at least 1"));
            }
            var percent = od.MaxEjectionPercent ?? 10;
            if (percent is < 0 or > 100)
            {
                errors.Add(new FieldError($"{field}.outlierDetection.maxEjectionPercent", $"{field}.outlierDetection.maxEjectionPercent: must be 0 to 100"));
            }
            var baseTime = Duration(od.BaseEjectionTime, TimeSpan.FromSeconds(30), $"{field}.outlierDetection.baseEjectionTime", errors);
            var maxTime = Duration(od.MaxEjectionTime, TimeSpan.FromSeconds(300), $"{field}.outlierDetection.maxEjectionTime", errors);
            outlier = new OutlierDetectionSpec(consecutive, baseTime, maxTime < baseTime ? baseTime : maxTime, percent);
        }

        var endpoints = new List<UpstreamEndpointSpec>();
        var requestEndpoints = dto.Endpoints ?? [];
        if (requestEndpoints.Count > MaxEndpoints)
        {
            errors.Add(new FieldError($"{field}.endpoints", $"{field}.endpoints: at most {MaxEndpoints} endpoints"));
        }
        var seen = new HashSet<InetEndpoint>();
        for (var i = 0; i < requestEndpoints.Count && i < MaxEndpoints; i++)
        {
            var at = $"{field}.endpoints[{i}]";
            if (ValidateEndpoint(requestEndpoints[i], at, errors) is { } endpoint)
            {
                if (!seen.Add(endpoint.Address))
                {
                    errors.Add(new FieldError(at, $"{at}: endpoint {endpoint.Address.ToIPEndPoint()} appears more than once in the cluster"));
                }
                endpoints.Add(endpoint);
            }
        }
        if (errors.Count != count)
        {
            return null;
        }
        var spec = new UpstreamClusterSpec(dto.Name!, policy, endpoints, dto.MaxConnections ?? uint.MaxValue, connectTimeout, outlier,
            dto.ChoiceCount ?? 2, minRing, maxRing, maglev, dto.HealthyPanicThreshold ?? 50);
        // The engine's own checks (what its structures can hold), after ax's field checks have said what they can.
        foreach (var problem in UpstreamCluster.Validate(spec))
        {
            errors.Add(new FieldError(field, $"{field}: {problem}"));
        }
        return errors.Count == count ? spec : null;
    }

    private static UpstreamEndpointSpec? ValidateEndpoint(MeshEndpointDto? dto, string field, List<FieldError> errors)
    {
        if (dto is null)
        {
            errors.Add(new FieldError(field, $"{field}: an endpoint is required"));
            return null;
        }
        var count = errors.Count;
        if (!IPAddress.TryParse(dto.Address, out var address) || dto.Address!.Contains('/', StringComparison.Ordinal))
        {
            errors.Add(new FieldError($"{field}.address", $"{field}.address: \"{dto.Address}\" is not an IP address"));
        }
        if (dto.Port is < 1 or > 65535)
        {
            errors.Add(new FieldError($"{field}.port", $"{field}.port: {dto.Port} is not a port (1 to 65535)"));
        }
        if (dto.Weight is 0)
        {
            errors.Add(new FieldError($"{field}.weight", $"{field}.weight: must be at least 1"));
        }
        if (dto.Priority is > 127)
        {
            errors.Add(new FieldError($"{field}.priority", $"{field}.priority: must be 0 to 127"));
        }
        var health = UpstreamHealth.Healthy;
        switch (dto.Health)
        {
            case null or "healthy" or "unknown":
                break;
            case "degraded":
                health = UpstreamHealth.Degraded;
                break;
            case "unhealthy" or "draining" or "timeout":
                health = UpstreamHealth.Unhealthy;
                break;
            default:
                errors.Add(new FieldError($"{field}.health", $"{field}.health: \"{dto.Health}\" is not healthy, unknown, degraded, unhealthy, draining or timeout"));
                break;
        }
        if (errors.Count != count)
        {
            return null;
        }
        return new UpstreamEndpointSpec(InetEndpoint.FromIPEndPoint(new IPEndPoint(address!, dto.Port)), dto.Weight ?? 1, dto.Priority ?? 0, health);
    }

    private static MeshService? ValidateService(MeshServiceDto? dto, string field, List<FieldError> errors)
    {
        if (dto is null)
        {
            errors.Add(new FieldError(field, $"{field}: a service is required"));
            return null;
        }
        var count = errors.Count;
        if (string.IsNullOrEmpty(dto.Key) || dto.Key.Length > MaxKeyLength)
        {
            errors.Add(new FieldError($"{field}.key", $"{field}.key: a key of 1 to {MaxKeyLength} characters is required"));
        }
        if (!VipSpec.TryParse(dto.Vip, out var vip, out var vipProblem))
        {
            errors.Add(new FieldError($"{field}.vip", $"{field}.vip: {vipProblem}"));
        }
        var mode = ParseMode(dto.Mode, field, errors);
        var destinations = ImmutableArray.CreateBuilder<MeshDestination>();
        var clusters = dto.Clusters ?? [];
        ulong total = 0;
        for (var i = 0; i < clusters.Count; i++)
        {
            var at = $"{field}.clusters[{i}]";
            if (clusters[i] is not { Name: { Length: > 0 } name } destination)
            {
                errors.Add(new FieldError($"{at}.name", $"{at}.name: a cluster name is required"));
                continue;
            }
            var weight = destination.Weight ?? 1;
            total += weight;
            destinations.Add(new MeshDestination(name, weight));
        }
        if (mode == MeshMode.Fast && (destinations.Count == 0 || total == 0))
        {
            errors.Add(new FieldError($"{field}.clusters", $"{field}.clusters: a fast service needs at least one cluster with a weight above 0"));
        }
        if (total > int.MaxValue)
        {
            errors.Add(new FieldError($"{field}.clusters", $"{field}.clusters: the weights add up to more than {int.MaxValue}"));
        }
        if (dto.ConnectRetries is < 0 or > MeshService.MaxConnectRetries)
        {
            errors.Add(new FieldError($"{field}.connectRetries", $"{field}.connectRetries: must be 0 to {MeshService.MaxConnectRetries}"));
        }
        var resources = IstioResourceRef.Validate(dto.IstioResources, field, errors);
        if (errors.Count != count)
        {
            return null;
        }
        return new MeshService(dto.Key!, vip!, [.. dto.DnsNames ?? []], mode, [.. dto.Reasons ?? []], destinations.ToImmutable(),
            dto.HashOnSourceIp, dto.ConnectRetries, dto.Listener)
        {
            IstioResources = resources,
        };
    }

    /// <summary>A service's or an inbound port's <c>mode</c>; absent is <c>fast</c>.</summary>
    public static MeshMode ParseMode(string? text, string field, List<FieldError> errors)
    {
        switch (text)
        {
            case null or "fast":
                return MeshMode.Fast;
            case "chain":
                return MeshMode.Chain;
            case "passthrough":
                return MeshMode.Passthrough;
            case "blackhole":
                return MeshMode.Blackhole;
            default:
                errors.Add(new FieldError($"{field}.mode", $"{field}.mode: \"{text}\" is not fast, chain, passthrough or blackhole"));
                return MeshMode.Fast;
        }
    }

    private static TimeSpan Duration(string? text, TimeSpan fallback, string field, List<FieldError> errors)
    {
        if (text is null)
        {
            return fallback;
        }
        if (!DurationText.TryParse(text, MaxDuration, out var value, out var problem))
        {
            errors.Add(new FieldError(field, $"{field}: {problem}"));
            return fallback;
        }
        return value;
    }

    private static bool IsPrime(ulong n)
    {
        if (n < 4)
        {
            return n >= 2;
        }
        if (n % 2 == 0)
        {
            return false;
        }
        for (ulong d = 3; d * d <= n; d += 2)
        {
            if (n % d == 0)
            {
                return false;
            }
        }
        return true;
    }
}
