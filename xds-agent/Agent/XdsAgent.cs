using System.Diagnostics;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Grpc;
using Istio.AppSwitch.Xds.Ads;
using Istio.AppSwitch.Xds.Client;
using Istio.AppSwitch.Xds.Resources;
using Istio.AppSwitch.Xds.Sidecar;
using Istio.AppSwitch.Xds.Translation;
using Istio.AppSwitch.XdsAgent.Mesh;
using Istio.AppSwitch.XdsAgent.Sinks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Istio.AppSwitch.XdsAgent;

/// <summary>
/// Subscribes to Pilot as a sidecar would, and keeps the daemon's mesh rules equal to the translation of the last
/// consistent xDS snapshot.
/// </summary>
/// <remarks>
/// <para>
/// Pushes run one at a time on the agent's own task and coalesce: snapshots that arrive during a push are not queued;
/// the next push translates only the latest. A snapshot with a route whose cluster or endpoints have not arrived is not
/// pushed at all, so no connect sees half of an xDS update, until what it misses has been missing for
/// <see cref="XdsAgentOptions.DoesNotExistTimeout"/> (then it is taken as nonexistent).
/// </para>
/// <para>
/// Pilot away: the xDS client keeps its last good resources and so the daemon keeps its rules; nothing is removed.
/// Daemon away (a push fails): the agent retries with backoff, and the next push that gets through is a full replace,
/// since a restarted daemon holds nothing.
/// </para>
/// </remarks>
public sealed partial class XdsAgent : IXdsWatcher, IAsyncDisposable
{
    private readonly XdsAgentOptions _options;
    private readonly IMeshSink _sink;
    private readonly ILogger _logger;
    private readonly Http2GrpcChannel _channel;
    private readonly XdsClient _client;
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly Lock _gate = new();

    // The newest consistent snapshot and when it arrived; written by the watcher, taken by the push loop.
    private (XdsSnapshot Snapshot, long ArrivedAt)? _latest;
    private bool _sawClusters;
    private bool _sawListeners;

    // Under _gate: since when each missing name ("type/name") has been missing, and the timer that looks again when the
    // oldest of them reaches the does-not-exist timeout.
    private readonly Dictionary<string, long> _missingSince = new(StringComparer.Ordinal);
    private ITimer? _recheck;

    // Owned by the push loop.
    private XdsSnapshot? _translatedSnapshot;
    private MeshTranslation? _translation;
    private DesiredMesh _applied = DesiredMesh.Empty;
    private readonly MeshInboundScope? _inboundScope;
    private bool _replaceNext = true;
    private long _pushedRevision = -1;

    private CancellationTokenSource? _stopping;
    private Task? _pushLoop;
    private IDisposable? _watch;
    private int _pushes;
    private int _failures;

    /// <summary>Creates an agent that connects to <see cref="XdsAgentOptions.Pilot"/> and programs <paramref name="sink"/>.</summary>
    public XdsAgent(XdsAgentOptions options, IMeshSink sink, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(sink);
        _options = options;
        _sink = sink;
        loggerFactory ??= NullLoggerFactory.Instance;
        _logger = loggerFactory.CreateLogger("Istio.AppSwitch.XdsAgent");
        _inboundScope = MeshInboundScope.For(options.Node.Id.ToString(), options.Node.Labels);
        _channel = new Http2GrpcChannel(options.Pilot.ToChannelOptions(options.TimeProvider));
        _client = new XdsClient(
            _channel,
            new XdsClientOptions
            {
                Node = XdsNodeBuilder.Build(options.Node),
                Variant = options.Variant,
                CallHeaders = options.Pilot.CreateCallHeaders,
                Backoff = options.PilotBackoff,
                TimeProvider = options.TimeProvider,
            },
            loggerFactory.CreateLogger("Istio.AppSwitch.Xds"),
            options.Pilot.Address);
    }

    /// <summary>The xDS client (its snapshot is what the agent translates).</summary>
    public XdsClient Client => _client;

    /// <summary>The rules the daemon accepted last (empty before the first push).</summary>
    public DesiredMesh Applied => Volatile.Read(ref _applied);

    /// <summary>How many pushes the daemon accepted.</summary>
    public int Pushes => Volatile.Read(ref _pushes);

    /// <summary>How many pushes failed.</summary>
    public int Failures => Volatile.Read(ref _failures);

