using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Istio.AppSwitch.Dataplane.Mesh;
using Istio.AppSwitch.Dataplane.Observability;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Dataplane.Registry;
using Istio.AppSwitch.Interop;
using Microsoft.Extensions.Logging;
using static Istio.AppSwitch.Interop.SocketConstants;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>
/// Answers the trapped socket calls of applications under ax. This is the application's critical path: every
/// method here runs while an application thread is parked in the kernel.
/// </summary>
/// <remarks>
/// <para>Threading: <see cref="Handle"/> runs on a notification thread (the application's receiver, or the shared
/// reactor), one notification at a time per listener. It
/// never blocks. A decision that has to wait (a blocking connect still in progress) continues on the thread
/// pool, so it holds up no other notification of this or any other application.</para>
/// <para>Rules that come from the kernel's interface:</para>
/// <list type="bullet">
/// <item>When ax makes no decision, it answers <c>SECCOMP_USER_NOTIF_FLAG_CONTINUE</c>, and the kernel runs the call
/// with the application's own arguments. Malformed arguments therefore get exactly the kernel's errno.</item>
/// <item>When ax decides (a redirect), it performs the call itself on its own socket, because with CONTINUE the
/// kernel would re-read the application's memory after the check (time of check to time of use).</item>
/// <item>Whatever ax read from the application's memory is trusted only after
/// <see cref="Seccomp.IsIdValid"/>: the thread may have died and its tid been reused.</item>
/// </list>
/// </remarks>
internal sealed partial class SyscallHandler
{
    private const int MaxSockaddr = 128; // sizeof(struct sockaddr_storage)

    private readonly RoutingTable _routing;
    private readonly ServiceRegistry _registry;
    private readonly EpollReactor _reactor;
    private readonly HeldConnects _held;
    private readonly ILogger _logger;
    private readonly MeshStore? _mesh;
    private readonly ChainOptions _chain;
    private readonly Interop.InetEndpoint? _chainTarget;
    private readonly Delegation.DelegationHub? _delegation;
    private readonly Func<string, InterceptedApp?>? _findApp;
    private readonly bool _unixSwitch;
    private readonly ApiClientsUnderAx? _apiClients;
    private readonly DataplaneTelemetry _telemetry;

    /// <param name="findApp">Finds an application under this daemon by id, for the co-located switch to Unix sockets
    /// (docs/unix-switch.md); null turns the switch off.</param>
    /// <param name="apiClients">Where an application's connects to the daemon's API socket are recorded, so that the API
    /// refuses it writes; null records nothing.</param>
    public SyscallHandler(RoutingTable routing, ServiceRegistry registry, EpollReactor reactor, HeldConnects held, ILogger logger,
        MeshStore? mesh = null, ChainOptions? chain = null, Delegation.DelegationHub? delegation = null,
        Func<string, InterceptedApp?>? findApp = null, ApiClientsUnderAx? apiClients = null, DataplaneTelemetry? telemetry = null)
    {
        _telemetry = telemetry ?? new DataplaneTelemetry();
        _apiClients = apiClients;
        _findApp = findApp;
        _unixSwitch = findApp is not null;
        _mesh = mesh;
        _delegation = delegation;
        _chain = chain ?? ChainOptions.None;
        _chainTarget = ChainTargetOf(_chain);
        _routing = routing;
        _registry = registry;
        _reactor = reactor;
        _held = held;
        _logger = logger;
    }

    // True on a thread that receives notifications (the reactor, or an app's receiver): the app's next trapped call is
    // handled on the same thread, after this one returns.
    [ThreadStatic]
    private static bool _notificationThread;

    /// <summary>Marks the calling thread as one that receives and answers notifications, one at a time.</summary>
    internal static void MarkNotificationThread() => _notificationThread = true;

    private bool OnNotificationThread => _notificationThread || _reactor.IsOnReactorThread;

