using System.Collections.Concurrent;
using System.Diagnostics;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>
/// What the handler tells the keeper (docs/interception.md, "When the daemon restarts"): the calls it parks, so that
/// a successor daemon can take them up. Only parked calls: a call answered within its handling cannot outlive a
/// daemon that stops in order, since a stopping daemon lets its receivers finish what they took.
/// </summary>
internal sealed partial class SyscallHandler
{
    // The notification being handled on this thread, for a handler that parks it. Copied only while a keeper listens.
    [ThreadStatic]
    private static SeccompNotification _current;

    private readonly ConcurrentDictionary<HeldReceive, byte> _heldReceives = new();

    /// <summary>
    /// Set while a keeper listens: called when a connect is parked until a backend listens (a slow path: it waits on a
    /// dependency); and while set, held accepts and receives keep their notification for the keeper.
    /// </summary>
    internal Action<InterceptedApp, SeccompNotification>? CallParked { get; set; }

    /// <summary>
    /// A held accept or UDP receive that has waited this long is told to the keeper (<see cref="JournalLongHolds"/>):
    /// most are answered within a millisecond (a reply, the next connection), and telling the keeper of each would put
    /// a write on every request of a UDP client.
    /// </summary>
    internal static readonly TimeSpan JournalAfter = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Tells <paramref name="put"/> of each held accept and receive that has waited <see cref="JournalAfter"/> and was
    /// not told yet, so that a daemon that crashes leaves it to the next. A call held for less is lost in a crash: its
    /// thread waits until a signal restarts the call (docs/interception.md).
    /// </summary>
    internal void JournalLongHolds(Action<InterceptedApp, SeccompNotification> put)
    {
        var before = Stopwatch.GetTimestamp() - (long)(JournalAfter.TotalSeconds * Stopwatch.Frequency);
        foreach (var hold in _heldReceives.Keys)
        {
            if (!hold.Journaled && hold.Raw.Id != 0 && hold.Since < before && Volatile.Read(ref hold.Settled) == 0)
            {
                hold.Journaled = true;
                put(hold.App, hold.Raw);
            }
        }
        foreach (var hold in _heldAccepts.Keys)
        {
            if (!hold.Journaled && hold.Raw.Id != 0 && hold.Since < before && Volatile.Read(ref hold.Settled) == 0)
            {
                hold.Journaled = true;
                put(hold.Call.App, hold.Raw);
            }
        }
    }

    private void RememberCurrent(in SeccompNotification notification)
    {
        if (CallParked is not null)
        {
            _current = notification;
        }
    }

    private void OnParked(InterceptedApp app, ulong id)
    {
        if (CallParked is { } parked && _current.Id == id)
        {
            parked(app, _current);
        }
    }

    private readonly ConcurrentDictionary<HeldAccept, byte> _heldAccepts = new();

    // Connects a dead daemon may have made before it died, by (tid, fd): their restart finds the socket connected.
    private readonly ConcurrentDictionary<(int Tid, int Fd), long> _restartedConnects = new();
    private int _restartedCount;

    /// <summary>Notes a connect that <see cref="StalledCalls"/> restarts (before the process continues).</summary>
    internal void ExpectRestartedConnect(int tid, int fd)
    {
        if (_restartedConnects.TryAdd((tid, fd), Environment.TickCount64))
        {
            Interlocked.Increment(ref _restartedCount);
        }
    }

    /// <summary>
    /// A restarted connect on a socket that is connected already: the dead daemon made it (to where the policy sent
    /// it) and died before answering. The call succeeds, as it would have. Anything else goes the usual way; the note
    /// is dropped either way, and notes older than a minute with it.
    /// </summary>
    private bool TryCompleteRestartedConnect(InterceptedApp app, in SeccompNotification n, int fd, SafeFd appSocket)
    {
        if (Volatile.Read(ref _restartedCount) == 0)
        {
            return false;
        }
        foreach (var (key, since) in _restartedConnects)
        {
            if (Environment.TickCount64 - since > 60_000 && _restartedConnects.TryRemove(key, out _))
            {
                Interlocked.Decrement(ref _restartedCount);
            }
        }
        if (!_restartedConnects.TryRemove(((int)n.Pid, fd), out _))
        {
            return false;
        }
        Interlocked.Decrement(ref _restartedCount);
        Span<byte> peer = stackalloc byte[128];
        if (Sockets.GetPeerName(appSocket, peer, out _) != Errno.Success)
        {
            return false;
        }
        Seccomp.Respond(app.Listener, n.Id, 0, Errno.Success);
        return true;
    }

    /// <summary>The notification being handled on this thread if it is <paramref name="id"/>; default (Id 0) otherwise.</summary>
    private SeccompNotification CurrentFor(ulong id) =>
        CallParked is not null && _current.Id == id ? _current : default;

    /// <summary>
    /// A daemon that stops in order takes every accept and UDP receive it holds out of its own hands, unanswered, for
    /// the next daemon to take up (the keeper keeps them): the application sees nothing. A held call whose notification
    /// is not known (held again from another thread) is answered <c>EINTR</c> instead, which a blocking
    /// <c>accept</c> or <c>recv</c> returns as after a signal, and which libc users and Python (PEP 475) call again.
    /// Held connects are not here: the keeper has each since it was parked.
    /// </summary>
    internal List<(InterceptedApp App, SeccompNotification Call)> TakeParked(out int interrupted)
    {
        var parked = new List<(InterceptedApp, SeccompNotification)>();
        interrupted = 0;
        foreach (var hold in _heldReceives.Keys)
        {
            if (hold.TrySettle())
            {
                Park(hold.App, hold.Raw, hold.Call.Id, parked, ref interrupted);
            }
        }
        foreach (var hold in _heldAccepts.Keys)
        {
            if (TrySettle(hold))
            {
                Park(hold.Call.App, hold.Raw, hold.Call.Id, parked, ref interrupted);
            }
        }
        return parked;
    }

    private static void Park(InterceptedApp app, in SeccompNotification raw, ulong id, List<(InterceptedApp, SeccompNotification)> parked, ref int interrupted)
    {
        if (raw.Id == id && id != 0)
        {
            parked.Add((app, raw));
            return;
        }
        try
        {
            Seccomp.Respond(app.Listener, id, -1, Errno.EINTR);
            interrupted++;
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
