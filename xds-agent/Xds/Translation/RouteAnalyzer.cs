using System.Collections.Frozen;
using System.Collections.Immutable;
using Envoy.Config.Route.V3;
using Envoy.Extensions.Filters.Http.Fault.V3;
using Istio.AppSwitch.Xds.Resources;

namespace Istio.AppSwitch.Xds.Translation;

/// <summary>What the routes of one virtual host amount to for a connection.</summary>
internal sealed record RouteOutcome(
    ImmutableArray<WeightedDestination> Destinations,
    ImmutableArray<ChainCause> Causes,
    bool HashOnSourceIp,
    int ConnectRetries,
    TimeSpan? Timeout,
    ImmutableArray<IstioResource> Sources);

/// <summary>
/// Reduces a virtual host to one destination set plus the reasons it cannot be decided per connection. A connection
/// carries many requests; ax picks the cluster once, so the virtual host is "fast" only when every request it can
/// carry goes to the same weighted set of clusters with no per-request behaviour.
/// </summary>
internal static class RouteAnalyzer
{
    // Istio's default retry policy. All of these are failures before any response byte reaches the client: a failed
    // or refused connect (ax retries the connect on another endpoint), or a stream the upstream refused or reset.
    // retriable-status-codes comes with 503 only, the status Envoy itself answers when no upstream connection could
    // be made. None needs ax to read requests.
    private static readonly FrozenSet<string> ConnectLevelRetryOn = new[]
    {
        "connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes", "reset",
    }.ToFrozenSet(StringComparer.Ordinal);

    public static RouteOutcome Analyze(RouteConfiguration config, VirtualHost host)
    {
        var causes = new List<ChainCause>();
        if (config.RequestHeadersToAdd.Count + config.RequestHeadersToRemove.Count + config.ResponseHeadersToAdd.Count + config.ResponseHeadersToRemove.Count > 0)
        {
            causes.Add(new ChainCause(ChainReason.HeaderMutation, $"route_config {config.Name}"));
        }
        if (host.RequestHeadersToAdd.Count + host.RequestHeadersToRemove.Count + host.ResponseHeadersToAdd.Count + host.ResponseHeadersToRemove.Count > 0)
        {
            causes.Add(new ChainCause(ChainReason.HeaderMutation, $"virtual_host {host.Name}"));
        }
        PerFilter(host.TypedPerFilterConfig, $"virtual_host {host.Name}", causes);

        var sets = new List<ImmutableArray<WeightedDestination>>();
        var hashOnSourceIp = false;
        var retries = int.MaxValue;
        TimeSpan? timeout = null;
        var catchAll = false;
        var sources = new List<IstioResource>();
        if (IstioResource.FromMetadata(host.Metadata) is { } hostSource)
        {
            sources.Add(hostSource);
        }
        foreach (var route in host.Routes)
        {
            // istiod names the VirtualService on each route it generated (the default route of a service has none).
            if (IstioResource.FromMetadata(route.Metadata) is { } routeSource)
            {
                sources.Add(routeSource);
            }
            var where = $"route {(route.Name.Length > 0 ? route.Name : "#" + sets.Count)} of {host.Name}";
            if (route.RequestHeadersToAdd.Count + route.RequestHeadersToRemove.Count + route.ResponseHeadersToAdd.Count + route.ResponseHeadersToRemove.Count > 0)
            {
                causes.Add(new ChainCause(ChainReason.HeaderMutation, where));
            }
            PerFilter(route.TypedPerFilterConfig, where, causes);
            switch (route.ActionCase)
            {
                case Route.ActionOneofCase.Route_:
                    var action = route.Route_;
                    sets.Add(Destinations(action, where, causes));
                    Action(action, where, causes, ref hashOnSourceIp, ref retries, ref timeout);
                    break;
                case Route.ActionOneofCase.Redirect:
                    causes.Add(new ChainCause(ChainReason.Redirect, where));
                    break;
                case Route.ActionOneofCase.DirectResponse:
                    causes.Add(new ChainCause(ChainReason.DirectResponse, where));
                    break;
                default:
                    causes.Add(new ChainCause(ChainReason.UnknownFilter, $"{where}: action {route.ActionCase}"));
                    break;
            }
            if (IsCatchAll(route.Match))
            {
                // Routes after the first catch-all can never be reached.
                catchAll = true;
                break;
            }
        }

        var distinct = sets.Select(Canonical).Distinct(StringComparer.Ordinal).Count();
        if (distinct > 1)
        {
            causes.Add(new ChainCause(ChainReason.L7RouteMatch, $"virtual_host {host.Name}: {distinct} different destinations"));
        }
        else if (!catchAll && host.Routes.Count > 0)
        {
            // Requests that match no route get a 404 from Envoy; ax cannot answer them.
            causes.Add(new ChainCause(ChainReason.L7RouteMatch, $"virtual_host {host.Name}: no catch-all route"));
        }
        var destinations = sets.SelectMany(s => s)
            .GroupBy(d => d.Cluster, StringComparer.Ordinal)
            .Select(g => distinct > 1 ? new WeightedDestination(g.Key, 0) : g.First())
            .ToImmutableArray();
        return new RouteOutcome(
            destinations,
            Dedupe(causes),
            hashOnSourceIp,
            retries == int.MaxValue ? 0 : retries,
            timeout,
            IstioResource.Distinct(sources));
    }

