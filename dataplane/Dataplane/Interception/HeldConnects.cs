using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>
/// The connects that wait for a backend to listen (dependency ordering): each is a trapped <c>connect</c> whose
/// application thread stays parked in the kernel, with ax's dup of the socket. The
/// <see cref="SyscallHandler"/> holds them here and settles them as the registry changes; <c>ax get refs</c>
/// reads how many each ref holds and for how long.
/// </summary>
/// <remarks>
/// A held call costs no thread: it is an entry in a list. The list is scanned when a routing snapshot is
/// published (a service listened or went away, a ref changed) and on a short tick, which catches threads that
/// died or were signalled (<c>SECCOMP_IOCTL_NOTIF_ID_VALID</c>) and waits that ran out.
/// </remarks>
public sealed class HeldConnects : IDisposable
{
    /// <summary>How often held calls are checked when nothing else wakes the scan.</summary>
    public static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);

    private readonly Lock _gate = new();
    private readonly List<HeldConnect> _held = [];

    // The connects a scan has taken out of _held and is settling outside the lock; a settled one's slot is set to
    // null. They still count as held (Count, ByRef) until settled: a scan of 10,000 held connects takes long enough on
    // a loaded machine that, without them, the metrics gauge and `ax get refs` read 0 most of the time.
    private HeldConnect?[] _scanning = [];
    private int _scanningLeft;
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly TimeProvider _time;

    // Calls interrupted by a signal come back as new notifications for the same socket (SA_RESTART, or the
    // application's own retry); their wait goes on from when it began, so signals cannot stretch it.
    private readonly Dictionary<(string AppId, ulong Inode), DateTimeOffset> _interrupted = [];

    /// <summary>Creates an empty room.</summary>
    public HeldConnects(TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
    }

    /// <summary>How many connects are held right now.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _held.Count + Volatile.Read(ref _scanningLeft);
            }
        }
    }

    /// <summary>The held connects per ref name: how many, and since when the oldest waits.</summary>
    public IReadOnlyDictionary<string, HeldStats> ByRef()
    {
        var result = new Dictionary<string, HeldStats>(StringComparer.Ordinal);
        lock (_gate)
        {
            foreach (var held in _held)
            {
                Tally(result, held);
            }
            for (var i = 0; i < _scanning.Length; i++)
            {
                if (Volatile.Read(ref _scanning[i]) is { } held)
                {
                    Tally(result, held);
                }
            }
        }
        return result;
    }

    private static void Tally(Dictionary<string, HeldStats> result, HeldConnect held) =>
        result[held.RefName] = result.TryGetValue(held.RefName, out var stats)
            ? new HeldStats(stats.Count + 1, held.Since < stats.OldestSince ? held.Since : stats.OldestSince)
            : new HeldStats(1, held.Since);

    /// <summary>Asks for a scan now: the routing changed, so some held connect may have a backend.</summary>
    public void Wake()
    {
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // A scan is already due; one is enough.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Disposes the held sockets. The calls themselves end with the listeners (the daemon is stopping).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var held in _held)
            {
                held.Socket.Dispose();
            }
            _held.Clear();
        }
        _wake.Dispose();
    }

    /// <summary>When a wait that starts now for this socket began: earlier if a signal interrupted it.</summary>
    internal DateTimeOffset StartOf(string appId, ulong inode)
    {
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            return inode != 0 && _interrupted.Remove((appId, inode), out var since) ? since : now;
        }
    }

    internal void Add(HeldConnect held)
    {
        lock (_gate)
        {
            _held.Add(held);
        }
        Wake();
    }

    /// <summary>
    /// Takes every held connect out of the room for a scan, which runs outside the lock (new holds go on arriving).
    /// The scan marks each one it settles with <see cref="Settled"/> and hands the array back with
    /// <see cref="PutBack"/>, which keeps those still waiting. Only one scan runs at a time.
    /// </summary>
    internal HeldConnect?[] TakeAll()
    {
        lock (_gate)
        {
            if (_held.Count == 0)
            {
                return [];
            }
            var all = _held.ToArray();
            _held.Clear();
            _scanning = all;
            Volatile.Write(ref _scanningLeft, all.Length);
            return all;
        }
    }

    /// <summary>The scan settled <paramref name="taken"/>[<paramref name="index"/>]: it is no longer held.</summary>
    internal void Settled(HeldConnect?[] taken, int index)
    {
        Volatile.Write(ref taken[index], null);
        Interlocked.Decrement(ref _scanningLeft);
    }

    /// <summary>Ends a scan: the connects it did not settle go back into the room.</summary>
    internal void PutBack(HeldConnect?[] taken)
    {
        if (taken.Length == 0)
        {
            return;
        }
        lock (_gate)
        {
            foreach (var held in taken)
            {
                if (held is not null)
                {
                    _held.Add(held);
                }
            }
            _scanning = [];
            Volatile.Write(ref _scanningLeft, 0);
        }
    }

    /// <summary>Remembers when an interrupted wait began, for the call's restart; forgotten after the longest wait.</summary>
    internal void RememberInterrupted(HeldConnect held)
    {
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            if (held.Inode != 0)
            {
                _interrupted[(held.App.Record.Id, held.Inode)] = held.Since;
            }
            if (_interrupted.Count > 1024)
            {
                foreach (var (key, since) in _interrupted.ToArray())
                {
                    if (now - since > RefStore.MaxWait)
                    {
                        _interrupted.Remove(key);
                    }
                }
            }
        }
    }

    internal DateTimeOffset Now => _time.GetUtcNow();

    /// <summary>Waits until <see cref="Wake"/> or, while calls are held, until the next tick.</summary>
    internal async Task WaitForWorkAsync(CancellationToken cancellationToken)
    {
        var timeout = Count > 0 ? Tick : Timeout.InfiniteTimeSpan;
        await _wake.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>How many connects one ref holds, and since when the oldest of them waits.</summary>
/// <param name="Count">The number of held connects.</param>
/// <param name="OldestSince">When the longest-waiting one began.</param>
public readonly record struct HeldStats(int Count, DateTimeOffset OldestSince);

/// <summary>One held connect: the parked call, ax's dup of its socket, and where the application meant to go.</summary>
internal sealed record HeldConnect(
    InterceptedApp App,
    ulong Id,
    SafeFd Socket,
    SyscallHandler.AppSocketInfo Info,
    InetEndpoint Destination,
    string RefName,
    ulong Inode,
    DateTimeOffset Since);
