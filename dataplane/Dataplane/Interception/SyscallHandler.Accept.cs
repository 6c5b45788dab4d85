using System.Buffers.Binary;
using System.Diagnostics;
using Istio.AppSwitch.Dataplane.Mesh;
using Istio.AppSwitch.Interop;
using Istio.AppSwitch.ProxyProtocol;
using Istio.AppSwitch.Rbac;
using static Istio.AppSwitch.Interop.SocketConstants;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>
/// Inbound policy: <c>accept</c> and <c>accept4</c> performed by ax on the application's behalf, so that a connection
/// the port's RBAC denies is reset before the application ever sees it (docs/inbound-policy.md).
/// </summary>
/// <remarks>
/// <para>Every accept of every application is trapped, so the first test is the cheapest: an application that no
/// inbound policy selects gets CONTINUE at once (one volatile read and a label match, no syscall of ax's own).</para>
/// <para>ax accepts on its dup of the application's listener (the same open file description), always nonblocking, so
/// no daemon thread ever waits in accept(2). A blocking listener with nothing pending holds the call: the wait is an
/// epoll registration on the reactor, not a thread, and it rechecks the notification every
/// <see cref="AcceptHoldTick"/> so that a signal or the thread's death drops it.</para>
/// </remarks>
internal sealed partial class SyscallHandler
{
    /// <summary>How often a held accept checks that its call still exists (a signal, the thread's death).</summary>
    internal static readonly TimeSpan AcceptHoldTick = TimeSpan.FromMilliseconds(200);

    /// <summary>Denied connections reset in one go before the reactor thread moves on to other notifications.</summary>
    private const int MaxDeniedPerAttempt = 64;

    /// <summary>What the namespace and service account of an application under ax are read from (docs/inbound-policy.md).</summary>
    internal const string NamespaceLabel = "istio.io/namespace";

    /// <inheritdoc cref="NamespaceLabel"/>
    internal const string ServiceAccountLabel = "istio.io/serviceaccount";

    /// <summary>One trapped accept that ax performs: the call, ax's dup of the listener, and the port's policy.</summary>
    private readonly record struct AcceptCall(
        InterceptedApp App,
        ulong Id,
        int Tid,
        ulong Address,
        ulong AddressLength,
        int Flags,
        InboundPolicy? Policy,
        SafeFd Listener,
        AppSocketInfo Info,
        SwitchListener? Switch = null);

    private enum AcceptOutcome
    {
        /// <summary>The call has its answer (a connection, an error, or EAGAIN), or is gone.</summary>
        Answered,

        /// <summary>Nothing to accept yet and the listener is blocking: the call waits.</summary>
        Pending,

        /// <summary>A connection is being looked at (a PROXY header, a peek); the inspection answers the call.</summary>
        Inspecting,
    }

    // accept(fd, addr, addrlen*) / accept4(fd, addr, addrlen*, flags); accept is accept4 with flags 0.
    private void HandleAccept(InterceptedApp app, in SeccompNotification n, int flags)
    {
        if (!app.SwitchListeners.IsEmpty && TryAcceptSwitched(app, in n, flags))
        {
            return;
        }
        var mesh = _mesh;
        var hasPolicy = mesh is not null && mesh.HasInboundFor(app.Record);
        if ((!hasPolicy && !_chain.TrustsProxies) || (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) != 0)
        {
            // No policy for this app and no proxy to expect (the common case), or flags the kernel refuses with
            // EINVAL itself.
            Continue(app, n.Id);
            return;
        }
        if (!TryGetAppSocket(app, in n, (int)n.Arg0, knownDomain: 0, out var listener, out var info))
        {
            return;
        }
        var handedOff = false;
        try
        {
            InboundPolicy? policy = null;
            if (info.Type != SOCK_STREAM || info.Domain is not (AF_INET or AF_INET6)
                || Sockets.GetIntOption(listener, SOL_SOCKET, SO_ACCEPTCONN, out var listening) != Errno.Success || listening == 0
                || !TryLocalPort(listener, out var port)
                || ((policy = hasPolicy ? mesh!.FindInbound(app.Record, port) : null) is null or { AllowsAll: true } && !_chain.TrustsProxies))
            {
                // Not a listening TCP socket (the kernel answers EINVAL or EOPNOTSUPP), or a port with nothing to check.
                Continue(app, n.Id);
                return;
            }
            var call = new AcceptCall(app, n.Id, (int)n.Pid, n.Arg1, n.Arg2, flags, policy is { AllowsAll: true } ? null : policy, listener, info);
            if (!TryInstallStashed(in call) && TryAcceptOnce(in call) == AcceptOutcome.Pending)
            {
                Log.AcceptHeld(_logger, app.Record.Id, port);
                HoldAccept(in call);
                handedOff = true;
            }
        }
        finally
        {
            if (!handedOff)
            {
                listener.Dispose();
            }
        }
    }