    /// <summary>Starts the push loop and connects to Pilot; returns at once.</summary>
    /// <exception cref="InvalidOperationException">The agent is running already.</exception>
    public void Start()
    {
        lock (_gate)
        {
            if (_pushLoop is not null)
            {
                throw new InvalidOperationException("The xds-agent is running already.");
            }

            _stopping = new CancellationTokenSource();
            var token = _stopping.Token;
            _pushLoop = Task.Run(() => PushLoopAsync(token), CancellationToken.None);
            _watch = _client.Watch(this);
        }

        Log.Started(_logger, _options.Pilot.Address, _options.Node.Id.ToString(), _options.Variant, _sink.Description);
        if (_inboundScope is null)
        {
            Log.NoInboundScope(_logger);
        }
        _client.Start();
    }

    /// <summary>Disconnects from Pilot and stops pushing. The daemon keeps the rules it has.</summary>
    public async Task StopAsync()
    {
        Task? loop;
        CancellationTokenSource? stopping;
        lock (_gate)
        {
            (loop, stopping, _pushLoop, _stopping) = (_pushLoop, _stopping, null, null);
            _watch?.Dispose();
            _watch = null;
            _recheck?.Dispose();
            _recheck = null;
        }

        await _client.StopAsync().ConfigureAwait(false);
        if (loop is null)
        {
            return;
        }

        await stopping!.CancelAsync().ConfigureAwait(false);
        await loop.ConfigureAwait(false);
        stopping.Dispose();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        await _client.DisposeAsync().ConfigureAwait(false);
        _channel.Dispose();
        _wake.Dispose();
    }

    /// <inheritdoc />
    void IXdsWatcher.OnChanged(XdsSnapshot snapshot, XdsChange change)
    {
        try
        {
            lock (_gate)
            {
                // CDS and LDS are wildcard subscriptions: until both have been answered once, an empty set means "not
                // yet", not "none", and a replace would wipe the daemon's rules for a moment.
                _sawClusters |= change.TypeUrl == XdsTypeUrls.Cluster || snapshot.Clusters.Version.Length > 0 || snapshot.Clusters.Resources.Count > 0;
                _sawListeners |= change.TypeUrl == XdsTypeUrls.Listener || snapshot.Listeners.Version.Length > 0 || snapshot.Listeners.Resources.Count > 0;
                if (!_sawClusters || !_sawListeners)
                {
                    return;
                }

                if (!MayPush(snapshot))
                {
                    return;
                }

                _latest = (snapshot, Stopwatch.GetTimestamp());
            }

            Wake();
        }
        catch (Exception e)
        {
            // A watcher must not throw into the xDS client.
            Log.WatcherFailed(_logger, e);
        }
    }

