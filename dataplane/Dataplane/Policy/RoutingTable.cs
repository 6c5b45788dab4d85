using System.Collections.Immutable;
using System.Diagnostics;
using Istio.AppSwitch.Dataplane.Registry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Istio.AppSwitch.Dataplane.Policy;

/// <summary>
/// Owns the current <see cref="RoutingSnapshot"/>. The <see cref="ServiceRegistry"/> and the <see cref="RefStore"/>
/// publish their changes here; each publication makes a new snapshot from the current one off the connect path
/// (sharing what did not change) and swaps it in with one reference write. The connect path reads
/// <see cref="Current"/> with a volatile read and no lock, and keeps using the snapshot it read for the whole decision.
/// </summary>
/// <remarks>
/// Writers serialize on <c>_gate</c>. Publishers call in while holding their own lock (so that their changes are
/// published in the order they were made); this class never calls out, so the lock order is always
/// publisher, then <c>_gate</c>.
/// </remarks>
public sealed partial class RoutingTable
{
    private readonly Lock _gate = new();
    private readonly ILogger _logger;
    private RoutingSnapshot _current = RoutingSnapshot.Empty;

    /// <summary>Creates a table whose snapshot routes nothing.</summary>
    public RoutingTable(ILogger<RoutingTable>? logger = null)
    {
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>
    /// Raised after each new snapshot is in force, on the publisher's thread and under its lock: handlers must
    /// only signal (the held connects wake up this way), never block or call back in.
    /// </summary>
    public event Action? Published;

    /// <summary>The snapshot in force. A volatile read: no lock, no allocation.</summary>
    public RoutingSnapshot Current => Volatile.Read(ref _current);

    /// <summary>
    /// Publishes a change of the refs: the refs named in <paramref name="removed"/> go, and <paramref name="added"/>
    /// come (replacing refs of the same name). One snapshot, however many refs change.
    /// </summary>
    internal void PublishRefs(ReadOnlySpan<string> removed, ReadOnlySpan<ServiceRef> added)
    {
        lock (_gate)
        {
            var started = Stopwatch.GetTimestamp();
            Swap(_current.WithRefs(removed, added), started);
        }
    }

    /// <summary>Publishes a change of the mesh routes (built by the mesh store): one snapshot for the whole update.</summary>
    internal void PublishMeshRoutes(ReadOnlySpan<string> removed, ReadOnlySpan<RefRoute> added)
    {
        lock (_gate)
        {
            var started = Stopwatch.GetTimestamp();
            Swap(_current.WithMeshRoutes(removed, added), started);
        }
    }

    /// <summary>Publishes a new set of services.</summary>
    internal void PublishServices(ImmutableArray<ServiceRecord> services)
    {
        lock (_gate)
        {
            var started = Stopwatch.GetTimestamp();
            Swap(_current.WithServices(services), started);
        }
    }

    /// <summary>Caller holds <c>_gate</c>.</summary>
    private void Swap(RoutingSnapshot next, long started)
    {
        Volatile.Write(ref _current, next);
        Published?.Invoke();
        Log.SnapshotPublished(_logger, next.Version, next.RefCount, next.Services.Count, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2010, EventName = "SnapshotPublished", Level = LogLevel.Debug, Message = "Published routing snapshot {Version}: {Refs} refs, {Services} services, built in {Milliseconds:0.###} ms")]
        public static partial void SnapshotPublished(ILogger logger, long version, int refs, int services, double milliseconds);
    }
}
