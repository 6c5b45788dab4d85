using Istio.AppSwitch.Dataplane.Registry;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Observability;

/// <summary>
/// The last <see cref="Capacity"/> connect decisions, in a ring of preallocated slots: what <c>ax get conns</c> shows.
/// A writer claims a slot with one compare-and-swap and fills it in place (no lock, no allocation); a writer that finds
/// the slot being filled by another (the ring wrapped within one write) drops its record rather than wait. A reader
/// copies a slot and keeps it only if its sequence number did not move meanwhile.
/// </summary>
public sealed class ConnectionLog
{
    /// <summary>Records kept when no capacity is given.</summary>
    public const int DefaultCapacity = 1024;

    private const long Writing = -1;
    private readonly Slot[] _slots;
    private long _next;

    /// <param name="capacity">How many recent decisions to keep.</param>
    public ConnectionLog(int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _slots = new Slot[capacity];
        for (var i = 0; i < capacity; i++)
        {
            _slots[i] = new Slot();
        }
    }

    /// <summary>How many decisions the ring keeps.</summary>
    public int Capacity => _slots.Length;

    /// <summary>Decisions recorded since start, including those the ring no longer holds.</summary>
    public long Recorded => Volatile.Read(ref _next);

    /// <summary>Records one decision. Allocation-free; never waits.</summary>
    public void Add(long unixMilliseconds, AppRecord app, ConnectMode mode, ConnectOutcome outcome, string? refName,
        in InetEndpoint destination, in InetEndpoint backend)
    {
        var sequence = Interlocked.Increment(ref _next);
        var slot = _slots[(int)((sequence - 1) % _slots.Length)];
        var previous = Volatile.Read(ref slot.Sequence);
        if (previous == Writing || Interlocked.CompareExchange(ref slot.Sequence, Writing, previous) != previous)
        {
            return; // another writer is in this slot: lose this record rather than wait
        }
        slot.Time = unixMilliseconds;
        slot.App = app;
        slot.Mode = mode;
        slot.Outcome = outcome;
        slot.Ref = refName;
        slot.Destination = destination;
        slot.Backend = backend;
        Volatile.Write(ref slot.Sequence, sequence);
    }

    /// <summary>The decisions the ring holds, newest first.</summary>
    public List<ConnectionRecord> Snapshot()
    {
        var records = new List<ConnectionRecord>(_slots.Length);
        foreach (var slot in _slots)
        {
            var before = Volatile.Read(ref slot.Sequence);
            if (before <= 0)
            {
                continue;
            }
            var record = new ConnectionRecord(before, slot.Time, slot.App!, slot.Mode, slot.Outcome, slot.Ref, slot.Destination, slot.Backend);
            if (Volatile.Read(ref slot.Sequence) == before)
            {
                records.Add(record);
            }
        }
        records.Sort((a, b) => b.Sequence.CompareTo(a.Sequence));
        return records;
    }

    private sealed class Slot
    {
        public long Sequence;
        public long Time;
        public AppRecord? App;
        public ConnectMode Mode;
        public ConnectOutcome Outcome;
        public string? Ref;
        public InetEndpoint Destination;
        public InetEndpoint Backend;
    }
}

/// <summary>One decision read back from the <see cref="ConnectionLog"/>.</summary>
/// <param name="Sequence">Its place in the order of all decisions, from 1.</param>
/// <param name="UnixMilliseconds">When it was made.</param>
/// <param name="App">The application.</param>
/// <param name="Mode">How ax carried it out.</param>
/// <param name="Outcome">What became of it.</param>
/// <param name="Ref">The ref, or null.</param>
/// <param name="Destination">The address the application asked for.</param>
/// <param name="Backend">Where ax connected it; <c>default</c> when nowhere.</param>
public readonly record struct ConnectionRecord(long Sequence, long UnixMilliseconds, AppRecord App, ConnectMode Mode, ConnectOutcome Outcome,
    string? Ref, InetEndpoint Destination, InetEndpoint Backend);