    private static bool TryLocalPort(SafeFd socket, out ushort port)
    {
        port = 0;
        Span<byte> sockaddr = stackalloc byte[MaxSockaddr];
        if (Sockets.GetSockName(socket, sockaddr, out var length) != Errno.Success
            || !InetEndpoint.TryParse(sockaddr[..Math.Min(length, MaxSockaddr)], out var local, out _))
        {
            return false;
        }
        port = local.Port;
        return true;
    }

    /// <summary>
    /// Accepts what is pending: resets every connection the policy denies, installs the first it allows. A nonblocking
    /// listener with nothing (more) pending answers EAGAIN, as the kernel would; a blocking one is Pending.
    /// </summary>
    private AcceptOutcome TryAcceptOnce(in AcceptCall call)
    {
        var app = call.App;
        Span<byte> peer = stackalloc byte[MaxSockaddr];
        for (var attempt = 0; attempt < MaxDeniedPerAttempt; attempt++)
        {
            var error = AcceptNonBlocking(in call, peer, out var peerLength, out var accepted);
            if (call.Switch is { } switched)
            {
                if (TryAnswerSwitched(in call, switched, error, peer[..Math.Min(peerLength, MaxSockaddr)], ref accepted, out var acceptAgain))
                {
                    return AcceptOutcome.Answered;
                }
                if (acceptAgain)
                {
                    continue; // a doorbell whose end is gone (its client's app exited): look for a real connection
                }
            }
            if (error == Errno.EAGAIN)
            {
                if (!call.Info.NonBlocking)
                {
                    return AcceptOutcome.Pending;
                }
                Seccomp.Respond(app.Listener, call.Id, -1, Errno.EAGAIN);
                return AcceptOutcome.Answered;
            }
            if (error != Errno.Success)
            {
                // EINVAL (the listener was shut down), ECONNABORTED, ENOBUFS...: what the kernel told ax, it tells the app.
                Seccomp.Respond(app.Listener, call.Id, -1, error);
                return AcceptOutcome.Answered;
            }
            var kept = false;
            try
            {
                var peerAddress = peer[..Math.Min(peerLength, MaxSockaddr)];
                if (InetEndpoint.TryParse(peerAddress, out var peerEndpoint, out _) && NeedsOf(in call, in peerEndpoint) is { Any: true } needs)
                {
                    StartInspection(in call, accepted!, peerAddress, needs);
                    kept = true;
                    return AcceptOutcome.Inspecting;
                }
                if (!Allows(in call, accepted!, peerAddress, l7: null, peeked: default, viaTrustedProxy: false, out var delegated))
                {
                    Reset(accepted!);
                    continue; // the call goes on waiting for the next connection, as if this one never came
                }
                // A delegated connection is the sidecar's now; ax's copy of the TCP socket closes.
                kept = !delegated && Install(in call, accepted!, peerAddress);
                return AcceptOutcome.Answered;
            }
            finally
            {
                if (!kept)
                {
                    accepted!.Dispose();
                }
            }
        }
        // A burst of denied connections: give the reactor back. A nonblocking caller retries on readability; a
        // blocking one waits on the reactor, which reports the listener readable at once if more are queued.
        if (!call.Info.NonBlocking)
        {
            return AcceptOutcome.Pending;
        }
        Seccomp.Respond(app.Listener, call.Id, -1, Errno.EAGAIN);
        return AcceptOutcome.Answered;
    }