    /// <summary>
    /// Whether <paramref name="snapshot"/> may be pushed: it is consistent, or what it misses has been missing for the
    /// does-not-exist timeout. Otherwise arms a timer to look again when the oldest missing name times out. Under _gate.
    /// </summary>
    private bool MayPush(XdsSnapshot snapshot)
    {
        if (snapshot.IsConsistent)
        {
            _missingSince.Clear();
            return true;
        }

        var pending = snapshot.Pending;
        var now = _options.TimeProvider.GetTimestamp();
        var missing = pending.Clusters.Select(n => "cluster/" + n)
            .Concat(pending.Endpoints.Select(n => "endpoints/" + n))
            .Concat(pending.Routes.Select(n => "route/" + n))
            .ToHashSet(StringComparer.Ordinal);
        foreach (var gone in _missingSince.Keys.Where(k => !missing.Contains(k)).ToList())
        {
            _missingSince.Remove(gone);
        }

        foreach (var name in missing)
        {
            _missingSince.TryAdd(name, now);
        }

        // Every missing name must have timed out: the one that went missing last decides.
        var youngest = missing.Max(name => _missingSince[name]);
        if (_options.TimeProvider.GetElapsedTime(youngest, now) >= _options.DoesNotExistTimeout)
        {
            Log.TakenAsNonexistent(_logger, snapshot.Revision, pending.Clusters.Count, pending.Endpoints.Count, pending.Routes.Count,
                _options.DoesNotExistTimeout.TotalSeconds);
            return true;
        }

        Log.Inconsistent(_logger, snapshot.Revision, pending.Clusters.Count, pending.Endpoints.Count, pending.Routes.Count);
        var due = _options.DoesNotExistTimeout - _options.TimeProvider.GetElapsedTime(youngest, now);
        _recheck?.Dispose();
        _recheck = _options.TimeProvider.CreateTimer(_ => Recheck(), null, due > TimeSpan.Zero ? due : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        return false;
    }

    /// <summary>The does-not-exist timer fired: the client's current snapshot may be pushable now.</summary>
    private void Recheck()
    {
        try
        {
            lock (_gate)
            {
                if (_pushLoop is null || !_sawClusters || !_sawListeners || !MayPush(_client.Snapshot))
                {
                    return;
                }

                _latest = (_client.Snapshot, Stopwatch.GetTimestamp());
            }

            Wake();
        }
        catch (Exception e)
        {
            Log.WatcherFailed(_logger, e);
        }
    }

    /// <inheritdoc />
    void IXdsWatcher.OnResourceError(string typeUrl, string name, string reason) =>
        Log.ResourceGone(_logger, typeUrl, name, reason);

    /// <inheritdoc />
    void IXdsWatcher.OnAmbientError(XdsAmbientError error)
    {
        if (error.Kind == XdsAmbientErrorKind.Nack)
        {
            Log.Nacked(_logger, error.TypeUrl ?? "-", error.Message);
        }
        else
        {
            Log.PilotAway(_logger, error.Message);
        }
    }

    /// <summary>The translator's input: the snapshot's resources of every type, as plain lists.</summary>
    public static TranslationInput ToTranslationInput(XdsSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        return new TranslationInput(
            Messages<Cluster>(snapshot.Clusters),
            Messages<ClusterLoadAssignment>(snapshot.Endpoints),
            Messages<Listener>(snapshot.Listeners),
            Messages<RouteConfiguration>(snapshot.Routes));
    }

    /// <summary>The version label of a snapshot: the ACKed version of each type.</summary>
    public static string VersionOf(XdsSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        return $"cds={snapshot.Clusters.Version},eds={snapshot.Endpoints.Version},lds={snapshot.Listeners.Version},rds={snapshot.Routes.Version}";
    }

    private static List<T> Messages<T>(XdsTypeSnapshot type)
        where T : Google.Protobuf.IMessage<T>
    {
        var list = new List<T>(type.Resources.Count);
        foreach (var resource in type.Resources.Values)
        {
            list.Add(resource.As<T>());
        }

        return list;
    }

    private void Wake()
    {
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // The loop has a wake-up pending already: it will take the latest snapshot.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async Task PushLoopAsync(CancellationToken cancellationToken)
    {
        var backoff = new XdsBackoff(_options.SinkBackoff, Random.Shared);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await _wake.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            // Retry until the latest snapshot is pushed: a failed push leaves the loop here with a backoff delay.
            while (!cancellationToken.IsCancellationRequested)
            {
                (XdsSnapshot Snapshot, long ArrivedAt)? next;
                lock (_gate)
                {
                    next = _latest;
                }

                if (next is not { } latest || (latest.Snapshot.Revision == _pushedRevision && !_replaceNext))
                {
                    break;
                }

                if (await TryPushAsync(latest.Snapshot, latest.ArrivedAt, cancellationToken).ConfigureAwait(false))
                {
                    backoff.Reset();
                    break;
                }

                var delay = backoff.Next();
                Log.RetryingIn(_logger, delay);
                try
                {
                    await Task.Delay(delay, _options.TimeProvider, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    // Runs only on the push loop. The common change is EDS alone (pods come and go): then the listeners, routes and
    // clusters are the very objects translated last time, no outbound service can change (the translation of a service
    // does not read endpoints), and only the clusters whose endpoints changed are translated again.
    // Returns the names of the clusters translated again, or null after a whole translation.
    private (MeshTranslation Translation, IReadOnlyCollection<string>? ChangedClusters) Translate(XdsSnapshot snapshot)
    {
        MeshTranslation translation;
        IReadOnlyCollection<string>? changed = null;
        if (_translatedSnapshot is { } previous && _translation is { } last &&
            ReferenceEquals(previous.Clusters, snapshot.Clusters) && ReferenceEquals(previous.Listeners, snapshot.Listeners) &&
            ReferenceEquals(previous.Routes, snapshot.Routes))
        {
            (translation, changed) = ReferenceEquals(previous.Endpoints, snapshot.Endpoints)
                ? (last, [])
                : TranslateEndpointChanges(previous.Endpoints, snapshot, last);
        }
        else
        {
            translation = MeshTranslator.Translate(ToTranslationInput(snapshot), _options.Translation);
        }

        _translatedSnapshot = snapshot;
        _translation = translation;
        return (translation, changed);
    }

    private (MeshTranslation Translation, IReadOnlyCollection<string> ChangedClusters) TranslateEndpointChanges(
        XdsTypeSnapshot before, XdsSnapshot snapshot, MeshTranslation last)
    {
        var now = snapshot.Endpoints.Resources;
        var changed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, resource) in now)
        {
            // SotW sends every assignment again as new objects: compare by value, not by reference only.
            if (!before.Resources.TryGetValue(name, out var old) || (!ReferenceEquals(old, resource) && !old.Message.Equals(resource.Message)))
            {
                changed.Add(name);
            }
        }

        foreach (var name in before.Resources.Keys)
        {
            if (!now.ContainsKey(name))
            {
                changed.Add(name);
            }
        }

        if (changed.Count == 0)
        {
            return (last, []);
        }

        var clusters = new List<Cluster>();
        foreach (var resource in snapshot.Clusters.Resources.Values)
        {
            var cluster = resource.As<Cluster>();
            var edsName = cluster.EdsClusterConfig?.ServiceName is { Length: > 0 } serviceName ? serviceName : cluster.Name;
            if (cluster.Type == Cluster.Types.DiscoveryType.Eds && changed.Contains(edsName))
            {
                clusters.Add(cluster);
            }
        }

        var assignments = changed.Where(now.ContainsKey).Select(n => now[n].As<ClusterLoadAssignment>()).ToList();
        var part = MeshTranslator.Translate(new TranslationInput(clusters, assignments, [], []), _options.Translation);
        return (last with { Clusters = last.Clusters.SetItems(part.Clusters) }, [.. part.Clusters.Keys]);
    }

    // Runs only on the push loop. True when the daemon holds the snapshot's rules (or the snapshot cannot be translated
    // and retrying would not help).
    private async Task<bool> TryPushAsync(XdsSnapshot snapshot, long arrivedAt, CancellationToken cancellationToken)
    {
        DesiredMesh desired;
        MeshUpdateRequest request;
        var version = VersionOf(snapshot);
        try
        {
            var (translation, changedClusters) = Translate(snapshot);
            desired = changedClusters is not null && !_replaceNext
                ? MeshRuleMapper.MapClusters(_applied, translation, changedClusters)
                : MeshRuleMapper.Map(translation, _inboundScope);
            request = MeshDiff.Compute(_applied, desired, _replaceNext, version);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A translator bug must not stop the agent: the daemon keeps its rules, and the next snapshot tries again.
            Log.TranslationFailed(_logger, snapshot.Revision, e);
            _pushedRevision = snapshot.Revision;
            return true;
        }

        if (MeshDiff.IsEmpty(request))
        {
            _pushedRevision = snapshot.Revision;
            Log.NothingToPush(_logger, snapshot.Revision, version);
            return true;
        }

        try
        {
            await _sink.ApplyAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return true;
        }
        catch (Exception e)
        {
            // The daemon may have applied it or not, or be a new daemon with nothing: only a replace is safe next.
            _replaceNext = true;
            Interlocked.Increment(ref _failures);
            Log.PushFailed(_logger, _sink.Description, e.Message);
            return false;
        }

        var completed = Stopwatch.GetTimestamp();
        var elapsed = Stopwatch.GetElapsedTime(arrivedAt, completed);
        Volatile.Write(ref _applied, desired);
        _replaceNext = false;
        _pushedRevision = snapshot.Revision;
        Interlocked.Increment(ref _pushes);
        var result = new MeshPushResult(
            snapshot.Revision, version, request.Replace,
            request.Clusters?.Count ?? 0, request.DeleteClusters?.Count ?? 0,
            request.Services?.Count ?? 0, request.DeleteServices?.Count ?? 0,
            elapsed, completed);
        Log.Pushed(_logger, request.Replace ? "replace" : "delta", result.ServiceUpserts, result.ServiceDeletes, result.ClusterUpserts,
            result.ClusterDeletes, desired.Services.Count, desired.Clusters.Count, version, elapsed.TotalMilliseconds);
        if (desired.Skipped.DnsOnlyServices + desired.Skipped.Unusable + desired.Skipped.NonIpEndpoints > 0 || !desired.Skipped.LbFallbacks.IsEmpty)
        {
            Log.Skipped(_logger, desired.Skipped.DnsOnlyServices, desired.Skipped.Unusable, desired.Skipped.NonIpEndpoints, desired.Skipped.LbFallbacks.Length);
        }

        try
        {
            _options.OnPushed?.Invoke(result);
        }
        catch (Exception e)
        {
            Log.WatcherFailed(_logger, e);
        }

        return true;
    }
}