    internal static ImmutableArray<ChainCause> Dedupe(IEnumerable<ChainCause> causes) => causes.Distinct().ToImmutableArray();

    private static bool IsCatchAll(RouteMatch match) =>
        match.Headers.Count == 0 && match.QueryParameters.Count == 0 && match.RuntimeFraction is null && match.Grpc is null &&
        match.TlsContext is null && match.DynamicMetadata.Count == 0 &&
        match.PathSpecifierCase switch
        {
            RouteMatch.PathSpecifierOneofCase.Prefix => match.Prefix is "" or "/",
            RouteMatch.PathSpecifierOneofCase.PathSeparatedPrefix => match.PathSeparatedPrefix == "/",
            RouteMatch.PathSpecifierOneofCase.SafeRegex => match.SafeRegex.Regex is ".*" or "/.*",
            _ => false,
        };

    private static ImmutableArray<WeightedDestination> Destinations(RouteAction action, string where, List<ChainCause> causes)
    {
        switch (action.ClusterSpecifierCase)
        {
            case RouteAction.ClusterSpecifierOneofCase.Cluster:
                return [new WeightedDestination(action.Cluster, 1)];
            case RouteAction.ClusterSpecifierOneofCase.WeightedClusters:
                var builder = ImmutableArray.CreateBuilder<WeightedDestination>();
                foreach (var weighted in action.WeightedClusters.Clusters)
                {
                    if (weighted.RequestHeadersToAdd.Count + weighted.RequestHeadersToRemove.Count + weighted.ResponseHeadersToAdd.Count + weighted.ResponseHeadersToRemove.Count > 0)
                    {
                        causes.Add(new ChainCause(ChainReason.HeaderMutation, $"{where}, weighted cluster {weighted.Name}"));
                    }
                    PerFilter(weighted.TypedPerFilterConfig, $"{where}, weighted cluster {weighted.Name}", causes);
                    if (weighted.ClusterHeader.Length > 0)
                    {
                        causes.Add(new ChainCause(ChainReason.DynamicClusterSpecifier, $"{where}: weighted cluster_header {weighted.ClusterHeader}"));
                        continue;
                    }
                    // A weight of 0 is never chosen; proto default for an absent weight is 0 too.
                    var weight = weighted.Weight ?? 0;
                    if (weight > 0)
                    {
                        builder.Add(new WeightedDestination(weighted.Name, weight));
                    }
                }
                return builder.ToImmutable();
            default:
                causes.Add(new ChainCause(ChainReason.DynamicClusterSpecifier, $"{where}: {action.ClusterSpecifierCase}"));
                return [];
        }
    }