    /// <summary>accept4 on ax's dup, never blocking; the new socket's O_NONBLOCK is what the application asked for.</summary>
    private static Errno AcceptNonBlocking(in AcceptCall call, Span<byte> peer, out int peerLength, out SafeFd? accepted)
    {
        var nonBlocking = (call.Flags & SOCK_NONBLOCK) != 0;
        if (call.Info.NonBlocking)
        {
            return Sockets.Accept(call.Listener, peer, out peerLength, nonBlocking, closeOnExec: true, out accepted);
        }
        // The listener is blocking, and its file status flags are shared with the application (one open file
        // description): make it nonblocking for this one accept, then give it its mode back. The gate keeps two of
        // ax's accepts on the app's listeners (the reactor's and a held one's) from undoing each other's O_NONBLOCK;
        // it is held across three nonblocking syscalls, never across a wait.
        lock (call.App.AcceptGate)
        {
            // Read again: a held call may be old, and the application may have changed the listener's flags since.
            if (Sockets.GetStatusFlags(call.Listener, out var flags) != Errno.Success)
            {
                flags = call.Info.StatusFlags;
            }
            if ((flags & O_NONBLOCK) != 0)
            {
                return Sockets.Accept(call.Listener, peer, out peerLength, nonBlocking, closeOnExec: true, out accepted);
            }
            Sockets.SetStatusFlags(call.Listener, flags | O_NONBLOCK);
            try
            {
                return Sockets.Accept(call.Listener, peer, out peerLength, nonBlocking, closeOnExec: true, out accepted);
            }
            finally
            {
                Sockets.SetStatusFlags(call.Listener, flags);
            }
        }
    }

    /// <summary>
    /// Evaluates the port's policy for one accepted connection, with what a peek saw of its first request when the
    /// policy needed that, and counts and logs the outcome. A port without a policy (ax only took a trusted proxy's
    /// header off) allows.
    /// </summary>
    /// <returns>True when the connection may go on: <paramref name="delegated"/> says whether it went to the inbound
    /// sidecar already (the call has its answer), or is the caller's to install.</returns>
    /// <remarks>A connection that came through a trusted proxy (<paramref name="viaTrustedProxy"/>) has been through
    /// Envoy already: what only Envoy could decide, Envoy decided, so a chained port lets it in unless its RBAC denies
    /// the original client outright. Chaining it again would loop.</remarks>
    private bool Allows(in AcceptCall call, SafeFd accepted, ReadOnlySpan<byte> peerAddress, RbacL7? l7, ReadOnlySpan<ProxyTlv> peeked,
        bool viaTrustedProxy, out bool delegated)
    {
        delegated = false;
        var app = call.App;
        if (call.Policy is not { } policy)
        {
            return true;
        }
        Span<byte> sockaddr = stackalloc byte[MaxSockaddr];
        if (!InetEndpoint.TryParse(peerAddress, out var peer, out _)
            || Sockets.GetSockName(accepted, sockaddr, out var length) != Errno.Success
            || !InetEndpoint.TryParse(sockaddr[..Math.Min(length, MaxSockaddr)], out var local, out _))
        {
            Interlocked.Increment(ref app.Counters.AcceptDenied);
            _telemetry.Inbound(app.Record, policy.Key, allowed: false);
            Log.AcceptUndecidable(_logger, app.Record.Id, policy.Key);
            return false;
        }

        if (policy.Mode == MeshMode.Blackhole)
        {
            Interlocked.Increment(ref app.Counters.AcceptDenied);
            _telemetry.Inbound(app.Record, policy.Key, allowed: false);
            Log.AcceptDenied(_logger, app.Record.Id, peer, local.Port, "blackhole");
            return false;
        }

        var principal = policy.UsesPrincipal ? PeerIdentity.PrincipalOf(_registry, in peer, in local) : null;
        var result = RbacEvaluator.Evaluate(policy.Rbac, new RbacRequest(peer.Address, peer.Port, local.Address, local.Port, principal, l7));
        var decision = result.Decision;
        if (viaTrustedProxy && decision == RbacDecision.Chain)
        {
            decision = RbacDecision.Allow;
        }
        else if (decision == RbacDecision.Allow && policy.Mode == MeshMode.Chain && !viaTrustedProxy && !OnlyIdentityWasMissing(policy, principal))
        {
            // The port needs Envoy for something other than RBAC (an L7 policy, ext_authz, a Lua filter...): its RBAC
            // passing is not enough, and the connection goes to a proxy (or is closed).
            decision = RbacDecision.Chain;
        }
        switch (decision)
        {
            case RbacDecision.Allow:
                Interlocked.Increment(ref app.Counters.AcceptAllowed);
                _telemetry.Inbound(app.Record, policy.Key, allowed: true);
                Log.AcceptAllowed(_logger, app.Record.Id, peer, local.Port, result.Policy);
                return true;
            case RbacDecision.Deny:
                Interlocked.Increment(ref app.Counters.AcceptDenied);
                _telemetry.Inbound(app.Record, policy.Key, allowed: false);
                Log.AcceptDenied(_logger, app.Record.Id, peer, local.Port, result.Policy ?? "no ALLOW policy matched");
                return false;
            default:
                // What only a proxy can decide goes to the inbound delegation sidecar when there is one; otherwise it
                // is denied, never allowed silently.
                if (TryDelegateInbound(in call, accepted, peerAddress, peeked, out _))
                {
                    delegated = true;
                    _telemetry.Inbound(app.Record, policy.Key, allowed: true);
                    return true;
                }
                Interlocked.Increment(ref app.Counters.AcceptDenied);
                _telemetry.Inbound(app.Record, policy.Key, allowed: false);
                Log.AcceptChainDenied(_logger, app.Record.Id, peer, local.Port, policy.Key,
                    principal is null && policy.UsesPrincipal ? "a rule needs the peer's identity, which ax does not know"
                    : policy.Mode == MeshMode.Chain ? $"the port needs Envoy ({string.Join(',', policy.Reasons)}) and no delegation sidecar took it"
                    : "a rule depends on what ax could not read at accept (a header past the first request, metadata)");
                return false;
        }
    }

