using System.Globalization;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Dataplane.Registry;
using Istio.AppSwitch.Interop;
using Microsoft.Extensions.Logging;
using static Istio.AppSwitch.Interop.SocketConstants;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>
/// The co-located fast path (docs/unix-switch.md): a connect whose backend is a service of an application under this
/// same daemon gets one end of a Unix socket pair instead of a TCP connection, and the server's next accept on that
/// listener gets the other end. Both keep seeing TCP addresses (getsockname, getpeername, accept's address) and TCP
/// options (<see cref="TcpOptionAnswers"/>).
/// </summary>
/// <remarks>
/// <para>A TCP listener is readable only when its kernel accept queue holds a connection, and epoll, poll and select
/// users wait for that. So after queueing a server end the daemon rings a "doorbell": a nonblocking loopback TCP connect
/// of its own to the listener, at most one outstanding per listener. The accepts of a listener with switched clients are
/// performed by the daemon (<see cref="TryAcceptSwitched"/>): a doorbell is reset and replaced by the next queued end; a
/// real TCP client is installed as it is.</para>
/// <para>A doorbell must never reach the application, so before the first switch to a listener the daemon takes over its
/// accepts (<see cref="SwitchListener.Owned"/>) and then checks that no thread of the server is already inside a kernel
/// accept on it (one the daemon had let through before): such a thread would take the doorbell. Until that check passes,
/// connects to the listener stay TCP.</para>
/// </remarks>
internal sealed partial class SyscallHandler
{
    private const int AcceptNr = 43;
    private const int Accept4Nr = 288;

    /// <summary>How many processes of a server's tree the kernel-accept check looks at, at most.</summary>
    private const int MaxScannedProcesses = 256;

    /// <summary>
    /// Server ends that may wait for one listener's accepts; past that, connects go over TCP and meet the kernel's
    /// backlog (a server that stopped accepting makes its clients wait, or be refused, as without ax).
    /// </summary>
    private const int MaxQueuedEnds = 128;

    private int _fabricatedPort;

    /// <summary>
    /// Switches a redirected connect to a Unix socket pair when its backend is a co-located service that needs no inbound
    /// inspection. True when the call is answered; false when the caller connects over TCP as usual.
    /// </summary>
    private bool TrySwitch(InterceptedApp app, ulong id, int tid, SafeFd appSocket, in AppSocketInfo info, in InetEndpoint destination,
        in ConnectDecision decision)
    {
        if (!_unixSwitch || _findApp is null || decision.Service is not { Protocol: TransportProtocol.Tcp } service
            || decision.Cluster is not null || decision.Ref is { NoUnix: true } or { IsCapture: true } || _chain.TrustsProxies)
        {
            return false;
        }
        if (_findApp(service.AppId) is not { IsDisposed: false } server || NeedsInboundInspection(server, service))
        {
            return false;
        }
        if (!IsUnconnected(appSocket))
        {
            return false; // connected or connecting already: the kernel answers (EISCONN, EALREADY) through Redirect
        }
        if (!TryBackendFor(info.Domain, service.Target, service, out _))
        {
            return false; // an IPv4 socket and an IPv6-only listener: the kernel's answer (ENETUNREACH) comes from Redirect
        }
        var listener = server.SwitchListeners.GetOrAdd(service.SocketInode, static (_, s) => new SwitchListener(s), service);
        if (listener.IsClosed || listener.Queue.Count >= MaxQueuedEnds)
        {
            return false;
        }
        if (!listener.Verified)
        {
            // Owned first: from here no accept on the listener is CONTINUEd, so a thread not found in a kernel accept now
            // cannot enter one later.
            listener.Owned = true;
            if (!NoKernelAcceptOn(server, listener))
            {
                Log.SwitchDeferred(_logger, app.Record.Id, service.Id);
                return false;
            }
            listener.Verified = true;
        }

        // ADDFD sets the new fd's close-on-exec flag: keep the application's own (/proc/TID works for any thread).
        if (ProcFs.GetFdInfoFlags(tid, info.Fd, out _, out var closeOnExec) != Errno.Success)
        {
            closeOnExec = true;
        }
        if (UnixRights.StreamPair(nonBlocking: false, out var clientEnd, out var serverEnd) != Errno.Success)
        {
            return false;
        }
        var serverKept = false;
        try
        {
            var clientLocal = ClientLocalAddress(app, appSocket, in info);
            var serverLocal = service.Target;
            var serverPeer = InFamily(clientLocal, serverLocal.Family);
            var options = new TcpOptionStore();
            if (Sockets.GetIntOption(appSocket, IPPROTO_TCP, TCP_NODELAY, out var noDelay) == Errno.Success && noDelay != 0)
            {
                Span<byte> one = [1, 0, 0, 0];
                options.Set(TCP_NODELAY, one); // set before connect, as Go and .NET do: it stays set
            }

            Sockets.SetStatusFlags(clientEnd!, info.StatusFlags & O_NONBLOCK);
            if (ProcFs.GetInode(clientEnd!, out var clientInode) != Errno.Success)
            {
                return false;
            }
            app.Sockets[clientInode] = new SocketOverride(destination, HasPeer: true, clientLocal, HasLocal: true, default, options);
            Interlocked.Increment(ref app.UnixEnds);
            var error = Seccomp.AddFd(app.Listener, id, clientEnd!, info.Fd, setFd: true, send: false, closeOnExec, out _);
            if (error != Errno.Success)
            {
                app.Sockets.TryRemove(clientInode, out _);
                // ENOENT: a signal took the call away; its TCP socket is still unconnected, and a restarted connect switches again.
                Seccomp.Respond(app.Listener, id, -1, error == Errno.ENOENT ? Errno.EINTR : error);
                return true;
            }

            Span<byte> peerSockaddr = stackalloc byte[MaxSockaddr];
            var peerLength = serverPeer.Write(peerSockaddr);
            listener.Queue.Enqueue(new PendingEnd(serverEnd!, peerSockaddr[..peerLength].ToArray(), serverPeer, serverLocal));
            serverKept = true;
            if (listener.IsClosed)
            {
                listener.Close(); // the sweeper closed it between the check and the enqueue: this end goes too
            }

            // A TCP connect on loopback: EINPROGRESS for a nonblocking socket (writable at once), 0 for a blocking one.
            Seccomp.Respond(app.Listener, id, info.NonBlocking ? -1 : 0, info.NonBlocking ? Errno.EINPROGRESS : Errno.Success);
            Interlocked.Increment(ref app.Counters.Redirected);
            Interlocked.Increment(ref app.Counters.Switched);
            _telemetry.Connect(app.Record, Observability.ConnectMode.Unix, Observability.ConnectOutcome.Allowed, decision.Ref?.Name, in destination, in serverLocal);
            Interlocked.Increment(ref service.Switched);
            Log.Switched(_logger, app.Record.Id, destination, service.Id);

            // Off the client's critical path: it has its answer.
            RingDoorbell(listener);
            return true;
        }
        finally
        {
            clientEnd!.Dispose(); // the application holds its own copy now, or none
            if (!serverKept)
            {
                serverEnd!.Dispose();
            }
        }
    }

