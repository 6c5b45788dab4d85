using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Dataplane.Registry;
using Istio.AppSwitch.Interop;
using Microsoft.Extensions.Logging;
using static Istio.AppSwitch.Interop.SocketConstants;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>
/// UDP (docs/udp.md): a bound UDP socket is a service, a connect or a <c>sendto</c> to a ref's VIP goes to a UDP
/// service the ref selects, and a <c>recvfrom</c> on a socket ax redirected reports the VIP as the reply's source.
/// </summary>
/// <remarks>
/// <para>A connect is redirected as for TCP: ax connects the application's own socket, once, and its sends and
/// receives then run in the kernel untouched. An unconnected socket names its destination in every datagram, so
/// every <c>sendto</c> with an address is trapped (the filter skips those with a NULL address in the kernel), and ax
/// sends the datagram itself on its dup of the socket: it never lets the kernel re-read an address it decided on.</para>
/// <para>Per socket, ax keeps which backend stands for which VIP (<see cref="DatagramPeers"/>), so that a reply read
/// with <c>recvfrom</c> is reported from the VIP the application sent to: the reverse NAT of Cilium's socket LB.</para>
/// </remarks>
internal sealed partial class SyscallHandler
{
    /// <summary>The largest datagram ax carries: a UDP length field's maximum. A longer send gets EMSGSIZE, as from the kernel.</summary>
    internal const int MaxDatagram = 65_535;

    private static int? _unprivilegedPortStart;

    /// <summary>A UDP connect to a ref's VIP: connects the application's socket to a UDP backend, and remembers the VIP.</summary>
    /// <remarks>Caller: <see cref="HandleConnect"/>, with a dup of a UDP socket, after a TCP resolution matched a ref.</remarks>
    private void ConnectDatagram(InterceptedApp app, ulong id, SafeFd appSocket, in AppSocketInfo info, in Interop.InetEndpoint destination)
    {
        var decision = _routing.Current.Resolve(app.Record, in destination, protocol: TransportProtocol.Udp);
        if (decision.Kind == ConnectDecisionKind.NoMatch)
        {
            ForgetDatagramPeer(app, appSocket);
            Continue(app, id);
            return;
        }
        if (decision.Kind != ConnectDecisionKind.Redirect
            || !TryBackendFor(info.Domain, decision.Backend, decision.Service, out var backend))
        {
            Refuse(app, id, in destination, decision.Ref?.Name ?? "");
            return;
        }
        Span<byte> sockaddr = stackalloc byte[MaxSockaddr];
        var error = Sockets.Connect(appSocket, sockaddr[..backend.Write(sockaddr)]);
        ulong inode = 0;
        var connected = error == Errno.Success && ProcFs.GetInode(appSocket, out inode) == Errno.Success;
        if (connected)
        {
            // Before the answer: the application's next call may be a recvfrom on another thread.
            RecordPeer(app, inode, in destination, default);
            PeersOf(app, inode, info.Domain).Remember(in backend, destination);
            Interlocked.Increment(ref app.Counters.Redirected);
            Log.Redirected(_logger, app.Record.Id, destination, decision.Ref?.Name);
        }
        Seccomp.Respond(app.Listener, id, error == Errno.Success ? 0 : -1, error);
    }

    /// <summary>A UDP socket connected elsewhere than a VIP (UDP sockets may connect again): its VIP answers no longer apply.</summary>
    private static void ForgetDatagramPeer(InterceptedApp app, SafeFd appSocket)
    {
        if (!app.DatagramPeers.IsEmpty && ProcFs.GetInode(appSocket, out var inode) == Errno.Success)
        {
            app.Sockets.TryRemove(inode, out _);
        }
    }