    /// <summary>True when a chained port was chained only because the peer's identity was unknown, and ax knows it.</summary>
    private static bool OnlyIdentityWasMissing(InboundPolicy policy, string? principal) =>
        principal is not null && !policy.Reasons.IsEmpty && policy.Reasons.All(r => r == "principal_requires_identity");

    /// <summary>Closes a denied connection with RST (SO_LINGER 0): the client sees a reset, not an orderly close.</summary>
    private static void Reset(SafeFd accepted)
    {
        Span<byte> linger = stackalloc byte[8]; // struct linger { int l_onoff = 1; int l_linger = 0; }
        linger.Clear();
        BinaryPrimitives.WriteInt32LittleEndian(linger, 1);
        Sockets.SetSockOpt(accepted, SOL_SOCKET, SO_LINGER, linger);
    }

    /// <summary>
    /// Gives an allowed connection to the application: the peer's sockaddr into <c>addr</c>/<c>addrlen</c> as the
    /// kernel writes them, then ADDFD with SEND, so the new fd number is the syscall's result in one step.
    /// </summary>
    /// <returns>
    /// True when ax keeps <paramref name="accepted"/>: the call went away (a signal, the thread's exit) before the
    /// connection reached it, and the connection waits in the app's stash for the listener's next accept, as it would
    /// have waited in the kernel's backlog. Otherwise the caller closes ax's copy: on success the application holds its
    /// own; on failure the connection is closed, as the kernel drops a connection it accepted for a call that then
    /// failed with EFAULT.
    /// </returns>
    private bool Install(in AcceptCall call, SafeFd accepted, ReadOnlySpan<byte> peerAddress)
    {
        var app = call.App;
        // The tid is trusted to name the notifying thread only while the notification lives: check before writing
        // into its memory.
        if (!Seccomp.IsIdValid(app.Listener, call.Id))
        {
            return Stash(in call, accepted, peerAddress);
        }
        var error = WriteAcceptAddress(in call, peerAddress);
        if (error != Errno.Success)
        {
            Seccomp.Respond(app.Listener, call.Id, -1, error);
            return false;
        }
        error = Seccomp.AddFd(app.Listener, call.Id, accepted, 0, setFd: false, send: true,
            closeOnExec: (call.Flags & SOCK_CLOEXEC) != 0, out _);
        // ENOENT: a signal interrupted the call between the check and the install.
        return error != Errno.Success && Stash(in call, accepted, peerAddress);
    }

    /// <summary>Keeps an allowed connection whose call went away for the next accept on the same listener.</summary>
    private bool Stash(in AcceptCall call, SafeFd accepted, ReadOnlySpan<byte> peerAddress)
    {
        var app = call.App;
        if (app.IsDisposed || ProcFs.GetInode(call.Listener, out var inode) != Errno.Success)
        {
            Log.AcceptCallGone(_logger, app.Record.Id);
            return false;
        }
        app.AcceptStash.GetOrAdd(inode, static _ => new()).Enqueue(new StashedAccept(accepted, peerAddress.ToArray()));
        Interlocked.Increment(ref app.StashedAccepts);
        Log.AcceptStashed(_logger, app.Record.Id);
        return true;
    }

