using System.Collections.Immutable;
using System.Diagnostics;
using Istio.AppSwitch.Dataplane.Registry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Istio.AppSwitch.Dataplane.Policy;

/// <summary>
/// Owns the current <see cref="RoutingSnapshot"/>. The <see cref="ServiceRegistry"/> and the <see cref="RefStore"/>
/// publish their changes here; each publication builds a whole new snapshot off the connect path and swaps it in
/// with one reference write. The connect path reads <see cref="Current"/> with a volatile read and no lock, and
/// keeps using the snapshot it read for the whole decision.
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

    /// <summary>Rebuilds with a new set of refs (ordered by name) and the current services.</summary>
    internal void PublishRefs(ImmutableArray<ServiceRef> refs)
    {
        lock (_gate)
        {
            var started = Stopwatch.GetTimestamp();
            var index = RefIndex.Build(refs);
            Swap(RoutingSnapshot.Build(index, _current.ServiceArray, _current), started);
        }
    }

    /// <summary>Rebuilds with a new set of services and the current refs.</summary>
    internal void PublishServices(ImmutableArray<ServiceRecord> services)
    {
        lock (_gate)
        {
            var started = Stopwatch.GetTimestamp();
            Swap(RoutingSnapshot.Build(_current.Index, services, _current), started);
        }
    }

    /// <summary>Caller holds <c>_gate</c>.</summary>
    private void Swap(RoutingSnapshot next, long started)
    {
        Volatile.Write(ref _current, next);
        Published?.Invoke();
        Log.SnapshotPublished(_logger, next.Version, next.Refs.Count, next.Services.Count, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2010, EventName = "SnapshotPublished", Level = LogLevel.Debug, Message = "Published routing snapshot {Version}: {Refs} refs, {Services} services, built in {Milliseconds:0.###} ms")]
        public static partial void SnapshotPublished(ILogger logger, long version, int refs, int services, double milliseconds);
    }
}