    private static void Action(RouteAction action, string where, List<ChainCause> causes, ref bool hashOnSourceIp, ref int retries, ref TimeSpan? timeout)
    {
        if (action.PrefixRewrite.Length > 0 || action.RegexRewrite is not null || action.PathRewritePolicy is not null ||
            action.HostRewriteSpecifierCase != RouteAction.HostRewriteSpecifierOneofCase.None)
        {
            causes.Add(new ChainCause(ChainReason.Rewrite, where));
        }
        if (action.RequestMirrorPolicies.Count > 0)
        {
            causes.Add(new ChainCause(ChainReason.Mirroring, $"{where}: mirror to {string.Join(",", action.RequestMirrorPolicies.Select(m => m.Cluster))}"));
        }
        foreach (var hash in action.HashPolicy)
        {
            if (hash.PolicySpecifierCase == RouteAction.Types.HashPolicy.PolicySpecifierOneofCase.ConnectionProperties && hash.ConnectionProperties.SourceIp)
            {
                hashOnSourceIp = true;
            }
            else
            {
                causes.Add(new ChainCause(ChainReason.L7HashPolicy, $"{where}: hash on {hash.PolicySpecifierCase}"));
            }
        }
        if (action.RetryPolicy is { } retry)
        {
            var unknown = retry.RetryOn.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(r => !ConnectLevelRetryOn.Contains(r))
                .ToList();
            if (unknown.Count > 0 || retry.RetriableStatusCodes.Any(c => c != 503) || retry.RetriableHeaders.Count > 0 || retry.RetriableRequestHeaders.Count > 0)
            {
                causes.Add(new ChainCause(ChainReason.L7RetryPolicy, $"{where}: retry_on {retry.RetryOn}"));
            }
            // num_retries defaults to 1 when the policy is present.
            retries = Math.Min(retries, (int)Math.Min(retry.NumRetries ?? 1, int.MaxValue));
        }
        else
        {
            retries = 0;
        }
        if (action.Timeout is { } t && t.ToTimeSpan() > TimeSpan.Zero)
        {
            timeout = timeout is null ? t.ToTimeSpan() : TimeSpan.FromTicks(Math.Max(timeout.Value.Ticks, t.ToTimeSpan().Ticks));
        }
    }

    private static void PerFilter(Google.Protobuf.Collections.MapField<string, Google.Protobuf.WellKnownTypes.Any> configs, string where, List<ChainCause> causes)
    {
        foreach (var (name, config) in configs)
        {
            if (config.TryUnpackConfig(out HTTPFault? fault))
            {
                if (fault.Delay is not null || fault.Abort is not null)
                {
                    causes.Add(new ChainCause(ChainReason.FaultInjection, $"{where}: {name}"));
                }
                continue;
            }
            var reason = name switch
            {
                _ when name.Contains("fault", StringComparison.Ordinal) => ChainReason.FaultInjection,
                _ when name.Contains("lua", StringComparison.Ordinal) => ChainReason.Lua,
                _ when name.Contains("wasm", StringComparison.Ordinal) => ChainReason.Wasm,
                _ when name.Contains("ext_authz", StringComparison.Ordinal) => ChainReason.ExtAuthz,
                _ when name.Contains("cors", StringComparison.Ordinal) => ChainReason.HeaderMutation,
                _ => ChainReason.UnknownFilter,
            };
            causes.Add(new ChainCause(reason, $"{where}: per-filter config {name}"));
        }
    }

    private static string Canonical(ImmutableArray<WeightedDestination> set) =>
        string.Join(";", set.OrderBy(d => d.Cluster, StringComparer.Ordinal).Select(d => $"{d.Cluster}={d.Weight}"));
}