    /// <summary>
    /// Gives the call a connection stashed for its listener, if there is one; true when the call is answered. Costs one
    /// volatile read when the stash is empty, which is always but after a signal raced an install.
    /// </summary>
    private bool TryInstallStashed(in AcceptCall call)
    {
        var app = call.App;
        if (Volatile.Read(ref app.StashedAccepts) == 0
            || ProcFs.GetInode(call.Listener, out var inode) != Errno.Success
            || !app.AcceptStash.TryGetValue(inode, out var queue)
            || !queue.TryDequeue(out var stashed))
        {
            return false;
        }
        Interlocked.Decrement(ref app.StashedAccepts);
        var kept = false;
        try
        {
            // O_NONBLOCK is the new socket's own file status flag: this call's accept4 flags decide it.
            Sockets.GetStatusFlags(stashed.Socket, out var status);
            Sockets.SetStatusFlags(stashed.Socket, (call.Flags & SOCK_NONBLOCK) != 0 ? status | O_NONBLOCK : status & ~O_NONBLOCK);
            kept = Install(in call, stashed.Socket, stashed.Peer);
            return true;
        }
        finally
        {
            if (!kept)
            {
                stashed.Socket.Dispose();
            }
        }
    }

    /// <summary>The kernel's contract for accept's address: copy at most <c>*addrlen</c> bytes, store the full length.</summary>
    private static Errno WriteAcceptAddress(in AcceptCall call, ReadOnlySpan<byte> sockaddr)
    {
        if (call.Address == 0)
        {
            return Errno.Success; // NULL addr: addrlen is not looked at
        }
        Span<byte> lengthBytes = stackalloc byte[4];
        if (ProcessMemory.Read(call.Tid, call.AddressLength, lengthBytes, out var read) != Errno.Success || read != 4)
        {
            return Errno.EFAULT;
        }
        var capacity = BinaryPrimitives.ReadInt32LittleEndian(lengthBytes);
        if (capacity < 0)
        {
            return Errno.EINVAL;
        }
        var copy = Math.Min(capacity, sockaddr.Length);
        BinaryPrimitives.WriteInt32LittleEndian(lengthBytes, sockaddr.Length);
        if ((copy > 0 && (ProcessMemory.Write(call.Tid, call.Address, sockaddr[..copy], out var written) != Errno.Success || written != copy))
            || ProcessMemory.Write(call.Tid, call.AddressLength, lengthBytes, out _) != Errno.Success)
        {
            return Errno.EFAULT;
        }
        return Errno.Success;
    }

    /// <summary>A held accept: the call, and whether it is settled (answered, or dropped) yet.</summary>
    private sealed class HeldAccept(AcceptCall call)
    {
        public readonly AcceptCall Call = call;

        /// <summary>The notification as it came, for a successor daemon (<see cref="TakeParked"/>); Id 0 when unknown.</summary>
        public SeccompNotification Raw;

        /// <summary>When the hold began (<see cref="System.Diagnostics.Stopwatch"/> ticks).</summary>
        public readonly long Since = System.Diagnostics.Stopwatch.GetTimestamp();

        /// <summary>Whether the keeper was told of it (<see cref="JournalLongHolds"/>).</summary>
        public bool Journaled;

        public IDisposable? Registration { get; set; }

        /// <summary>0 while held; 1 once settled. Whoever sets it releases the registration and the listener.</summary>
        public int Settled;
    }

    /// <summary>
    /// A blocking accept with nothing pending: a level-triggered registration of ax's dup of the listener on the
    /// reactor, whose callback accepts on the reactor thread itself when a connection comes (nonblocking: it never
    /// waits), so the wake-up needs no pool thread. A watcher rechecks every <see cref="AcceptHoldTick"/> that the call
    /// still exists and answers EAGAIN once the listener's <c>SO_RCVTIMEO</c> has passed, as the kernel does.
    /// Owns <see cref="AcceptCall.Listener"/>.
    /// </summary>
    private void HoldAccept(in AcceptCall call)
    {
        var hold = new HeldAccept(call) { Raw = CurrentFor(call.Id) };
        _heldAccepts.TryAdd(hold, 0);
        call.Switch?.HeldTids.TryAdd(call.Tid, 0);
        hold.Registration = _reactor.Register(call.Listener, EpollEvents.In, OnHeldAcceptReady, hold);
        if (Volatile.Read(ref hold.Settled) != 0)
        {
            // Off the reactor thread (an application's receiver thread, or after an inspection denied a connection), the
            // callback may have settled the hold before the registration was recorded, and could not release it.
            hold.Registration.Dispose();
            return;
        }
        _ = WatchHeldAcceptAsync(hold);
    }