    /// <summary>True when the server's port would inspect inbound connections (RBAC, L7, chaining, delegation): then TCP.</summary>
    private bool NeedsInboundInspection(InterceptedApp server, ServiceRecord service)
    {
        var mesh = _mesh;
        return mesh is not null && mesh.HasInboundFor(server.Record)
            && mesh.FindInbound(server.Record, service.Bound.Port) is { AllowsAll: false };
    }

    /// <summary>
    /// The TCP address the client's getsockname answers, and the server's accept reports as the peer: the address the
    /// socket was bound to, if any, else a loopback address with a port from the ephemeral range, as a connect would pick.
    /// </summary>
    private InetEndpoint ClientLocalAddress(InterceptedApp app, SafeFd appSocket, in AppSocketInfo info)
    {
        Span<byte> sockaddr = stackalloc byte[MaxSockaddr];
        var bound = default(InetEndpoint);
        if (Sockets.GetSockName(appSocket, sockaddr, out var length) == Errno.Success)
        {
            InetEndpoint.TryParse(sockaddr[..Math.Min(length, MaxSockaddr)], out bound, out _);
        }
        var port = bound.Family != 0 && bound.Port != 0 ? bound.Port : NextEphemeralPort();
        if (bound.Family != 0 && !bound.IsAnyAddress)
        {
            return bound.WithPort(port);
        }
        if (app.Record.Ip is { } ip && (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6) == (info.Domain == AF_INET6))
        {
            return InetEndpoint.FromIPEndPoint(new System.Net.IPEndPoint(ip, port));
        }
        return InetEndpoint.Loopback(info.Domain, port);
    }

    /// <summary>A port in Linux's default ephemeral range (32768-60999), in turn.</summary>
    private ushort NextEphemeralPort() => (ushort)(32768 + ((uint)Interlocked.Increment(ref _fabricatedPort) % 28232));