    // sendto(fd, buf, len, flags, dest_addr, addrlen), trapped only with dest_addr != NULL.
    private void HandleSendTo(InterceptedApp app, in SeccompNotification n)
    {
        if (!TryReadSockaddr(app, in n, n.Arg4, n.Arg5, checkId: false, out var destination))
        {
            return;
        }
        var decision = _routing.Current.Resolve(app.Record, in destination, protocol: TransportProtocol.Udp);
        if (decision.Kind == ConnectDecisionKind.NoMatch)
        {
            Continue(app, n.Id);
            return;
        }

        var length = n.Arg2;
        var payloadLength = (int)Math.Min(length, MaxDatagram);
        var buffer = ArrayPool<byte>.Shared.Rent(payloadLength);
        // Read before the thread is proven (in SendDatagramTo): what was read is used only after that proof.
        var readError = ProcessMemory.Read((int)n.Pid, n.Arg1, buffer.AsSpan(0, payloadLength), out var read);
        var outcome = length == 0 ? Errno.Success
            : readError != Errno.Success || read != payloadLength ? Errno.EFAULT
            : length > MaxDatagram ? Errno.EMSGSIZE
            : Errno.Success;
        SendDatagramTo(app, in n, in decision, destination, buffer, new OutgoingDatagram(payloadLength, 0, (int)n.Arg3, outcome));
    }

    /// <summary>
    /// A datagram read from the application into a pooled buffer: the payload, then its control messages.
    /// <paramref name="ReadError"/> is what the call must fail with once the socket is known to be UDP (EFAULT for a
    /// buffer that could not be read, EMSGSIZE, EINVAL or EPERM for its control data), or Success.
    /// </summary>
    private readonly record struct OutgoingDatagram(int PayloadLength, int ControlLength, int Flags, Errno ReadError);