    // Reactor thread: the held listener is readable (or in error). Level-triggered: called again while it stays so.
    private void OnHeldAcceptReady(EpollEvents events, object? state)
    {
        var hold = (HeldAccept)state!;
        if (Volatile.Read(ref hold.Settled) != 0)
        {
            return;
        }
        var app = hold.Call.App;
        try
        {
            if (app.IsDisposed || !Seccomp.IsIdValid(app.Listener, hold.Call.Id))
            {
                if (TrySettle(hold))
                {
                    Log.HeldAcceptGone(_logger, app.Record.Id);
                }
                return;
            }
            if (TryInstallStashed(in hold.Call) || TryAcceptOnce(in hold.Call) != AcceptOutcome.Pending)
            {
                TrySettle(hold);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            FailHeld(hold, ex);
        }
    }

    /// <summary>Checks the held call every tick: gone (a signal, the thread's death), or past its SO_RCVTIMEO.</summary>
    private async Task WatchHeldAcceptAsync(HeldAccept hold)
    {
        var call = hold.Call;
        var app = call.App;
        try
        {
            var timeout = ReadReceiveTimeout(call.Listener);
            var deadline = timeout > TimeSpan.Zero ? Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency) : long.MaxValue;
            while (Volatile.Read(ref hold.Settled) == 0)
            {
                var left = deadline == long.MaxValue ? AcceptHoldTick : Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
                await Task.Delay(left < AcceptHoldTick ? (left > TimeSpan.Zero ? left : TimeSpan.Zero) : AcceptHoldTick).ConfigureAwait(false);
                if (Volatile.Read(ref hold.Settled) != 0)
                {
                    return;
                }
                if (app.IsDisposed || !Seccomp.IsIdValid(app.Listener, call.Id))
                {
                    // A signal interrupted the call (a restarted accept comes back as a new notification) or the
                    // thread died: nothing to answer.
                    if (TrySettle(hold))
                    {
                        Log.HeldAcceptGone(_logger, app.Record.Id);
                    }
                    return;
                }
                if (Stopwatch.GetTimestamp() >= deadline && TrySettle(hold))
                {
                    // The callback may have answered just before: then this answer fails with ENOENT, harmlessly.
                    Seccomp.Respond(app.Listener, call.Id, -1, Errno.EAGAIN);
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            FailHeld(hold, ex);
        }
    }

    /// <summary>
    /// Marks the hold settled and releases its registration (waiting for a callback still running, unless called from
    /// it) and ax's dup of the listener. False when it was settled already.
    /// </summary>
    private bool TrySettle(HeldAccept hold)
    {
        if (Interlocked.Exchange(ref hold.Settled, 1) != 0)
        {
            return false;
        }
        _heldAccepts.TryRemove(hold, out _);
        hold.Registration?.Dispose();
        hold.Call.Listener.Dispose();
        hold.Call.Switch?.HeldTids.TryRemove(hold.Call.Tid, out _);
        return true;
    }

    private void FailHeld(HeldAccept hold, Exception ex)
    {
        var app = hold.Call.App;
        if (!TrySettle(hold))
        {
            return;
        }
        if (ex is not ObjectDisposedException)
        {
            Interlocked.Increment(ref app.Counters.Failed);
            Log.HandlerFailed(_logger, ex, app.Record.Id, "held accept");
        }
        try
        {
            Seccomp.Respond(app.Listener, hold.Call.Id, -1, Errno.ENOSYS);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>The listener's <c>SO_RCVTIMEO</c>, which bounds a blocking accept; zero when unset.</summary>
    private static TimeSpan ReadReceiveTimeout(SafeFd socket)
    {
        Span<byte> timeval = stackalloc byte[16];
        if (Sockets.GetSockOpt(socket, SOL_SOCKET, SO_RCVTIMEO, timeval, out var length) != Errno.Success || length != 16)
        {
            return TimeSpan.Zero;
        }
        return TimeSpan.FromSeconds(BinaryPrimitives.ReadInt64LittleEndian(timeval))
            + TimeSpan.FromMicroseconds(BinaryPrimitives.ReadInt64LittleEndian(timeval[8..]));
    }
}