    /// <summary><paramref name="endpoint"/> as a socket of <paramref name="family"/> sees it (IPv4 in IPv6 as ::ffff:a.b.c.d).</summary>
    private static InetEndpoint InFamily(InetEndpoint endpoint, int family)
    {
        if (endpoint.Family == family)
        {
            return endpoint;
        }
        if (family == AF_INET6)
        {
            return endpoint.MapToIPv6();
        }
        return endpoint.IsIPv4MappedIPv6 ? endpoint.MapToIPv4() : InetEndpoint.Loopback(AF_INET, endpoint.Port);
    }

    /// <summary>
    /// Makes the listener readable for its epoll/poll users: a nonblocking loopback connect of the daemon's own, when
    /// server ends wait and no doorbell is outstanding. A failure leaves the ends queued; a blocking accept held by the
    /// daemon, or the next accept of an epoll user, still gets them.
    /// </summary>
    private void RingDoorbell(SwitchListener listener)
    {
        if (listener.HasDoorbell || listener.Queue.IsEmpty || listener.IsClosed)
        {
            return;
        }
        var target = listener.Service.Target;
        if (Sockets.Create(target.Family, SOCK_STREAM, 0, nonBlocking: true, closeOnExec: true, out var socket) != Errno.Success)
        {
            return;
        }
        // Bound first (to the target's own address, a local one), so that the doorbell's address is known, and claimed,
        // before the connection can reach the listener's queue: an accept on the server's thread may run at any moment.
        Span<byte> sockaddr = stackalloc byte[MaxSockaddr];
        var length = target.WithPort(0).Write(sockaddr);
        var error = Sockets.Bind(socket!, sockaddr[..length]);
        if (error != Errno.Success
            || (error = Sockets.GetSockName(socket!, sockaddr, out length)) != Errno.Success
            || !InetEndpoint.TryParse(sockaddr[..Math.Min(length, MaxSockaddr)], out var local, out _))
        {
            Log.DoorbellFailed(_logger, listener.Service.Id, error);
            socket!.Dispose();
            return;
        }
        if (!listener.TryClaimDoorbell(socket!, local))
        {
            socket!.Dispose();
            return;
        }
        // No TIME_WAIT for the doorbell's port: it closes with a reset.
        Reset(socket!);
        length = target.Write(sockaddr);
        error = Sockets.Connect(socket!, sockaddr[..length]);
        if (error is not (Errno.Success or Errno.EINPROGRESS))
        {
            Log.DoorbellFailed(_logger, listener.Service.Id, error);
            listener.ClearDoorbell();
        }
    }

    /// <summary>
    /// A server's accept on a listener whose accepts the daemon owns: performed by the daemon on its dup of the listener,
    /// so that doorbells are replaced by the queued server ends. True when the call is answered (or held).
    /// </summary>
    private bool TryAcceptSwitched(InterceptedApp app, in SeccompNotification n, int flags)
    {
        if ((flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) != 0
            || ProcFs.GetSocketInode((int)n.Pid, (int)n.Arg0, out var inode) != Errno.Success
            || !app.SwitchListeners.TryGetValue(inode, out var switched)
            || !switched.Owned)
        {
            return false;
        }
        if (!TryGetAppSocket(app, in n, (int)n.Arg0, knownDomain: 0, out var listener, out var info))
        {
            return true;
        }
        var handedOff = false;
        try
        {
            if (info.Type != SOCK_STREAM || info.Domain is not (AF_INET or AF_INET6))
            {
                Continue(app, n.Id);
                return true;
            }
            var call = new AcceptCall(app, n.Id, (int)n.Pid, n.Arg1, n.Arg2, flags, null, listener, info, switched);
            if (!TryInstallStashed(in call) && TryAcceptOnce(in call) == AcceptOutcome.Pending)
            {
                HoldAccept(in call);
                handedOff = true;
            }
            return true;
        }
        finally
        {
            if (!handedOff)
            {
                listener.Dispose();
            }
        }
    }

    /// <summary>
    /// What a daemon-performed accept does with what the kernel gave it (<paramref name="error"/>, <paramref name="accepted"/>)
    /// on a switched listener: a doorbell is reset and a queued end goes in its place; with nothing pending in the kernel, a
    /// queued end whose doorbell is still on its way goes at once. True when the call is answered; false when the caller
    /// goes on with what the kernel gave (a real TCP client, EAGAIN) or, after a doorbell with no end left, accepts again.
    /// </summary>
    private bool TryAnswerSwitched(in AcceptCall call, SwitchListener switched, Errno error, ReadOnlySpan<byte> peer, ref SafeFd? accepted,
        out bool acceptAgain)
    {
        acceptAgain = false;
        if (error == Errno.Success)
        {
            if (!InetEndpoint.TryParse(peer, out var from, out _) || !switched.IsDoorbell(in from))
            {
                return false;
            }
            Reset(accepted!);
            accepted!.Dispose();
            accepted = null;
            switched.ClearDoorbell();
            if (TryInstallSwitched(in call, switched))
            {
                return true;
            }
            acceptAgain = true;
            return false;
        }
        return error == Errno.EAGAIN && TryInstallSwitched(in call, switched);
    }

