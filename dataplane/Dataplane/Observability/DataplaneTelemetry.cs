using System.Collections.Concurrent;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Dataplane.Registry;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Observability;

/// <summary>
/// What the interception tells the operator: counters and histograms for <c>/metrics</c>, the ring of recent decisions
/// for <c>ax get conns</c>, and events for <c>ax events</c>. Every method here runs on the notification path: counters
/// are preallocated and updated with <see cref="Interlocked"/>; the first connect of a ref allocates its counter set once;
/// an event object is built only while someone subscribes.
/// </summary>
public sealed class DataplaneTelemetry
{
    /// <summary>Held-connect wait buckets, seconds: a backend usually comes up in well under a minute.</summary>
    public static readonly double[] HeldWaitBounds = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

    /// <summary>Notification handling buckets, seconds: a decided connect takes tens of microseconds.</summary>
    public static readonly double[] NotificationBounds = [0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05];

    private static readonly int[] SyscallOrder =
    [
        SyscallNumbers.Connect, SyscallNumbers.Bind, SyscallNumbers.Listen, SyscallNumbers.GetSockName, SyscallNumbers.GetPeerName,
        SyscallNumbers.Accept, SyscallNumbers.Accept4, SyscallNumbers.SendTo, SyscallNumbers.RecvFrom, SyscallNumbers.SetSockOpt,
        SyscallNumbers.GetSockOpt,
    ];

    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, long[]> _connections = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long[]> _inbound = new(StringComparer.Ordinal);
    private readonly FixedHistogram[] _notificationLatency;

    /// <summary>Creates the counters; <paramref name="recent"/> decisions are kept for <c>ax get conns</c>.</summary>
    public DataplaneTelemetry(TimeProvider? time = null, int recent = ConnectionLog.DefaultCapacity)
    {
        _time = time ?? TimeProvider.System;
        Recent = new ConnectionLog(recent);
        _notificationLatency = new FixedHistogram[SyscallOrder.Length + 1];
        for (var i = 0; i < _notificationLatency.Length; i++)
        {
            _notificationLatency[i] = new FixedHistogram(NotificationBounds);
        }
    }

    /// <summary>The ring of recent decisions.</summary>
    public ConnectionLog Recent { get; }

    /// <summary>The subscribers of <c>ax events</c>.</summary>
    public EventHub Events { get; } = new();

    /// <summary>How long held connects waited, observed when each is settled (released, refused or gone).</summary>
    public FixedHistogram HeldWait { get; } = new(HeldWaitBounds);

    /// <summary>The <c>syscall</c> label values, in the order of <see cref="NotificationLatency"/>; the last is "other".</summary>
    public static IReadOnlyList<string> SyscallLabels { get; } = [.. SyscallOrder.Select(SyscallNumbers.Name), "other"];

    /// <summary>Handling time of notifications, one histogram per entry of <see cref="SyscallLabels"/>.</summary>
    public IReadOnlyList<FixedHistogram> NotificationLatency => _notificationLatency;

    /// <summary>Records that a notification of <paramref name="nr"/> was answered (or handed off) after <paramref name="ticks"/>.</summary>
    public void Notification(int nr, long ticks)
    {
        var index = Array.IndexOf(SyscallOrder, nr);
        _notificationLatency[index < 0 ? SyscallOrder.Length : index].Observe(ticks);
    }

    /// <summary>Records an outbound connect decision.</summary>
    /// <param name="app">The application.</param>
    /// <param name="mode">How ax carried it out.</param>
    /// <param name="outcome">What became of it.</param>
    /// <param name="refName">The ref that matched, or null (a passthrough, or an <c>--ip</c> service).</param>
    /// <param name="destination">What the application asked for.</param>
    /// <param name="backend">Where ax connected it; <c>default</c> when nowhere.</param>
    public void Connect(AppRecord app, ConnectMode mode, ConnectOutcome outcome, string? refName, in InetEndpoint destination, in InetEndpoint backend)
    {
        var counts = _connections.GetOrAdd(refName ?? "", static _ => new long[ConnectLabels.ModeCount * ConnectLabels.OutcomeCount]);
        Interlocked.Increment(ref counts[((int)mode * ConnectLabels.OutcomeCount) + (int)outcome]);
        var now = _time.GetUtcNow();
        Recent.Add(now.ToUnixTimeMilliseconds(), app, mode, outcome, refName, in destination, in backend);
        if (Events.IsActive)
        {
            Events.Publish(new EventDto
            {
                Time = now,
                Type = outcome == ConnectOutcome.Held ? "held" : "connect",
                App = app.Id,
                Ref = refName,
                Destination = destination.ToString(),
                Backend = backend.Family == 0 ? null : backend.ToString(),
                Mode = ConnectLabels.Of(mode),
                Decision = ConnectLabels.Of(outcome),
            });
        }
    }

