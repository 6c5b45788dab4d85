using System.Collections.Immutable;
using System.Diagnostics;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Dataplane.Configuration;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Dataplane.Policy.LoadBalancing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Istio.AppSwitch.Dataplane.Mesh;

/// <summary>
/// The mesh rules the xds-agent programs: upstream clusters with their endpoints, and the outbound services that
/// send connects to them. Thread-safe. Every update is validated as a whole, then published to the
/// <see cref="RoutingTable"/> as one snapshot before <see cref="Apply"/> returns, so no connect sees half of one.
/// </summary>
/// <remarks>
/// A cluster replaced by an update keeps the state of the endpoints that stay (open connections, failures,
/// ejections): an EDS push that adds one endpoint must not forget which others were just ejected. Only the routes of
/// services whose clusters changed are rebuilt, so one EDS change costs O(services of that cluster), plus one scan of
/// the service list to find them.
/// </remarks>
public sealed partial class MeshStore
{
    private readonly Lock _gate = new();
    private readonly RoutingTable _routing;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    // Replaced, never mutated, under _gate; readers take the reference without a lock.
    private State _state = State.Empty;

    /// <summary>Creates an empty store that publishes to <paramref name="routing"/>.</summary>
    public MeshStore(RoutingTable routing, TimeProvider? timeProvider = null, ILogger<MeshStore>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(routing);
        _routing = routing;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>The most updates <see cref="Journal"/> holds after a replacing one; past it, it is empty until the next.</summary>
    public const int MaxJournal = 1024;

    // The requests that made the state, since the last replacing one; null once MaxJournal was passed. Under _gate.
    private List<MeshUpdateRequest>? _journal = [];

    /// <summary>Raised after every applied update (outside the store's lock).</summary>
    public event Action? Changed;

    /// <summary>
    /// The requests that, applied in order to an empty store, give the rules in force: the last replacing update and
    /// those after it. Empty when there were more than <see cref="MaxJournal"/> since (an agent replaces everything
    /// when it reconnects). For keeping the rules across a daemon's restart.
    /// </summary>
    public IReadOnlyList<MeshUpdateRequest> Journal
    {
        get
        {
            lock (_gate)
            {
                return _journal is null ? [] : _journal.ToArray();
            }
        }
    }

    /// <summary>The services in force, by key.</summary>
    public IReadOnlyDictionary<string, MeshService> Services => Volatile.Read(ref _state).Services;

    /// <summary>The clusters in force, by name.</summary>
    public IReadOnlyDictionary<string, UpstreamCluster> Clusters => Volatile.Read(ref _state).Clusters;

    /// <summary>
    /// Validates <paramref name="request"/> and applies it atomically. Throws <see cref="ValidationException"/>
    /// listing every bad field (<c>clusters[2].endpoints[0].port</c>), or every service left naming a cluster that
    /// would not exist; nothing changes then.
    /// </summary>
    public MeshUpdateResponse Apply(MeshUpdateRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var (update, inbound) = ValidateWithInbound(request); // MeshStore.Inbound.cs
        var started = Stopwatch.GetTimestamp();
        State next;
        int routesChanged;
        lock (_gate)
        {
            var current = _state;
            var clusters = update.Replace ? current.Clusters.Clear() : current.Clusters.RemoveRange(update.DeleteClusters);
            var changedClusters = new HashSet<string>(StringComparer.Ordinal);
            foreach (var spec in update.Clusters)
            {
                // Replace or not, a cluster of the same name hands its endpoints' state on.
                clusters = clusters.SetItem(spec.Name, UpstreamCluster.Create(spec, current.Clusters.GetValueOrDefault(spec.Name), _time));
                changedClusters.Add(spec.Name);
            }

            var services = update.Replace ? current.Services.Clear() : current.Services.RemoveRange(update.DeleteServices);
            foreach (var service in update.Services)
            {
                services = services.SetItem(service.Key, service);
            }
            CheckClustersExist(update, services, clusters);

            var removed = new List<string>();
            foreach (var key in current.Services.Keys)
            {
                if (!services.ContainsKey(key))
                {
                    removed.Add(MeshService.RouteNameOf(key));
                }
            }
            var upserted = new HashSet<string>(update.Services.Select(s => s.Key), StringComparer.Ordinal);
            var added = new List<RefRoute>();
            var now = _time.GetUtcNow();
            foreach (var service in services.Values)
            {
                if (upserted.Contains(service.Key) || service.Destinations.Any(d => changedClusters.Contains(d.Cluster)))
                {
                    added.Add(Route(service, clusters, now));
                }
            }
            next = new State(services, clusters, update.Version ?? current.Version, now);
            if (removed.Count > 0 || added.Count > 0)
            {
                _routing.PublishMeshRoutes(removed.ToArray(), added.ToArray());
            }
            PublishInbound(inbound, update.Replace);
            Volatile.Write(ref _state, next);
            routesChanged = removed.Count + added.Count;
            if (request.Replace)
            {
                _journal = [request];
            }
            else if (_journal is not null)
            {
                _journal.Add(request);
                if (_journal.Count > MaxJournal)
                {
                    _journal = null;
                }
            }
        }
        Changed?.Invoke();
        Log.Applied(_logger, next.Version, update.Replace, update.Services.Count + update.DeleteServices.Count,
            update.Clusters.Count + update.DeleteClusters.Count, routesChanged, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return new MeshUpdateResponse { Version = next.Version, Services = next.Services.Count, Clusters = next.Clusters.Count };
    }

    /// <summary>The rules in force, with the endpoints' live state.</summary>
    public MeshStateDto Describe()
    {
        var state = Volatile.Read(ref _state);
        var now = _time.GetTimestamp();
        return new MeshStateDto
        {
            Version = state.Version,
            UpdatedAt = state.UpdatedAt,
            Services = [.. state.Services.Values.Select(ToDto)],
            Clusters = [.. state.Clusters.Values.Select(c => ToDto(c, now))],
            Inbound = DescribeInbound(),
        };
    }

    /// <summary>Every service must name clusters that exist once the update is in: a route never points at nothing.</summary>
    private static void CheckClustersExist(MeshUpdate update, ImmutableSortedDictionary<string, MeshService> services,
        ImmutableSortedDictionary<string, UpstreamCluster> clusters)
    {
        var errors = new List<FieldError>();
        var inBatch = update.Services.Select((s, i) => (s.Key, i)).ToDictionary(p => p.Key, p => p.i, StringComparer.Ordinal);
        foreach (var service in services.Values)
        {
            for (var j = 0; j < service.Destinations.Length; j++)
            {
                var name = service.Destinations[j].Cluster;
                if (clusters.ContainsKey(name))
                {
                    continue;
                }
                errors.Add(inBatch.TryGetValue(service.Key, out var i)
                    ? new FieldError($"services[{i}].clusters[{j}]", $"services[{i}].clusters[{j}]: cluster \"{name}\" does not exist")
                    : new FieldError("deleteClusters", $"cluster \"{name}\" is still used by service \"{service.Key}\""));
            }
        }
        ValidationException.ThrowIfAny(errors);
    }

    private RefRoute Route(MeshService service, ImmutableSortedDictionary<string, UpstreamCluster> clusters, DateTimeOffset now)
    {
        var destinations = new List<(UpstreamCluster, uint)>(service.Destinations.Length);
        var wait = TimeSpan.Zero;
        foreach (var destination in service.Destinations)
        {
            var cluster = clusters[destination.Cluster];
            destinations.Add((cluster, destination.Weight));
            wait = cluster.Spec.ConnectTimeout > wait ? cluster.Spec.ConnectTimeout : wait;
        }
        return new RefRoute(ServiceRef.ForMesh(service, wait, now), RefBackends.None, new MeshBackends(destinations));
    }

    private static MeshServiceDto ToDto(MeshService service) => new()
    {
        Key = service.Key,
        Vip = service.Vip.ToString(),
        DnsNames = service.DnsNames.IsEmpty ? null : [.. service.DnsNames],
        Mode = service.Mode.ToString().ToLowerInvariant(),
        Reasons = service.Reasons.IsEmpty ? null : [.. service.Reasons],
        Clusters = [.. service.Destinations.Select(d => new MeshWeightedClusterDto { Name = d.Cluster, Weight = d.Weight })],
        HashOnSourceIp = service.HashOnSourceIp,
        ConnectRetries = service.ConnectRetries,
        Listener = service.Listener,
        IstioResources = IstioResourceRef.ToDtos(service.IstioResources),
    };

    private static MeshClusterDto ToDto(UpstreamCluster cluster, long now)
    {
        var spec = cluster.Spec;
        return new MeshClusterDto
        {
            Name = cluster.Name,
            LbPolicy = PolicyName(spec.LbPolicy),
            ChoiceCount = spec.LbPolicy == UpstreamLbPolicy.LeastRequest ? spec.ChoiceCount : null,
            MinimumRingSize = spec.LbPolicy == UpstreamLbPolicy.RingHash ? spec.MinimumRingSize : null,
            MaximumRingSize = spec.LbPolicy == UpstreamLbPolicy.RingHash ? spec.MaximumRingSize : null,
            MaglevTableSize = spec.LbPolicy == UpstreamLbPolicy.Maglev ? spec.MaglevTableSize : null,
            ConnectTimeout = DurationText.Format(spec.ConnectTimeout),
            MaxConnections = spec.MaxConnections == uint.MaxValue ? null : spec.MaxConnections,
            HealthyPanicThreshold = spec.HealthyPanicThreshold,
            OutlierDetection = spec.OutlierDetection is { } od
                ? new MeshOutlierDetectionDto
                {
                    ConsecutiveFailures = od.ConsecutiveFailures,
                    BaseEjectionTime = DurationText.Format(od.BaseEjectionTime),
                    MaxEjectionTime = DurationText.Format(od.MaxEjectionTime),
                    MaxEjectionPercent = od.MaxEjectionPercent,
                }
                : null,
            Endpoints = [.. cluster.Endpoints.Select(e => new MeshEndpointDto
            {
                Address = e.Address.Address.ToString(),
                Port = e.Address.Port,
                Weight = e.Weight,
                Priority = e.Priority,
                Health = e.Health.ToString().ToLowerInvariant(),
                ActiveConnections = e.ActiveConnections,
                ConsecutiveFailures = e.ConsecutiveFailures,
                Ejected = e.IsEjected(now),
            })],
        };
    }

    private static string PolicyName(UpstreamLbPolicy policy) => policy switch
    {
        UpstreamLbPolicy.LeastRequest => "least_request",
        UpstreamLbPolicy.Random => "random",
        UpstreamLbPolicy.RingHash => "ring_hash",
        UpstreamLbPolicy.Maglev => "maglev",
        _ => "round_robin",
    };

    private sealed record State(
        ImmutableSortedDictionary<string, MeshService> Services,
        ImmutableSortedDictionary<string, UpstreamCluster> Clusters,
        string? Version,
        DateTimeOffset? UpdatedAt)
    {
        public static State Empty { get; } = new(
            ImmutableSortedDictionary.Create<string, MeshService>(StringComparer.Ordinal),
            ImmutableSortedDictionary.Create<string, UpstreamCluster>(StringComparer.Ordinal),
            null,
            null);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2101, EventName = "MeshApplied", Level = LogLevel.Information,
            Message = "Applied mesh update {Version} (replace: {Replace}): {Services} services and {Clusters} clusters changed, {Routes} routes republished in {Milliseconds:0.###} ms")]
        public static partial void Applied(ILogger logger, string? version, bool replace, int services, int clusters, int routes, double milliseconds);
    }
}