    /// <summary>Installs the next queued server end as the accepted connection; false when none waits.</summary>
    private bool TryInstallSwitched(in AcceptCall call, SwitchListener switched)
    {
        if (!switched.Queue.TryDequeue(out var end))
        {
            return false;
        }
        var app = call.App;
        var kept = false;
        try
        {
            // The accepted socket's O_NONBLOCK is what accept4 asked for.
            Sockets.SetStatusFlags(end.Socket, (call.Flags & SOCK_NONBLOCK) != 0 ? O_NONBLOCK : 0);
            if (ProcFs.GetInode(end.Socket, out var inode) == Errno.Success)
            {
                app.Sockets[inode] = new SocketOverride(end.Peer, HasPeer: true, end.Local, HasLocal: true, default, new TcpOptionStore());
                Interlocked.Increment(ref app.UnixEnds);
            }
            kept = Install(in call, end.Socket, end.PeerSockaddr);
            Log.SwitchedAccepted(_logger, app.Record.Id, end.Peer, switched.Service.Id);
            RingDoorbell(switched);
            return true;
        }
        finally
        {
            if (!kept)
            {
                end.Socket.Dispose();
            }
        }
    }

    /// <summary>
    /// True when no thread of the server's process tree is inside a kernel accept on the listener, other than those whose
    /// accept the daemon holds. Read from <c>/proc/PID/task/TID/syscall</c>; only until the check first passes.
    /// </summary>
    private static bool NoKernelAcceptOn(InterceptedApp server, SwitchListener listener)
    {
        var inode = listener.Service.SocketInode;
        var pending = new Stack<int>();
        pending.Push(server.Record.Pid);
        var seen = 0;
        while (pending.TryPop(out var pid) && seen++ < MaxScannedProcesses)
        {
            string[] tasks;
            try
            {
                tasks = Directory.GetDirectories($"/proc/{pid}/task");
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue; // gone
            }
            foreach (var task in tasks)
            {
                if (!int.TryParse(Path.GetFileName(task), NumberStyles.None, CultureInfo.InvariantCulture, out var tid))
                {
                    continue;
                }
                if (InKernelAccept(task, out var fd) && !listener.HeldTids.ContainsKey(tid)
                    && ProcFs.GetSocketInode(pid, fd, out var fdInode) == Errno.Success && fdInode == inode)
                {
                    return false;
                }
                foreach (var child in ReadChildren(task))
                {
                    pending.Push(child);
                }
            }
        }
        return true;
    }

    private static bool InKernelAccept(string task, out int fd)
    {
        fd = -1;
        string text;
        try
        {
            text = File.ReadAllText(Path.Combine(task, "syscall"));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
        // "NR ARG0 ARG1 ... SP PC", or "running", or "-1 SP PC" outside a syscall.
        var fields = text.Split(' ', 3);
        if (fields.Length < 2 || !int.TryParse(fields[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var nr)
            || nr is not (AcceptNr or Accept4Nr))
        {
            return false;
        }
        var arg = fields[1].StartsWith("0x", StringComparison.Ordinal) ? fields[1][2..] : fields[1];
        if (!long.TryParse(arg, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var raw))
        {
            return false;
        }
        fd = (int)raw;
        return true;
    }

    private static IEnumerable<int> ReadChildren(string task)
    {
        string text;
        try
        {
            text = File.ReadAllText(Path.Combine(task, "children"));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            yield break;
        }
        foreach (var part in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var child))
            {
                yield return child;
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1140, LogLevel.Debug, "{AppId}: connect to {Destination} switched to a Unix socket pair ({ServiceId})")]
        public static partial void Switched(ILogger logger, string appId, InetEndpoint destination, string serviceId);

        [LoggerMessage(1141, LogLevel.Debug, "{AppId}: accepted a switched connection from {Peer} on {ServiceId}")]
        public static partial void SwitchedAccepted(ILogger logger, string appId, InetEndpoint peer, string serviceId);

        [LoggerMessage(1142, LogLevel.Debug, "{AppId}: connect to {ServiceId} stays TCP: a thread of the server waits in a kernel accept on it")]
        public static partial void SwitchDeferred(ILogger logger, string appId, string serviceId);

        [LoggerMessage(1143, LogLevel.Warning, "{ServiceId}: the doorbell connect to the listener failed ({Error}); queued switched connections wait for the next accept")]
        public static partial void DoorbellFailed(ILogger logger, string serviceId, Errno error);
    }
}