    /// <summary>Answers one notification. Runs on a notification thread (see <see cref="NotificationReceiving"/>); must not block.</summary>
    public void Handle(InterceptedApp app, in SeccompNotification notification)
    {
        Interlocked.Increment(ref app.Counters.Notifications);
        var started = Stopwatch.GetTimestamp();
        RememberCurrent(in notification);
        try
        {
            switch (notification.Nr)
            {
                case SyscallNumbers.Connect:
                    HandleConnect(app, in notification);
                    break;
                case SyscallNumbers.GetPeerName:
                    HandleAddressQuery(app, in notification, peer: true);
                    break;
                case SyscallNumbers.GetSockName:
                    HandleAddressQuery(app, in notification, peer: false);
                    break;
                case SyscallNumbers.Bind:
                    HandleBind(app, in notification);
                    break;
                case SyscallNumbers.Listen:
                    HandleListen(app, in notification);
                    break;
                case SyscallNumbers.Accept:
                    HandleAccept(app, in notification, flags: 0);
                    break;
                case SyscallNumbers.Accept4:
                    HandleAccept(app, in notification, (int)notification.Arg3);
                    break;
                case SyscallNumbers.SendTo:
                    HandleSendTo(app, in notification);
                    break;
                case SyscallNumbers.RecvFrom:
                    HandleRecvFrom(app, in notification);
                    break;
                case SyscallNumbers.SendMsg:
                    HandleSendMsg(app, in notification);
                    break;
                case SyscallNumbers.RecvMsg:
                    HandleRecvMsg(app, in notification);
                    break;
                case SyscallNumbers.SetSockOpt:
                    HandleTcpOption(app, in notification, set: true);
                    break;
                case SyscallNumbers.GetSockOpt:
                    HandleTcpOption(app, in notification, set: false);
                    break;
                default:
                    Continue(app, notification.Id);
                    break;
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A bug in a handler must cost one call, never the daemon or the other applications. The call fails
            // the way a kernel without the feature would fail it.
            Interlocked.Increment(ref app.Counters.Failed);
            Log.HandlerFailed(_logger, ex, app.Record.Id, SyscallNumbers.Name(notification.Nr));
            Seccomp.Respond(app.Listener, notification.Id, -1, Errno.ENOSYS);
        }
        finally
        {
            // Until the answer, or the hand-off to a continuation (a held or blocking connect): the time this thread
            // kept the next notification waiting.
            _telemetry.Notification(notification.Nr, Stopwatch.GetTimestamp() - started);
        }
    }

    private static void Continue(InterceptedApp app, ulong id) => Seccomp.RespondContinue(app.Listener, id);

    // connect(fd, addr, addrlen)
    private void HandleConnect(InterceptedApp app, in SeccompNotification n)
    {
        var fd = (int)n.Arg0;
        // No id check here: a connect left to the kernel needs none (CONTINUE on a stale id is refused), and one
        // that ax decides proves its thread through the pidfd in TryGetAppSocket, after the read.
        if (!TryReadSockaddr(app, in n, n.Arg1, n.Arg2, checkId: false, out var destination, _apiClients))
        {
            return;
        }

        var decision = _routing.Current.Resolve(app.Record, in destination);
        if (decision.Kind == ConnectDecisionKind.NoMatch)
        {
            if (!app.IsNamespaced || StaysInNamespace(app, in destination))
            {
                Interlocked.Increment(ref app.Counters.Passthrough);
                _telemetry.Connect(app.Record, ConnectMode.Passthrough, ConnectOutcome.Allowed, null, in destination, in destination);
                if (!app.DatagramPeers.IsEmpty && ProcFs.GetSocketInode((int)n.Pid, fd, out var connectedInode) == Errno.Success
                    && app.DatagramPeers.ContainsKey(connectedInode))
                {
                    // A UDP socket that ax connected to a VIP connects again elsewhere: getpeername is the kernel's again.
                    app.Sockets.TryRemove(connectedInode, out _);
                }
                Continue(app, n.Id);
                return;
            }
            // An app in its own network namespace: the same destination, reached from the host's (docs/netns.md).
            decision = ConnectDecision.Direct(destination);
        }

        // From here ax decides, so it needs the application's socket itself: a dup of the same open file
        // description, which ax connects in the application's place.
        if (!TryGetAppSocket(app, in n, fd, destination.Family, out var appSocket, out var info))
        {
            new UpstreamLease(decision.Cluster, decision.Endpoint).Release();
            return;
        }
        var handedOff = false;
        try
        {
            if (TryCompleteRestartedConnect(app, in n, fd, appSocket))
            {
                new UpstreamLease(decision.Cluster, decision.Endpoint).Release();
                return;
            }
            if (Interlocked.Read(ref app.UnixEnds) != 0 && IsReplacedSocket(app, appSocket))
            {
                // A second connect on a socket ax switched (or delegated) to a Unix socket: hiredis and others ask
                // again to learn that a nonblocking connect is done, and the kernel would say EINVAL (an AF_INET address).
                // (info.Domain came from the sockaddr, so it cannot tell.)
                new UpstreamLease(decision.Cluster, decision.Endpoint).Release();
                Seccomp.Respond(app.Listener, n.Id, -1, Errno.EISCONN);
                return;
            }
            if (info.Type != SOCK_STREAM || info.Domain is not (AF_INET or AF_INET6))
            {
                // Decided again for UDP, whose backends are the UDP services; other socket types: the kernel decides.
                new UpstreamLease(decision.Cluster, decision.Endpoint).Release();
                if (info.Type == SOCK_DGRAM && info.Domain is AF_INET or AF_INET6
                    && Sockets.GetIntOption(appSocket, SOL_SOCKET, SO_PROTOCOL, out var protocol) == Errno.Success && protocol == IPPROTO_UDP)
                {
                    ConnectDatagram(app, n.Id, appSocket, in info, in destination);
                    return;
                }
                Continue(app, n.Id);
                return;
            }
            if (app.IsNamespaced && decision.Kind != ConnectDecisionKind.Refuse && !TryMoveToHost(app, in n, fd, ref appSocket, in info))
            {
                new UpstreamLease(decision.Cluster, decision.Endpoint).Release();
                return;
            }

            switch (decision.Kind)
            {
                case ConnectDecisionKind.NoBackend:
                    handedOff = WaitForBackend(app, n.Id, appSocket, in info, in destination, decision.Ref!);
                    return;
                case ConnectDecisionKind.Refuse:
                    Refuse(app, n.Id, in destination, decision.Ref!.Name);
                    return;
                case ConnectDecisionKind.Chain:
                    handedOff = Chain(app, n.Id, appSocket, in info, in destination, in decision);
                    return;
            }

            if (decision.Service is not null && TrySwitch(app, n.Id, (int)n.Pid, appSocket, in info, in destination, in decision))
            {
                return;
            }
            handedOff = Redirect(app, n.Id, appSocket, in info, in destination, in decision, writeHeader: decision.Ref is { IsCapture: true });
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
    /// Connects the application's own socket to the backend. Returns true when a continuation on the thread pool
    /// now owns <paramref name="appSocket"/> (a blocking connect still in progress).
    /// </summary>
    /// <remarks>
    /// <para>Connecting the application's socket, rather than a socket of ax's own installed with ADDFD, keeps
    /// everything the application set on it (options, local binding, fd number, close-on-exec) exactly as it
    /// was, and costs a third of the syscalls. A second connect on it gets the kernel's own EISCONN or EALREADY.</para>
    /// <para>A mesh endpoint's connect that fails within the call (a refusal, which on loopback and on most LANs
    /// arrives before connect(2) returns) is retried on another endpoint of the same cluster, up to the service's
    /// retries, before the application hears of it: Istio's default retry on connect failure, without Envoy.</para>
    /// </remarks>
    private bool Redirect(InterceptedApp app, ulong id, SafeFd appSocket, in AppSocketInfo info,
        in Interop.InetEndpoint destination, in ConnectDecision decision, bool writeHeader, ConnectMode mode = ConnectMode.Fast)
    {
        var lease = new UpstreamLease(decision.Cluster, decision.Endpoint);
        var backend = decision.Backend;
        var retries = decision.Ref?.Mesh?.ConnectRetries ?? 0;
        Span<byte> sockaddr = stackalloc byte[MaxSockaddr];
        while (true)
        {
            if (!TryBackendFor(info.Domain, backend, decision.Service, out var target))
            {
                lease.Release();
                Seccomp.Respond(app.Listener, id, -1, Errno.ENETUNREACH);
                return false;
            }
            var length = target.Write(sockaddr);

            if (info.NonBlocking && !writeHeader && !lease.IsHeld)
            {
                // EINPROGRESS and then writability, exactly as from the kernel: it is the kernel's connect. A new TCP connect
                // on a nonblocking socket never answers 0 at once: a 0 here is the application asking again about a connect
                // that has finished since (hiredis, libuv), which telemetry has counted already.
                var result = Sockets.Connect(appSocket, sockaddr[..length]);
                Complete(app, id, appSocket, in destination, result, decision.Ref?.Name, lease, in target, mode, record: result != Errno.Success);
                return false;
            }

            // A blocking socket, one that must carry a PROXY header before the application sees it, or a mesh connect
            // whose failure ax wants to see: connect it nonblocking so that the reactor thread never waits, then give it
            // back its own mode. Loopback handshakes usually finish within connect(2) itself.
            if (!info.NonBlocking)
            {
                Sockets.SetStatusFlags(appSocket, info.StatusFlags | O_NONBLOCK);
            }
            var error = Sockets.Connect(appSocket, sockaddr[..length]);
            if (error == Errno.EINPROGRESS && IsConnectDone(appSocket, sockaddr[..length], in info, out var outcome))
            {
                error = outcome;
            }

            if (error != Errno.EINPROGRESS && error != Errno.Success && lease.IsHeld && retries > 0 && UpstreamLease.IsRetriable(error)
                && NextEndpoint(app, appSocket, decision.Ref!, ref lease))
            {
                retries--;
                backend = lease.Endpoint!.Address;
                continue;
            }

            if (error == Errno.EINPROGRESS && info.NonBlocking && !writeHeader)
            {
                // A mesh connect still on its way (a remote endpoint): the application hears EINPROGRESS now, as from
                // the kernel, and the slot stays with the socket until it closes.
                Complete(app, id, appSocket, in destination, error, decision.Ref?.Name, lease, in target, mode);
                return false;
            }
            if (error != Errno.EINPROGRESS)
            {
                error = Finish(app, appSocket, in info, in destination, error, writeHeader ? decision.Ref : null);
                Complete(app, id, appSocket, in destination, error, decision.Ref?.Name, lease, in target, mode);
                return false;
            }

            // The application thread stays parked until the handshake ends, as it would in the kernel; the wait is
            // on the reactor, not on a thread.
            _ = CompleteConnectAsync(app, id, appSocket, info, destination, target, decision.Ref?.Name, writeHeader ? decision.Ref : null, lease, mode);
            return true;
        }
    }

    /// <summary>
    /// After a failed attempt: reports it, gives its slot back, and takes one on another endpoint of the same cluster.
    /// False (with nothing held) when there is none to try; the caller then answers the failure it had.
    /// </summary>
    private static bool NextEndpoint(InterceptedApp app, SafeFd appSocket, ServiceRef reference, ref UpstreamLease lease)
    {
        var cluster = lease.Cluster!;
        var failed = lease.Endpoint!;
        var now = cluster.Time.GetTimestamp();
        lease.Report(success: false, now);
        lease.Release();
        lease = default;
        var hash = reference.Mesh!.HashOnSourceIp ? app.Record.SourceHash : 0;
        if (cluster.Pick(hash, now, avoid: failed) is not { } next || next == failed || !cluster.TryAcquire(next))
        {
            return false;
        }
        // A connect whose failure ax read with SO_ERROR leaves the socket "connecting" to the socket layer (the
        // next connect(2) would answer ECONNABORTED). Connecting to AF_UNSPEC resets it to unconnected whatever
        // state it is in, so the next attempt starts afresh.
        Disconnect(appSocket);
        lease = new UpstreamLease(cluster, next);
        return true;
    }

    /// <summary>Connects to AF_UNSPEC: aborts a handshake under way and leaves the TCP socket unconnected, ready to connect again.</summary>
    private static void Disconnect(SafeFd socket)
    {
        Span<byte> unspec = stackalloc byte[16];
        unspec.Clear();
        Sockets.Connect(socket, unspec);
    }

    /// <summary>
    /// The end of a connect that ax saw through: writes the PROXY header if there is a ref to write it for, gives the socket
    /// back its own status flags, and says what the application gets. A nonblocking socket gets EINPROGRESS for a
    /// success, as a TCP connect always answers; it is writable by the time the application polls.
    /// </summary>
    private static Errno Finish(InterceptedApp app, SafeFd appSocket, in AppSocketInfo info, in Interop.InetEndpoint destination, Errno error,
        ServiceRef? headerFor)
    {
        if (error == Errno.Success && headerFor is not null)
        {
            error = WriteProxyHeader(app, appSocket, in destination, headerFor);
        }
        Sockets.SetStatusFlags(appSocket, info.StatusFlags);
        return error == Errno.Success && info.NonBlocking ? Errno.EINPROGRESS : error;
    }

    private async Task CompleteConnectAsync(InterceptedApp app, ulong id, SafeFd appSocket, AppSocketInfo info,
        Interop.InetEndpoint destination, Interop.InetEndpoint backend, string? refName, ServiceRef? headerFor, UpstreamLease lease, ConnectMode mode)
    {
        using (appSocket)
        {
            var error = Errno.EINPROGRESS;
            try
            {
                // SO_SNDTIMEO bounds a blocking connect; a nonblocking one has no bound of its own. A mesh cluster's
                // connect_timeout bounds both, as Envoy's would.
                var sendTimeout = info.NonBlocking ? TimeSpan.Zero : ReadSendTimeout(appSocket);
                var connectTimeout = lease.IsHeld ? lease.Cluster!.Spec.ConnectTimeout : TimeSpan.Zero;
                var meshBound = connectTimeout > TimeSpan.Zero && (sendTimeout == TimeSpan.Zero || connectTimeout < sendTimeout);
                var bound = meshBound ? connectTimeout : sendTimeout;
                using var timeout = bound > TimeSpan.Zero ? new CancellationTokenSource(bound) : null;
                try
                {
                    // Writability ends a handshake either way; the loop only guards against a wake-up that did not.
                    Errno outcome;
                    do
                    {
                        await _reactor.WaitAsync(appSocket, EpollEvents.Out, timeout?.Token ?? CancellationToken.None).ConfigureAwait(false);
                    }
                    while (!IsConnectDone(appSocket, in backend, in info, out outcome));
                    error = Finish(app, appSocket, in info, in destination, outcome, headerFor);
                }
                catch (OperationCanceledException) when (timeout is not null && timeout.IsCancellationRequested && meshBound)
                {
                    // The cluster's connect_timeout: the endpoint did not answer. Abort the handshake (AF_UNSPEC
                    // disconnects) and fail the call, as Envoy fails a connection whose upstream never answered.
                    Disconnect(appSocket);
                    error = Errno.ETIMEDOUT;
                }
                catch (OperationCanceledException) when (timeout is not null && timeout.IsCancellationRequested)
                {
                    // SO_SNDTIMEO expired: the kernel answers EINPROGRESS and leaves the connect running.
                }
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                Interlocked.Increment(ref app.Counters.Failed);
                Log.HandlerFailed(_logger, ex, app.Record.Id, "connect");
                error = Errno.ENOSYS;
            }
            finally
            {
                Sockets.SetStatusFlags(appSocket, info.StatusFlags);
            }
            Complete(app, id, appSocket, in destination, error, refName, lease, in backend, mode);
        }
    }

    /// <summary>
    /// Answers a redirected connect and remembers the VIP for getpeername when it connected or is connecting.
    /// Closes <paramref name="appSocket"/>, ax's dup, before the answer.
    /// </summary>
    /// <remarks>
    /// <para>The dup is closed while the application thread is still parked, so that the application's own fd holds
    /// the socket and ax's close only drops a reference. Closed after the answer, it was often the last reference:
    /// a program that closes its socket right after connect left the whole teardown (the FIN or RST, the release of
    /// the socket) to ax's close, about 9 µs on the reactor thread, in front of the next notification.</para>
    /// <para>On the reactor thread the record goes after the answer, off the application's critical path: the
    /// application's next trapped call (a getpeername) is handled on this same thread, so it cannot overtake the
    /// record. Elsewhere (a handshake finished on the thread pool) the record must come first.</para>
    /// <para>A mesh connect's slot (<paramref name="lease"/>) goes with the socket's record when it connected, and is
    /// given back when the sweeper finds the socket closed; a failed connect gives it back here.</para>
    /// </remarks>
    private void Complete(InterceptedApp app, ulong id, SafeFd appSocket, in Interop.InetEndpoint destination, Errno result, string? refName,
        UpstreamLease lease, in Interop.InetEndpoint backend, ConnectMode mode, bool record = true)
    {
        var connected = result is Errno.Success or Errno.EINPROGRESS;
        if (lease.IsHeld && result != Errno.EINPROGRESS)
        {
            // EINPROGRESS alone says nothing yet: outlier detection hears of a connect that went on in the background
            // only if it ends up refused by a later attempt of this or another application.
            lease.Report(connected);
        }
        ulong inode = 0;
        var hasInode = connected && ProcFs.GetInode(appSocket, out inode) == Errno.Success;
        appSocket.Dispose();
        if (!hasInode)
        {
            // Failed, or a socket ax cannot follow to its close: either way its slot is free now.
            lease.Release();
            lease = default;
        }
        var recordLater = hasInode && OnNotificationThread;
        if (hasInode && !recordLater)
        {
            RecordPeer(app, inode, in destination, lease);
        }
        // ENOENT: the thread was interrupted (a signal, its death) and the call is gone. A restarted connect
        // arrives as a new notification and finds the connection in progress (EALREADY), as in the kernel.
        Seccomp.Respond(app.Listener, id, result == Errno.Success ? 0 : -1, result);
        if (recordLater)
        {
            RecordPeer(app, inode, in destination, lease);
        }

        if (connected)
        {
            Interlocked.Increment(ref app.Counters.Redirected);
            if (record)
            {
                _telemetry.Connect(app.Record, mode, ConnectOutcome.Allowed, refName, in destination, in backend);
            }
            Log.Redirected(_logger, app.Record.Id, destination, refName);
        }
        else if (result is not (Errno.EISCONN or Errno.EALREADY))
        {
            Interlocked.Increment(ref app.Counters.Refused);
            _telemetry.Connect(app.Record, mode, ConnectOutcome.Refused, refName, in destination, in backend);
            Log.BackendConnectFailed(_logger, app.Record.Id, destination, result);
        }
    }

    private static void RecordPeer(InterceptedApp app, ulong inode, in Interop.InetEndpoint destination, UpstreamLease lease)
    {
        var record = new SocketOverride(destination, HasPeer: true, default, HasLocal: false, lease);
        app.Sockets.AddOrUpdate(inode, record, (_, previous) =>
        {
            previous.Lease.Release(); // a socket connected again (after a failure the application saw) had one
            return record;
        });
    }

    /// <summary>The application's <c>SO_SNDTIMEO</c>, which bounds a blocking connect; zero when unset.</summary>
    private static TimeSpan ReadSendTimeout(SafeHandle socket)
    {
        Span<byte> timeval = stackalloc byte[16];
        if (Sockets.GetSockOpt(socket, SOL_SOCKET, SO_SNDTIMEO, timeval, out var length) != Errno.Success || length != 16)
        {
            return TimeSpan.Zero;
        }
        return TimeSpan.FromSeconds(BinaryPrimitives.ReadInt64LittleEndian(timeval))
            + TimeSpan.FromMicroseconds(BinaryPrimitives.ReadInt64LittleEndian(timeval[8..]));
    }

    // getpeername(fd, addr, addrlen*) / getsockname(fd, addr, addrlen*)
    private void HandleAddressQuery(InterceptedApp app, in SeccompNotification n, bool peer)
    {
        // Most sockets are not redirected; this check keeps their calls at one dictionary probe.
        if (app.Sockets.IsEmpty
            || ProcFs.GetSocketInode((int)n.Pid, (int)n.Arg0, out var inode) != Errno.Success
            || !app.Sockets.TryGetValue(inode, out var entry)
            || !(peer ? entry.HasPeer : entry.HasLocal)
            || !Seccomp.IsIdValid(app.Listener, n.Id))
        {
            Continue(app, n.Id);
            return;
        }

        var address = peer ? entry.Peer : entry.Local;
        Span<byte> sockaddr = stackalloc byte[MaxSockaddr];
        var length = address.Write(sockaddr);

        // The kernel's contract: copy at most *addrlen bytes, then store the full length in *addrlen.
        Span<byte> lengthBytes = stackalloc byte[4];
        if (ProcessMemory.Read((int)n.Pid, n.Arg2, lengthBytes, out var read) != Errno.Success || read != 4)
        {
            Seccomp.Respond(app.Listener, n.Id, -1, Errno.EFAULT);
            return;
        }
        var capacity = BinaryPrimitives.ReadInt32LittleEndian(lengthBytes);
        if (capacity < 0)
        {
            Seccomp.Respond(app.Listener, n.Id, -1, Errno.EINVAL);
            return;
        }
        var copy = Math.Min(capacity, length);
        BinaryPrimitives.WriteInt32LittleEndian(lengthBytes, length);
        if ((copy > 0 && ProcessMemory.Write((int)n.Pid, n.Arg1, sockaddr[..copy], out _) != Errno.Success)
            || ProcessMemory.Write((int)n.Pid, n.Arg2, lengthBytes, out _) != Errno.Success)
        {
            Seccomp.Respond(app.Listener, n.Id, -1, Errno.EFAULT);
            return;
        }
        Seccomp.Respond(app.Listener, n.Id, 0, Errno.Success);
    }

    // bind(fd, addr, addrlen)
    private void HandleBind(InterceptedApp app, in SeccompNotification n)
    {
        if (!TryReadSockaddr(app, in n, n.Arg1, n.Arg2, checkId: true, out var requested))
        {
            return;
        }
        if (ProcFs.GetSocketInode((int)n.Pid, (int)n.Arg0, out var inode) != Errno.Success || !Seccomp.IsIdValid(app.Listener, n.Id))
        {
            Continue(app, n.Id);
            return;
        }

        if (app.IsNamespaced && TryBindInHost(app, in n, in requested))
        {
            return;
        }
        var ip = app.Record.Ip;
        if (ip is null || requested.IsAnyAddress || !requested.AddressEquals(ip))
        {
            // A UDP socket has no listen: its bind is what makes it a service, so ax performs it to learn the outcome.
            if (requested.Port != 0 && TryGetAppSocket(app, in n, (int)n.Arg0, requested.Family, out var socket, out var info))
            {
                using (socket)
                {
                    if (TryBindDatagram(app, in n, socket, in info, inode, in requested))
                    {
                        return;
                    }
                }
            }
            else if (requested.Port != 0)
            {
                return; // answered by TryGetAppSocket
            }
            // Remembered so the registry can show what the application asked for; the kernel binds.
            app.PendingBinds[inode] = requested;
            Continue(app, n.Id);
            return;
        }

        // `ax run --ip IP` and the application binds IP, which this host may not have: bind the wildcard of the
        // same family instead, and keep answering getsockname with IP so the application sees what it asked for.
        if (!TryGetAppSocket(app, in n, (int)n.Arg0, requested.Family, out var appSocket, out _))
        {
            return;
        }
        using (appSocket)
        {
            var wildcard = requested.ToWildcard();
            Span<byte> sockaddr = stackalloc byte[MaxSockaddr];
            var length = wildcard.Write(sockaddr);
            var error = Sockets.Bind(appSocket, sockaddr[..length]);
            if (error == Errno.Success)
            {
                app.PendingBinds[inode] = requested;
                var local = requested;
                if (requested.Port == 0 && Sockets.GetSockName(appSocket, sockaddr, out length) == Errno.Success
                    && Interop.InetEndpoint.TryParse(sockaddr[..length], out var bound, out _))
                {
                    local = requested.WithPort(bound.Port);
                }
                app.Sockets[inode] = new SocketOverride(default, HasPeer: false, local, HasLocal: true);
            }
            Seccomp.Respond(app.Listener, n.Id, error == Errno.Success ? 0 : -1, error);
        }
    }

    // listen(fd, backlog)
    private void HandleListen(InterceptedApp app, in SeccompNotification n)
    {
        var fd = (int)n.Arg0;
        if (!TryGetAppSocket(app, in n, fd, knownDomain: 0, out var appSocket, out var info))
        {
            return;
        }
        using (appSocket)
        {
            if (info.Type != SOCK_STREAM || info.Domain is not (AF_INET or AF_INET6))
            {
                Continue(app, n.Id);
                return;
            }

            // listen(2) on ax's dup acts on the application's socket (same open file description), and tells ax
            // the outcome, which CONTINUE would not.
            var error = Sockets.Listen(appSocket, (int)n.Arg1);
            if (error == Errno.Success && ProcFs.GetInode(appSocket, out var inode) == Errno.Success && !app.Listening.ContainsKey(inode))
            {
                Span<byte> sockaddr = stackalloc byte[MaxSockaddr];
                if (Sockets.GetSockName(appSocket, sockaddr, out var length) == Errno.Success
                    && Interop.InetEndpoint.TryParse(sockaddr[..length], out var bound, out _)
                    && !IsInnerListener(app, inode, bound.Port))
                {
                    var requested = app.PendingBinds.TryRemove(inode, out var asked) ? asked : bound;
                    var service = _registry.AddService(app.Record.Id, TransportProtocol.Tcp, requested, bound, inode);
                    app.Listening[inode] = service.Id;
                    Log.ServiceRegistered(_logger, app.Record.Id, service.Id, bound);
                    if (_telemetry.Events.IsActive)
                    {
                        _telemetry.Events.Publish(new Api.EventDto
                        {
                            Time = _telemetry.Now,
                            Type = "service-up",
                            App = app.Record.Id,
                            Service = service.Id,
                            Destination = bound.ToString(),
                        });
                    }
                }
            }
            Seccomp.Respond(app.Listener, n.Id, error == Errno.Success ? 0 : -1, error);
        }
    }

    /// <summary>
    /// Reads and parses a sockaddr argument. On any problem that the kernel would report itself (bad pointer, bad
    /// length, a family ax does not handle) it answers CONTINUE and returns false, so the application gets the
    /// kernel's own errno. With <paramref name="checkId"/>, also returns false when the notification is no longer valid.
    /// </summary>
    /// <param name="apiClients">For a connect: a Unix sockaddr naming the daemon's API socket records the caller there
    /// before the call goes on to the kernel.</param>
    private static bool TryReadSockaddr(InterceptedApp app, in SeccompNotification n, ulong address, ulong lengthArg, bool checkId,
        out Interop.InetEndpoint endpoint, ApiClientsUnderAx? apiClients = null)
    {
        endpoint = default;
        var length = (int)Math.Min(lengthArg, MaxSockaddr + 1);
        if (length is < 2 or > MaxSockaddr)
        {
            Continue(app, n.Id);
            return false;
        }

        Span<byte> sockaddr = stackalloc byte[MaxSockaddr];
        if (ProcessMemory.Read((int)n.Pid, address, sockaddr[..length], out var read) != Errno.Success || read != length)
        {
            Continue(app, n.Id);
            return false;
        }
        if (checkId && !Seccomp.IsIdValid(app.Listener, n.Id))
        {
            return false; // the thread is gone; nothing to answer, and what was read may be another process's
        }
        if (!Interop.InetEndpoint.TryParse(sockaddr[..length], out endpoint, out _))
        {
            if (apiClients is not null && apiClients.IsApiSocket((int)n.Pid, sockaddr[..length]))
            {
                apiClients.Record((int)n.Pid, app.Record.Id);
            }
            Continue(app, n.Id);
            return false;
        }
        return true;
    }

    /// <summary>
    /// Gets a dup of the application's fd (pidfd_getfd) and what ax needs to know about it. On failure, answers
    /// the notification (CONTINUE, or nothing when the thread is gone) and returns false.
    /// </summary>
    private bool TryGetAppSocket(InterceptedApp app, in SeccompNotification n, int fd, int knownDomain, out SafeFd appSocket, out AppSocketInfo info)
    {
        appSocket = null!;
        info = default;
        var tid = (int)n.Pid;

        // A pidfd cached for this tid, if any: when pidfd_getfd succeeds through it, its task is alive, and a live
        // task with this tid is the notifying thread (tids are unique among live tasks), so no id check is needed.
        // Any failure (the cached thread died, and perhaps its tid went to a newcomer) drops it and starts afresh.
        if (app.ThreadHandles.TryGetValue(tid, out var cached))
        {
            if (PidFd.GetFd(cached, fd, out var viaCache) == Errno.Success)
            {
                appSocket = viaCache!;
                info = Describe(appSocket, knownDomain) with { Fd = fd };
                return true;
            }
            if (app.ThreadHandles.TryRemove(new KeyValuePair<int, SafePidFdHandle>(tid, cached)))
            {
                cached.Dispose();
            }
        }

        // Notifications name threads; PIDFD_THREAD (Linux 6.9) opens a pidfd for any of them. Older kernels reject
        // the flag, and a plain pidfd_open still works for group leaders (every single-threaded program).
        var opened = PidFd.TryOpenThread(tid, out var pidFd);
        if (opened == Errno.EINVAL)
        {
            opened = PidFd.TryOpen(tid, out pidFd);
        }
        if (opened != Errno.Success)
        {
            if (Seccomp.IsIdValid(app.Listener, n.Id))
            {
                ContinueOrFailClosed(app, n.Id, opened);
            }
            return false;
        }

        // The pidfd pins the thread; the id check after opening it proves it is the notifying thread and not a
        // newcomer that reused the tid.
        if (!Seccomp.IsIdValid(app.Listener, n.Id))
        {
            pidFd!.Dispose();
            return false;
        }
        var error = PidFd.GetFd(pidFd!, fd, out var dup);
        if (!app.TryCacheThreadHandle(tid, pidFd!))
        {
            pidFd!.Dispose();
        }
        if (error != Errno.Success)
        {
            // EBADF and the like: the kernel will say the same to the application.
            ContinueOrFailClosed(app, n.Id, error);
            return false;
        }
        appSocket = dup!;
        info = Describe(appSocket, knownDomain) with { Fd = fd };
        return true;
    }

    /// <summary>
    /// A call ax could not take up: the kernel answers it (CONTINUE), unless the reason is the daemon's own lack of fds
    /// (EMFILE, ENFILE) or memory. Then the call was to be decided by ax, and letting it through would take it past the
    /// policy (to a capture ref's original destination, or around a deny): it fails with ENOBUFS, a shortage the
    /// application may retry, as the kernel reports one.
    /// </summary>
    private void ContinueOrFailClosed(InterceptedApp app, ulong id, Errno error)
    {
        if (error is Errno.EMFILE or Errno.ENFILE or Errno.ENOMEM)
        {
            Interlocked.Increment(ref app.Counters.Failed);
            Log.DaemonOutOfResources(_logger, app.Record.Id, error);
            Seccomp.Respond(app.Listener, id, -1, Errno.ENOBUFS);
            return;
        }
        Continue(app, id);
    }

    /// <param name="appSocket">The dup of the application's socket.</param>
    /// <param name="knownDomain">The socket's family when the call already tells it (a connect's sockaddr must be of
    /// the socket's own family, or the kernel refuses it), else 0 to ask the socket.</param>
    private static AppSocketInfo Describe(SafeFd appSocket, int knownDomain)
    {
        Sockets.GetIntOption(appSocket, SOL_SOCKET, SO_TYPE, out var type);
        var domain = knownDomain;
        if (domain == 0)
        {
            Sockets.GetIntOption(appSocket, SOL_SOCKET, SO_DOMAIN, out domain);
        }
        Sockets.GetStatusFlags(appSocket, out var statusFlags); // shared with the application's fd
        return new AppSocketInfo(type, domain, statusFlags);
    }

    /// <summary>
    /// True when ax's nonblocking connect of the application's socket has finished (either way);
    /// <paramref name="error"/> is its outcome.
    /// </summary>
    /// <remarks>
    /// A socket the application made blocking is asked with a second connect(2), which is what the kernel's own
    /// blocking connect does after its wait: it reports the outcome in one call (0, EALREADY while in progress, or
    /// the error) and moves the socket to connected, so that a later connect of the application's gets EISCONN as
    /// from the kernel. A nonblocking socket must stay "connecting" until the application asks, as it would
    /// after the kernel's EINPROGRESS, so it is asked with poll and SO_ERROR, which leave that state alone.
    /// </remarks>
    private static bool IsConnectDone(SafeFd socket, in Interop.InetEndpoint backend, in AppSocketInfo info, out Errno error)
    {
        Span<byte> sockaddr = stackalloc byte[MaxSockaddr];
        var length = backend.Write(sockaddr);
        return IsConnectDone(socket, sockaddr[..length], in info, out error);
    }

    /// <inheritdoc cref="IsConnectDone(SafeFd, in Interop.InetEndpoint, in AppSocketInfo, out Errno)"/>
    private static bool IsConnectDone(SafeFd socket, ReadOnlySpan<byte> backend, in AppSocketInfo info, out Errno error)
    {
        if (!info.NonBlocking)
        {
            error = Sockets.Connect(socket, backend);
            if (error == Errno.EALREADY)
            {
                return false;
            }
            // EISCONN: another connect of the same socket (the application's, from another thread) got there first.
            if (error == Errno.EISCONN)
            {
                error = Errno.Success;
            }
            return true;
        }

        error = Errno.Success;
        if (Sockets.Poll(socket, EpollEvents.Out, 0, out var ready) != Errno.Success || ready == EpollEvents.None)
        {
            return false;
        }
        if (Sockets.GetIntOption(socket, SOL_SOCKET, SO_ERROR, out var soError) == Errno.Success && soError != 0)
        {
            error = (Errno)soError;
        }
        return true;
    }

    /// <summary>Where ax connects for this decision, in the application socket's address family.</summary>
    internal static bool TryBackendFor(int domain, Interop.InetEndpoint chosen, ServiceRecord? service, out Interop.InetEndpoint backend)
    {
        backend = chosen;
        if (service is not null && service.Bound.IsAnyAddress)
        {
            // A wildcard listener is reachable on the loopback of whichever family the client speaks.
            backend = Interop.InetEndpoint.Loopback(domain, service.Bound.Port);
            return true;
        }
        if (backend.Family == domain)
        {
            return true;
        }
        if (domain == AF_INET6 && backend.Family == AF_INET)
        {
            backend = backend.MapToIPv6();
            return true;
        }
        return false; // an IPv4 socket cannot reach an IPv6-only backend
    }

    /// <summary>What ax learned about the application's socket, and its number in the application (for ADDFD).</summary>
    internal readonly record struct AppSocketInfo(int Type, int Domain, int StatusFlags, int Fd = -1)
    {
        public bool NonBlocking => (StatusFlags & O_NONBLOCK) != 0;
    }
}
