using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Dataplane.Interception;
using Istio.AppSwitch.Dataplane.Mesh;
using Istio.AppSwitch.Dataplane.Observability;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Dataplane.Registry;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Istio.AppSwitch.Daemon;

/// <summary>
/// The operator's view over the API (docs/metrics.md): recent connections, the event stream, and the explanations behind
/// <c>ax describe</c>.
/// </summary>
internal static class ObservabilityEndpoints
{
    /// <summary><c>GET /v1/connections[?app=ID]</c>: the ring of recent connect decisions, newest first.</summary>
    internal static IResult GetConnections(HttpRequest request, [FromServices] DataplaneTelemetry telemetry)
    {
        var app = request.Query["app"].ToString();
        var records = telemetry.Recent.Snapshot()
            .Where(r => app.Length == 0 || r.App.Id == app)
            .Select(ToDto)
            .ToList();
        return TypedResults.Json(records, ApiJsonContext.Relaxed.ListConnectionDto);
    }

    /// <summary>
    /// <c>GET /v1/events</c>: JSON lines, one event each, flushed as they come, until the client goes or the daemon stops.
    /// A reader that lags more than the queue holds loses events; it is told with a <c>dropped</c> event.
    /// </summary>
    internal static async Task StreamEventsAsync(HttpContext context)
    {
        var telemetry = context.RequestServices.GetRequiredService<DataplaneTelemetry>();
        var stopping = context.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        using var both = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping);
        var token = both.Token;
        using var subscription = telemetry.Events.Subscribe();
        var response = context.Response;
        response.ContentType = "application/x-ndjson; charset=utf-8";
        response.Headers.CacheControl = "no-store";
        // The headers go now, so a client knows it is subscribed before the first event.
        await response.StartAsync(token).ConfigureAwait(false);
        await response.Body.FlushAsync(token).ConfigureAwait(false);
        var reader = subscription.Reader;
        try
        {
            while (await reader.WaitToReadAsync(token).ConfigureAwait(false))
            {
                var dropped = subscription.TakeDropped();
                if (dropped > 0)
                {
                    await WriteLineAsync(response, new EventDto { Time = telemetry.Now, Type = "dropped", Dropped = dropped }, token).ConfigureAwait(false);
                }
                while (reader.TryRead(out var e))
                {
                    await WriteLineAsync(response, e, token).ConfigureAwait(false);
                }
                await response.Body.FlushAsync(token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The client went away, or the daemon is stopping: the stream ends.
        }
    }

    private static async Task WriteLineAsync(HttpResponse response, EventDto e, CancellationToken token)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(e, ApiJsonContext.Relaxed.EventDto);
        await response.Body.WriteAsync(bytes, token).ConfigureAwait(false);
        await response.Body.WriteAsync("\n"u8.ToArray(), token).ConfigureAwait(false);
    }

    /// <summary><c>GET /v1/refs/{name}/describe</c>: a user ref by name, or a mesh service by key, <c>mesh/KEY</c> or DNS name.</summary>
    internal static IResult DescribeRef(string name, HttpContext context)
    {
        // Kestrel decodes a path before routing except for %2F, which would otherwise split the segment: a route name
        // (mesh/KEY) and a CIDR key (0.0.0.0/0:8080) arrive with it still escaped. Ref names cannot hold '/' or '%'.
        name = name.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase);
        var services = context.RequestServices;
        var refs = services.GetRequiredService<RefStore>();
        var mesh = services.GetRequiredService<MeshStore>();
        var registry = services.GetRequiredService<ServiceRegistry>();
        var routing = services.GetRequiredService<RoutingTable>();
        var telemetry = services.GetRequiredService<DataplaneTelemetry>();
        var held = services.GetRequiredService<HeldConnects>().ByRef();
        var interception = services.GetService<InterceptionOptions>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();

        if (refs.Find(name) is { } user)
        {
            var matched = registry.Services.Where(s => user.Selector.Matches(s.Labels)).ToList();
            var (mode, reasons) = ExplainUserRef(user, matched, mesh, interception);
            return TypedResults.Json(new RefDescriptionDto
            {
                Ref = ApiMapper.ToDto(user, routing.Current.CountBackends(user), held.GetValueOrDefault(user.Name), now),
                Origin = "api",
                Mode = mode,
                Reasons = reasons,
                Services = matched.Select(ApiMapper.ToDto).ToList(),
                Rbac = RbacFor(mesh, matched),
                IstioResources = IstioResourcesFor(mesh, matched),
                Connections = telemetry.ConnectionsOf(user.Name),
            }, ApiJsonContext.Relaxed.RefDescriptionDto);
        }