    /// <summary>
    /// Sends a datagram that an application addressed to a VIP (<c>sendto</c> or <c>sendmsg</c>) to the backend its ref
    /// picked, on ax's dup of the socket, and answers the call. Owns <paramref name="buffer"/> (returned to the pool).
    /// </summary>
    private void SendDatagramTo(InterceptedApp app, in SeccompNotification n, in ConnectDecision decision, Interop.InetEndpoint destination,
        byte[] buffer, OutgoingDatagram datagram)
    {
        var ownsBuffer = true;
        try
        {
            if (!TryGetDatagramSocket(app, in n, out var appSocket, out var peers))
            {
                return;
            }
            var handedOff = false;
            try
            {
                if (peers is null)
                {
                    // Not a UDP socket (a TCP socket ignores the address; an ICMP socket is not ax's business).
                    Continue(app, n.Id);
                    return;
                }
                if (datagram.ReadError != Errno.Success)
                {
                    Seccomp.Respond(app.Listener, n.Id, -1, datagram.ReadError);
                    return;
                }
                if (decision.Kind != ConnectDecisionKind.Redirect
                    || !TryBackendFor(peers.Domain, decision.Backend, decision.Service, out var backend))
                {
                    // What a connected socket hears from the ICMP port-unreachable of a datagram nobody takes.
                    Interlocked.Increment(ref app.Counters.Refused);
                    Seccomp.Respond(app.Listener, n.Id, -1, Errno.ECONNREFUSED);
                    return;
                }

                peers.Remember(in backend, destination);
                var error = SendDatagram(appSocket, buffer, in datagram, in backend, out var sent);
                if (error == Errno.EAGAIN && (datagram.Flags & MSG_DONTWAIT) == 0 && IsBlocking(appSocket))
                {
                    // A blocking socket whose send buffer is full: the thread stays parked until it drains, as in
                    // the kernel; the wait is on the reactor and the datagram goes along in its pooled buffer.
                    _ = SendWhenWritableAsync(app, n.Id, appSocket, buffer, datagram, backend);
                    ownsBuffer = false;
                    handedOff = true;
                    return;
                }
                Seccomp.Respond(app.Listener, n.Id, error == Errno.Success ? sent : -1, error);
            }
            finally
            {
                if (!handedOff)
                {
                    appSocket.Dispose();
                }
            }
        }
        finally
        {
            if (ownsBuffer)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    private static Errno SendDatagram(SafeFd socket, byte[] buffer, in OutgoingDatagram datagram, in Interop.InetEndpoint backend, out int sent)
    {
        Span<byte> sockaddr = stackalloc byte[MaxSockaddr];
        var length = backend.Write(sockaddr);
        var payload = buffer.AsSpan(0, datagram.PayloadLength);
        var flags = datagram.Flags | MSG_DONTWAIT;
        return datagram.ControlLength == 0
            ? Sockets.SendTo(socket, payload, flags, sockaddr[..length], out sent)
            : Sockets.SendMessageTo(socket, payload, buffer.AsSpan(datagram.PayloadLength, datagram.ControlLength), flags, sockaddr[..length], out sent);
    }

    private async Task SendWhenWritableAsync(InterceptedApp app, ulong id, SafeFd socket, byte[] buffer, OutgoingDatagram datagram,
        Interop.InetEndpoint backend)
    {
        try
        {
            var deadline = DeadlineOf(ReadSendTimeout(socket));
            while (true)
            {
                if (!await WaitReadyAsync(app, id, socket, EpollEvents.Out).ConfigureAwait(false))
                {
                    return;
                }
                var error = SendDatagram(socket, buffer, in datagram, in backend, out var sent);
                if (error != Errno.EAGAIN || PastDeadline(deadline))
                {
                    Seccomp.Respond(app.Listener, id, error == Errno.Success ? sent : -1, error);
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Interlocked.Increment(ref app.Counters.Failed);
            Log.HandlerFailed(_logger, ex, app.Record.Id, "sendto");
            Seccomp.Respond(app.Listener, id, -1, Errno.ENOSYS);
        }
        finally
        {
            socket.Dispose();
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    // recvfrom(fd, buf, len, flags, src_addr, addrlen*), trapped only with src_addr != NULL.
    private void HandleRecvFrom(InterceptedApp app, in SeccompNotification n)
    {
        // Most sockets were never redirected: their calls cost one dictionary probe and go back to the kernel.
        if (app.DatagramPeers.IsEmpty
            || ProcFs.GetSocketInode((int)n.Pid, (int)n.Arg0, out var inode) != Errno.Success
            || !app.DatagramPeers.TryGetValue(inode, out var peers))
        {
            Continue(app, n.Id);
            return;
        }
        if (!TryGetAppSocket(app, in n, (int)n.Arg0, peers.Domain, out var appSocket, out _))
        {
            return;
        }
        var call = new DatagramReceive(n.Id, (int)n.Pid, n.Arg1, (int)Math.Min(n.Arg2, MaxDatagram), (int)n.Arg3, n.Arg4, n.Arg5);
        ReceiveOrHold(app, appSocket, peers, in call);
    }

    /// <summary>Answers a receive at once when a datagram is queued (or the socket would not block), else holds it. Owns <paramref name="appSocket"/>.</summary>
    private void ReceiveOrHold(InterceptedApp app, SafeFd appSocket, DatagramPeers peers, in DatagramReceive call)
    {
        var handedOff = false;
        try
        {
            if (!ReceiveDatagram(app, appSocket, peers, in call))
            {
                HoldReceive(app, appSocket, peers, in call);
                handedOff = true;
            }
        }
        finally
        {
            if (!handedOff)
            {
                appSocket.Dispose();
            }
        }
    }

    /// <summary>
    /// One nonblocking receive on ax's dup for the application (its <c>recvfrom</c> or <c>recvmsg</c>), with the source
    /// reported as the VIP it stands for. Answers the call and returns true, except when nothing is queued on a socket
    /// that would block: then false, and the caller waits.
    /// </summary>
    private static bool ReceiveDatagram(InterceptedApp app, SafeFd socket, DatagramPeers peers, in DatagramReceive call)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(call.Length + call.ControlCapacity, 1));
        try
        {
            Span<byte> source = stackalloc byte[MaxSockaddr];
            var error = Sockets.ReceiveMessageFrom(socket, buffer.AsSpan(0, call.Length), buffer.AsSpan(call.Length, call.ControlCapacity),
                call.Flags | MSG_DONTWAIT, source, out var received, out var sourceLength, out var controlLength, out var messageFlags);
            if (error == Errno.EAGAIN && (call.Flags & MSG_DONTWAIT) == 0 && IsBlocking(socket))
            {
                return false;
            }
            if (error != Errno.Success)
            {
                Seccomp.Respond(app.Listener, call.Id, -1, error);
                return true;
            }

            if (Interop.InetEndpoint.TryParse(source[..Math.Min(sourceLength, MaxSockaddr)], out var from, out _)
                && peers.TryGetVip(in from, out var vip))
            {
                sourceLength = vip.Write(source);
            }
            // MSG_TRUNC makes the result the datagram's real length, which may exceed what was copied.
            var copied = Math.Min(received, call.Length);
            var sourceBytes = source[..Math.Min(sourceLength, MaxSockaddr)];
            var delivered = call.Message == 0
                ? ProcessMemory.Write(call.Pid, call.Buffer, buffer.AsSpan(0, copied), out var written) == Errno.Success && written == copied
                    && WriteSockaddr(call.Pid, call.Address, call.AddressLength, sourceBytes, sourceLength)
                : DeliverMessage(in call, buffer.AsSpan(0, copied), sourceBytes, sourceLength,
                    buffer.AsSpan(call.Length, Math.Min(controlLength, call.ControlCapacity)), messageFlags);
            if (!delivered)
            {
                // The datagram is gone, as when the kernel fails to copy it out.
                Seccomp.Respond(app.Listener, call.Id, -1, Errno.EFAULT);
                return true;
            }
            Seccomp.Respond(app.Listener, call.Id, received, Errno.Success);
            return true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// A blocking recvfrom with nothing queued: a level-triggered registration of ax's dup on the reactor, whose callback
    /// receives on the reactor thread itself when a datagram comes (nonblocking), so the wake-up needs no pool thread. A
    /// watcher rechecks every <see cref="AcceptHoldTick"/> that the call still exists, and answers EAGAIN once the
    /// socket's <c>SO_RCVTIMEO</c> has passed. Owns <paramref name="socket"/>.
    /// </summary>
    private void HoldReceive(InterceptedApp app, SafeFd socket, DatagramPeers peers, in DatagramReceive call)
    {
        var hold = new HeldReceive(app, socket, peers, call, _heldReceives) { Raw = CurrentFor(call.Id) };
        _heldReceives.TryAdd(hold, 0);
        hold.Registration = _reactor.Register(socket, EpollEvents.In, OnHeldReceiveReady, hold);
        if (Volatile.Read(ref hold.Settled) != 0)
        {
            // On an application's receiver thread, the reactor's callback may have settled the hold before the
            // registration was recorded, and could not release it.
            hold.Registration.Dispose();
            return;
        }
        _ = WatchHeldReceiveAsync(hold);
    }

    // Reactor thread: the held socket is readable. Level-triggered: called again while it stays so.
    private void OnHeldReceiveReady(EpollEvents events, object? state)
    {
        var hold = (HeldReceive)state!;
        if (Volatile.Read(ref hold.Settled) != 0)
        {
            return;
        }
        try
        {
            // Checked before the receive: a datagram taken for a call that is gone would be lost.
            if (hold.App.IsDisposed || !Seccomp.IsIdValid(hold.App.Listener, hold.Call.Id))
            {
                hold.TrySettle();
                return;
            }
            // False: another thread of the application took the datagram first; wait for the next.
            if (ReceiveDatagram(hold.App, hold.Socket, hold.Peers, in hold.Call))
            {
                hold.TrySettle();
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            if (hold.TrySettle())
            {
                Interlocked.Increment(ref hold.App.Counters.Failed);
                Log.HandlerFailed(_logger, ex, hold.App.Record.Id, "recvfrom");
                Seccomp.Respond(hold.App.Listener, hold.Call.Id, -1, Errno.ENOSYS);
            }
        }
    }

    /// <summary>Checks the held call every tick: gone (a signal, the thread's death), or past its SO_RCVTIMEO.</summary>
    private async Task WatchHeldReceiveAsync(HeldReceive hold)
    {
        var app = hold.App;
        try
        {
            var deadline = DeadlineOf(ReadReceiveTimeout(hold.Socket));
            while (Volatile.Read(ref hold.Settled) == 0)
            {
                var left = deadline == long.MaxValue ? AcceptHoldTick : TimeSpan.FromMilliseconds(Math.Max(0, deadline - Environment.TickCount64));
                await Task.Delay(left < AcceptHoldTick ? left : AcceptHoldTick).ConfigureAwait(false);
                if (Volatile.Read(ref hold.Settled) != 0)
                {
                    return;
                }
                if (app.IsDisposed || !Seccomp.IsIdValid(app.Listener, hold.Call.Id))
                {
                    hold.TrySettle();
                    return;
                }
                if (PastDeadline(deadline) && hold.TrySettle())
                {
                    Seccomp.Respond(app.Listener, hold.Call.Id, -1, Errno.EAGAIN);
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            if (hold.TrySettle())
            {
                Interlocked.Increment(ref app.Counters.Failed);
                Log.HandlerFailed(_logger, ex, app.Record.Id, "recvfrom");
                Seccomp.Respond(app.Listener, hold.Call.Id, -1, Errno.ENOSYS);
            }
        }
    }

    /// <summary>A held recvfrom, and whether it is settled (answered, or dropped) yet.</summary>
    private sealed class HeldReceive(InterceptedApp app, SafeFd socket, DatagramPeers peers, DatagramReceive call,
        ConcurrentDictionary<HeldReceive, byte> all)
    {
        public readonly InterceptedApp App = app;
        public readonly SafeFd Socket = socket;
        public readonly DatagramPeers Peers = peers;
        public readonly DatagramReceive Call = call;

        public IDisposable? Registration { get; set; }

        /// <summary>The notification as it came, for a successor daemon (<see cref="TakeParked"/>); Id 0 when unknown.</summary>
        public SeccompNotification Raw;

        /// <summary>When the hold began (<see cref="System.Diagnostics.Stopwatch"/> ticks).</summary>
        public readonly long Since = System.Diagnostics.Stopwatch.GetTimestamp();

        /// <summary>Whether the keeper was told of it (<see cref="JournalLongHolds"/>).</summary>
        public bool Journaled;

        /// <summary>0 while held; 1 once settled. Whoever sets it releases the registration and the socket.</summary>
        public int Settled;

        public bool TrySettle()
        {
            if (Interlocked.Exchange(ref Settled, 1) != 0)
            {
                return false;
            }
            Registration?.Dispose();
            Socket.Dispose();
            all.TryRemove(this, out _);
            return true;
        }
    }

    /// <summary>
    /// Waits on the reactor until <paramref name="socket"/> is ready for <paramref name="events"/>, rechecking every
    /// tick that the parked call still exists (a signal or the thread's death drops it). False when it is gone.
    /// </summary>
    private async Task<bool> WaitReadyAsync(InterceptedApp app, ulong id, SafeFd socket, EpollEvents events)
    {
        while (true)
        {
            using var tick = new CancellationTokenSource(AcceptHoldTick);
            try
            {
                await _reactor.WaitAsync(socket, events, tick.Token).ConfigureAwait(false);
                return !app.IsDisposed && Seccomp.IsIdValid(app.Listener, id);
            }
            catch (OperationCanceledException) when (tick.IsCancellationRequested)
            {
                if (app.IsDisposed || !Seccomp.IsIdValid(app.Listener, id))
                {
                    return false;
                }
            }
        }
    }

    /// <summary>When a wait bounded by the socket's SO_RCVTIMEO or SO_SNDTIMEO ends, in <see cref="Environment.TickCount64"/>.</summary>
    private static long DeadlineOf(TimeSpan timeout) =>
        timeout <= TimeSpan.Zero ? long.MaxValue : Environment.TickCount64 + (long)Math.Ceiling(timeout.TotalMilliseconds);

    private static bool PastDeadline(long deadline) => deadline != long.MaxValue && Environment.TickCount64 >= deadline;

    private static bool IsBlocking(SafeFd socket) =>
        Sockets.GetStatusFlags(socket, out var flags) == Errno.Success && (flags & O_NONBLOCK) == 0;

    /// <summary>
    /// Writes a sockaddr to the application with the kernel's contract: at most <c>*addrlen</c> bytes, then the full
    /// length in <c>*addrlen</c>. A NULL <c>addrlen</c> with an address buffer is EFAULT in the kernel too.
    /// </summary>
    private static bool WriteSockaddr(int pid, ulong address, ulong lengthAddress, ReadOnlySpan<byte> sockaddr, int fullLength)
    {
        Span<byte> lengthBytes = stackalloc byte[4];
        if (ProcessMemory.Read(pid, lengthAddress, lengthBytes, out var read) != Errno.Success || read != 4)
        {
            return false;
        }
        var capacity = BinaryPrimitives.ReadInt32LittleEndian(lengthBytes);
        var copy = Math.Min(Math.Max(capacity, 0), sockaddr.Length);
        BinaryPrimitives.WriteInt32LittleEndian(lengthBytes, fullLength);
        return (copy == 0 || ProcessMemory.Write(pid, address, sockaddr[..copy], out _) == Errno.Success)
            && ProcessMemory.Write(pid, lengthAddress, lengthBytes, out _) == Errno.Success;
    }

    /// <summary>
    /// A dup of the application's socket and, when it is a UDP socket, its reverse map (made on first use). On failure
    /// the call is answered (or gone) and false returned; a socket that is not UDP comes back with null peers.
    /// </summary>
    private bool TryGetDatagramSocket(InterceptedApp app, in SeccompNotification n, out SafeFd appSocket, out DatagramPeers? peers)
    {
        peers = null;
        if (!TryGetAppSocket(app, in n, (int)n.Arg0, knownDomain: AF_INET, out appSocket, out var info))
        {
            return false;
        }
        if (ProcFs.GetInode(appSocket, out var inode) != Errno.Success)
        {
            return true;
        }
        if (app.DatagramPeers.TryGetValue(inode, out peers))
        {
            return true;
        }
        if (info.Type != SOCK_DGRAM
            || Sockets.GetIntOption(appSocket, SOL_SOCKET, SO_PROTOCOL, out var protocol) != Errno.Success || protocol != IPPROTO_UDP
            || Sockets.GetIntOption(appSocket, SOL_SOCKET, SO_DOMAIN, out var domain) != Errno.Success || domain is not (AF_INET or AF_INET6))
        {
            return true;
        }
        peers = PeersOf(app, inode, domain);
        return true;
    }

    private static DatagramPeers PeersOf(InterceptedApp app, ulong inode, int domain) =>
        app.DatagramPeers.GetOrAdd(inode, static (_, d) => new DatagramPeers(d), domain);

    /// <summary>
    /// A UDP bind: performed by ax on its dup (so that it learns the port), and registered as a service when it names
    /// a port. False when the call is not a UDP bind ax takes, with nothing answered.
    /// </summary>
    /// <remarks>
    /// A bind of port 0 is how a client picks its source port, so it is left to the kernel and not registered: a
    /// client's socket must not become a backend of the refs that select its app. A port below
    /// <c>ip_unprivileged_port_start</c> asked by an app whose user is not root is left to the kernel too, which
    /// checks the application's capabilities; ax's bind would be made with the daemon's.
    /// </remarks>
    private bool TryBindDatagram(InterceptedApp app, in SeccompNotification n, SafeFd appSocket, in AppSocketInfo info, ulong inode,
        in Interop.InetEndpoint requested)
    {
        if (info.Type != SOCK_DGRAM || info.Domain is not (AF_INET or AF_INET6) || requested.Port == 0
            || (app.Record.Uid != 0 && requested.Port < UnprivilegedPortStart())
            || Sockets.GetIntOption(appSocket, SOL_SOCKET, SO_PROTOCOL, out var protocol) != Errno.Success || protocol != IPPROTO_UDP)
        {
            return false;
        }
        Span<byte> sockaddr = stackalloc byte[MaxSockaddr];
        var error = Sockets.Bind(appSocket, sockaddr[..requested.Write(sockaddr)]);
        if (error == Errno.Success && Sockets.GetSockName(appSocket, sockaddr, out var length) == Errno.Success
            && Interop.InetEndpoint.TryParse(sockaddr[..length], out var bound, out _))
        {
            var service = _registry.AddService(app.Record.Id, TransportProtocol.Udp, requested, bound, inode);
            app.Listening[inode] = service.Id;
            Log.ServiceRegistered(_logger, app.Record.Id, service.Id, bound);
        }
        Seccomp.Respond(app.Listener, n.Id, error == Errno.Success ? 0 : -1, error);
        return true;
    }

    private static int UnprivilegedPortStart()
    {
        if (_unprivilegedPortStart is { } known)
        {
            return known;
        }
        var start = 1024;
        try
        {
            if (int.TryParse(File.ReadAllText("/proc/sys/net/ipv4/ip_unprivileged_port_start").Trim(), out var value))
            {
                start = value;
            }
        }
        catch (IOException)
        {
        }
        _unprivilegedPortStart = start;
        return start;
    }

    /// <summary>A parked recvfrom or recvmsg: where its payload, source and control data go in the application.</summary>
    /// <param name="Buffer">recvfrom: the buffer. recvmsg: the <c>struct iovec</c> array.</param>
    /// <param name="Length">How many bytes the buffer (or the iovecs together) take, at most a datagram.</param>
    /// <param name="Address">Where the source goes, or 0.</param>
    /// <param name="AddressLength">Where its length is read and written: recvfrom's <c>addrlen</c>, recvmsg's <c>msg_namelen</c>.</param>
    /// <param name="Message">recvmsg: the <c>struct msghdr</c>; 0 for recvfrom.</param>
    /// <param name="VectorCount">recvmsg: <c>msg_iovlen</c>.</param>
    /// <param name="Control">recvmsg: <c>msg_control</c>.</param>
    /// <param name="ControlCapacity">recvmsg: how much control data ax receives for it (<c>msg_controllen</c>, bounded).</param>
    private readonly record struct DatagramReceive(ulong Id, int Pid, ulong Buffer, int Length, int Flags, ulong Address, ulong AddressLength,
        ulong Message = 0, int VectorCount = 0, ulong Control = 0, int ControlCapacity = 0);
}

/// <summary>
/// The reverse map of one redirected UDP socket: which backend stands for which VIP, so that a datagram from the
/// backend is reported from the VIP. Read without a lock on every redirected recvfrom; written when a datagram goes to
/// a backend it does not list yet (a copy-on-write array, small: a socket talks to few VIPs).
/// </summary>
/// <remarks>
/// Two VIPs whose refs pick the same backend share one entry, and the newest wins. Bounded by <see cref="Capacity"/>:
/// the oldest entry goes first.
/// </remarks>
internal sealed class DatagramPeers(int domain)
{
    /// <summary>How many backends one socket keeps.</summary>
    public const int Capacity = 64;

    private Entry[] _entries = [];

    /// <summary>The socket's family, which the backends are written in.</summary>
    public int Domain { get; } = domain;

    /// <summary>Every (backend, VIP) pair, oldest first: what a successor daemon needs (InterceptionService.Continuity.cs).</summary>
    public IEnumerable<(Interop.InetEndpoint Backend, Interop.InetEndpoint Vip)> Pairs =>
        Volatile.Read(ref _entries).Select(e => (e.Backend, e.Vip));

    /// <summary>The VIP that <paramref name="backend"/> stands for on this socket.</summary>
    public bool TryGetVip(in Interop.InetEndpoint backend, out Interop.InetEndpoint vip)
    {
        foreach (var entry in Volatile.Read(ref _entries))
        {
            if (entry.Backend == backend)
            {
                vip = entry.Vip;
                return true;
            }
        }
        vip = default;
        return false;
    }

    /// <summary>Records that <paramref name="backend"/> answers for <paramref name="vip"/>. Allocates only when that is new.</summary>
    /// <remarks>An IPv6 socket may send to an IPv4 sockaddr, but the kernel reports its sources as IPv6 (mapped), so the
    /// VIP is kept in the socket's family.</remarks>
    public void Remember(in Interop.InetEndpoint backend, Interop.InetEndpoint vip)
    {
        if (Domain == SocketConstants.AF_INET6 && vip.IsIPv4)
        {
            vip = vip.MapToIPv6();
        }
        while (true)
        {
            var entries = Volatile.Read(ref _entries);
            var at = -1;
            for (var i = 0; i < entries.Length; i++)
            {
                if (entries[i].Backend == backend)
                {
                    if (entries[i].Vip == vip)
                    {
                        return;
                    }
                    at = i;
                    break;
                }
            }
            Entry[] next;
            if (at >= 0)
            {
                next = (Entry[])entries.Clone();
                next[at] = new Entry(backend, vip);
            }
            else
            {
                var keep = Math.Min(entries.Length, Capacity - 1);
                next = new Entry[keep + 1];
                entries.AsSpan(entries.Length - keep).CopyTo(next);
                next[keep] = new Entry(backend, vip);
            }
            if (Interlocked.CompareExchange(ref _entries, next, entries) == entries)
            {
                return;
            }
        }
    }

    private readonly record struct Entry(Interop.InetEndpoint Backend, Interop.InetEndpoint Vip);
}