    /// <summary>Records the end of a hold: its wait, and a <c>released</c> event. The connect's own decision is recorded apart.</summary>
    public void Released(AppRecord app, string refName, in InetEndpoint destination, TimeSpan waited, bool gone)
    {
        HeldWait.Observe(waited);
        if (Events.IsActive)
        {
            Events.Publish(new EventDto
            {
                Time = _time.GetUtcNow(),
                Type = "released",
                App = app.Id,
                Ref = refName,
                Destination = destination.ToString(),
                WaitSeconds = waited.TotalSeconds,
                Message = gone ? "the calling thread went away (a signal or its exit)" : null,
            });
        }
    }

    /// <summary>Records an inbound decision at accept under the inbound policy <paramref name="policy"/>.</summary>
    public void Inbound(AppRecord app, string policy, bool allowed)
    {
        var counts = _inbound.GetOrAdd(policy, static _ => new long[2]);
        Interlocked.Increment(ref counts[allowed ? 0 : 1]);
        if (!allowed && Events.IsActive)
        {
            Events.Publish(new EventDto
            {
                Time = _time.GetUtcNow(),
                Type = "connect",
                App = app.Id,
                Ref = policy,
                Mode = "inbound",
                Decision = ConnectLabels.Of(ConnectOutcome.Denied),
            });
        }
    }

    /// <summary>The time events are stamped with. Publishers of other events check <see cref="EventHub.IsActive"/> first.</summary>
    public DateTimeOffset Now => _time.GetUtcNow();

    /// <summary>
    /// Drops the connection counts of a ref that no longer exists, so that its series leave <c>/metrics</c> and the label
    /// set does not grow with every ref ever made. A connect decided for it in the same instant may bring one series
    /// back with its count; a ref made again with the name starts from zero (a counter reset, as after a restart).
    /// </summary>
    public void ForgetRef(string refName) => _connections.TryRemove(refName, out _);

    /// <summary>Drops the counts of every ref whose name <paramref name="gone"/> says no longer exists (mesh services after an update).</summary>
    public void ForgetRefs(Func<string, bool> gone)
    {
        ArgumentNullException.ThrowIfNull(gone);
        foreach (var name in _connections.Keys)
        {
            if (gone(name))
            {
                _connections.TryRemove(name, out _);
            }
        }
    }

    /// <summary>Outbound connection counts: (ref, mode, decision, count), non-zero ones only.</summary>
    public IEnumerable<(string Ref, ConnectMode Mode, ConnectOutcome Outcome, long Count)> Connections()
    {
        foreach (var (name, counts) in _connections.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            for (var i = 0; i < counts.Length; i++)
            {
                var count = Volatile.Read(ref counts[i]);
                if (count != 0)
                {
                    yield return (name, (ConnectMode)(i / ConnectLabels.OutcomeCount), (ConnectOutcome)(i % ConnectLabels.OutcomeCount), count);
                }
            }
        }
    }

    /// <summary>One ref's counts as "mode/decision" → count (for <c>ax describe ref</c>).</summary>
    public Dictionary<string, long> ConnectionsOf(string refName)
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (name, mode, outcome, count) in Connections())
        {
            if (name == refName)
            {
                result[$"{ConnectLabels.Of(mode)}/{ConnectLabels.Of(outcome)}"] = count;
            }
        }
        return result;
    }

    /// <summary>Inbound decisions: (policy, allowed, count), non-zero ones only.</summary>
    public IEnumerable<(string Policy, bool Allowed, long Count)> InboundDecisions()
    {
        foreach (var (policy, counts) in _inbound.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            for (var i = 0; i < 2; i++)
            {
                var count = Volatile.Read(ref counts[i]);
                if (count != 0)
                {
                    yield return (policy, i == 0, count);
                }
            }
        }
    }
}