        var key = name.StartsWith("mesh/", StringComparison.Ordinal) ? name["mesh/".Length..] : name;
        var service = mesh.Services.GetValueOrDefault(key)
            ?? mesh.Services.Values.FirstOrDefault(s => s.DnsNames.Contains(name, StringComparer.OrdinalIgnoreCase));
        if (service is null)
        {
            return ApiErrors.Result(StatusCodes.Status404NotFound, ApiErrorCodes.NotFound,
                $"ref \"{name}\" not found (neither a ref nor a mesh service key or host name)", "name");
        }
        var route = service.RouteName;
        var clusters = service.Destinations.Select(d =>
        {
            var endpoints = mesh.Clusters.TryGetValue(d.Cluster, out var cluster) ? cluster.Endpoints.Count : 0;
            return string.Create(CultureInfo.InvariantCulture, $"{d.Cluster} (weight {d.Weight}, {endpoints} endpoints)");
        }).ToList();
        var sources = new List<string>();
        if (service.Listener is { } listener)
        {
            sources.Add($"listener {listener}");
        }
        sources.AddRange(service.Destinations.Select(d => $"cluster {d.Cluster}"));
        var heldNow = held.GetValueOrDefault(route);
        var backends = service.Destinations.Sum(d => mesh.Clusters.TryGetValue(d.Cluster, out var c) ? c.Endpoints.Count : 0);
        return TypedResults.Json(new RefDescriptionDto
        {
            Ref = new RefDto
            {
                Name = route,
                Vip = service.Vip.ToString(),
                Selector = "",
                Dns = service.DnsNames.IsDefaultOrEmpty ? null : string.Join(',', service.DnsNames),
                Backends = backends,
                Wait = "",
                Nonblocking = "hold",
                ProxyProtocol = "none",
                Held = heldNow.Count,
                // A mesh service is replaced on every push that changes it; its age would say nothing.
                CreatedAt = now,
            },
            Origin = "mesh",
            Mode = service.Mode.ToString().ToLowerInvariant(),
            Reasons = ExplainMeshService(service),
            Services = [],
            Clusters = clusters,
            Sources = sources,
            IstioResources = IstioResourceRef.ToDtos(service.IstioResources),
            Connections = telemetry.ConnectionsOf(route),
        }, ApiJsonContext.Relaxed.RefDescriptionDto);
    }

    /// <summary><c>GET /v1/apps/{id}/describe</c>.</summary>
    internal static IResult DescribeApp(string id, HttpContext context)
    {
        var services = context.RequestServices;
        var registry = services.GetRequiredService<ServiceRegistry>();
        if (registry.FindApp(id) is not { } app)
        {
            return ApiErrors.Result(StatusCodes.Status404NotFound, ApiErrorCodes.NotFound, $"app \"{id}\" not found", "id");
        }
        var refs = services.GetRequiredService<RefStore>();
        var telemetry = services.GetRequiredService<DataplaneTelemetry>();
        return TypedResults.Json(new AppDescriptionDto
        {
            App = ApiMapper.ToDto(app),
            Services = registry.Services.Where(s => s.AppId == app.Id).Select(ApiMapper.ToDto).ToList(),
            Refs = refs.All.Where(r => r.Clients.Matches(app.Labels)).Select(r => r.Name).Order(StringComparer.Ordinal).ToList(),
            Connections = telemetry.Recent.Snapshot().Where(r => r.App.Id == app.Id).Select(ToDto).ToList(),
        }, ApiJsonContext.Relaxed.AppDescriptionDto);
    }

    internal static ConnectionDto ToDto(ConnectionRecord r) => new()
    {
        Time = DateTimeOffset.FromUnixTimeMilliseconds(r.UnixMilliseconds),
        App = r.App.Id,
        AppName = r.App.Name,
        Pid = r.App.Pid,
        Destination = r.Destination.ToString(),
        Backend = r.Backend.Family == 0 ? null : r.Backend.ToString(),
        Mode = ConnectLabels.Of(r.Mode),
        Decision = ConnectLabels.Of(r.Outcome),
        Ref = r.Ref,
    };

    private static (string Mode, List<string> Reasons) ExplainUserRef(ServiceRef user, List<ServiceRecord> matched, MeshStore mesh,
        InterceptionOptions? interception)
    {
        var reasons = new List<string>();
        if (user.IsCapture)
        {
            reasons.Add("capture: ax writes a PROXY v2 header into each connection (--proxy-protocol v2, or a catch-all VIP), so it stays on TCP");
            return ("capture", reasons);
        }
        if (user.NoUnix)
        {
            reasons.Add("fast: --no-unix keeps its connections on loopback TCP");
            return ("fast", reasons);
        }
        if (interception is { UnixSwitch: false })
        {
            reasons.Add("fast: the daemon runs with --no-unix, so nothing is switched to Unix sockets");
            return ("fast", reasons);
        }
        if (interception?.Chain.TrustsProxies == true)
        {
            reasons.Add("fast: the daemon trusts PROXY headers from a proxy (--trusted-proxy), which a Unix socket pair cannot carry");
            return ("fast", reasons);
        }
        if (matched.Count == 0)
        {
            reasons.Add(user.Wait > TimeSpan.Zero
                ? $"no service matches the selector now: a connect waits up to {DurationText.Format(user.Wait)} for one to listen, then is refused"
                : "no service matches the selector now, and the ref has no wait: connects are refused at once");
            return ("fast", reasons);
        }
        var switched = 0;
        foreach (var service in matched)
        {
            if (service.Protocol != TransportProtocol.Tcp)
            {
                reasons.Add($"{service.Id}: {service.Protocol.ToString().ToLowerInvariant()}, redirected to {service.Bound}");
            }
            else if (mesh.FindInbound(service.App, service.Bound.Port) is { AllowsAll: false } policy)
            {
                reasons.Add($"{service.Id}: TCP, because its port has inbound policy {policy.Key} ({policy.Mode.ToString().ToLowerInvariant()}) that ax enforces at accept");
            }
            else
            {
                switched++;
                reasons.Add($"{service.Id}: Unix socket pair, because {service.AppName} ({service.AppId}) runs under this daemon and its port needs no inbound inspection");
            }
        }
        return (switched == matched.Count ? "unix" : switched == 0 ? "fast" : "unix+fast", reasons);
    }

    private static List<string> ExplainMeshService(MeshService service)
    {
        var reasons = new List<string>();
        switch (service.Mode)
        {
            case MeshMode.Fast:
                reasons.Add("fast: everything its Envoy configuration asks for at L4 (endpoints, weights, load balancing, outlier detection, circuit breaking) ax does at connect");
                break;
            case MeshMode.Chain:
                reasons.Add("chain: its configuration needs a proxy; connects go to the chained Envoy or a delegation sidecar, else pass through");
                break;
            case MeshMode.Passthrough:
                reasons.Add("passthrough: an ORIGINAL_DST or PassthroughCluster route; the kernel connects as asked");
                break;
            case MeshMode.Blackhole:
                reasons.Add("blackhole: BlackHoleCluster; connects are refused");
                break;
        }
        reasons.AddRange(service.Reasons.Select(r => $"reason: {r}"));
        if (service.HashOnSourceIp)
        {
            reasons.Add("consistent hashing on the source IP");
        }
        if (service.ConnectRetries > 0)
        {
            reasons.Add(string.Create(CultureInfo.InvariantCulture, $"a refused connect is retried on another endpoint up to {service.ConnectRetries} times"));
        }
        return reasons;
    }

    // The AuthorizationPolicies (and whatever else istiod named) on the inbound ports of the services a ref matches.
    private static List<MeshIstioResourceDto>? IstioResourcesFor(MeshStore mesh, List<ServiceRecord> matched)
    {
        var resources = matched
            .Select(s => mesh.FindInbound(s.App, s.Bound.Port))
            .OfType<InboundPolicy>()
            .SelectMany(p => p.IstioResources)
            .DistinctBy(r => (r.Kind, r.Namespace, r.Name))
            .OrderBy(r => r.Kind, StringComparer.Ordinal).ThenBy(r => r.Namespace, StringComparer.Ordinal).ThenBy(r => r.Name, StringComparer.Ordinal)
            .ToImmutableArray();
        return IstioResourceRef.ToDtos(resources);
    }

    private static List<string>? RbacFor(MeshStore mesh, List<ServiceRecord> matched)
    {
        var lines = new List<string>();
        foreach (var service in matched)
        {
            if (mesh.FindInbound(service.App, service.Bound.Port) is not { } policy)
            {
                continue;
            }
            var engines = policy.Rbac.Engines;
            var rules = engines.Length == 0 ? "no RBAC"
                : string.Join("; ", engines.Select(e => $"{e.Action.ToString().ToUpperInvariant()} {string.Join(',', e.Policies.Select(p => p.Name))}"));
            lines.Add($"{service.Id} port {service.Bound.Port}: inbound {policy.Key}, mode {policy.Mode.ToString().ToLowerInvariant()}, {rules}");
        }
        return lines.Count == 0 ? null : lines;
    }
}
