using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Istio.AppSwitch.Dataplane.Continuity;
using Istio.AppSwitch.Dataplane.Mesh;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Dataplane.Registry;
using Istio.AppSwitch.Interop;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>Settings of the interception side of the daemon.</summary>
public sealed record InterceptionOptions
{
    /// <summary>Where <c>ax run</c> hands over its seccomp listener (see <see cref="LaunchProtocol"/>).</summary>
    public required string LaunchSocketPath { get; init; }

    /// <summary>The launch socket's file mode.</summary>
    public UnixFileMode LaunchSocketMode { get; init; } =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;

    /// <summary>How often state kept for closed sockets is dropped (see <see cref="SocketSweeper"/>).</summary>
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a launcher may take to send its request.</summary>
    public TimeSpan LaunchTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Where chained connections go, and which peers may send a PROXY header (docs/envoy-chaining.md).</summary>
    public ChainOptions Chain { get; init; } = ChainOptions.None;

    /// <summary>
    /// How notifications are received: a thread per application that waits in SECCOMP_IOCTL_NOTIF_RECV with the
    /// listener in synchronous wake-up mode, or the shared reactor (epoll, then the ioctl). See docs/interception.md.
    /// </summary>
    public NotificationReceiving Receiving { get; init; } = NotificationReceiving.ThreadPerApp;

    /// <summary>
    /// Whether a connect to a service of another application under this daemon is switched to a Unix socket pair
    /// (docs/unix-switch.md); <c>ax daemon --no-unix</c> turns it off.
    /// </summary>
    public bool UnixSwitch { get; init; } = true;

    /// <summary>
    /// The daemon's API socket paths: an application's connects to them are recorded (<see cref="ApiClientsUnderAx"/>) so
    /// that the API refuses it writes. Empty: none are watched.
    /// </summary>
    public IReadOnlyList<string> ApiSocketPaths { get; init; } = [];

    /// <summary>
    /// The keeper that holds the listeners while no daemon runs (docs/interception.md); null: none, and a stopped
    /// daemon's applications get <c>ENOSYS</c> from every trapped call.
    /// </summary>
    public KeeperClient? Keeper { get; init; }

    /// <summary>What the keeper held when this daemon started: the applications to adopt. Their fds are taken at start.</summary>
    public IReadOnlyList<KeeperFrame> Kept { get; init; } = [];
}

/// <summary>Where the daemon waits for an application's notifications.</summary>
public enum NotificationReceiving
{
    /// <summary>
    /// One thread per application waits in the receive ioctl itself, and the listener asks the kernel for a
    /// synchronous hand-off (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP): the trapped thread and the one that answers run
    /// back to back on one CPU. The fastest; costs a thread (a small stack) per application.
    /// </summary>
    ThreadPerApp,

    /// <summary>Every listener on the shared epoll reactor: no thread per application, a cross-CPU wake-up per call.</summary>
    Reactor,
}

/// <summary>
/// The interception side of <c>ax daemon</c>: accepts applications from <c>ax run</c>, answers their trapped
/// calls through <see cref="SyscallHandler"/>, and follows them until their process tree is gone.
/// </summary>
/// <remarks>
/// Each application's notifications are received by a thread of its own (or, with
/// <see cref="NotificationReceiving.Reactor"/>, by the shared reactor). The reactor thread watches every listener's
/// EPOLLHUP, reported once no task uses the filter any more, which is when the app is removed, and every pidfd. The pidfd of the launched process becomes readable when that process exits; its services go at
/// once, while descendants that still hold the filter keep the app alive.
/// </remarks>
public sealed partial class InterceptionService : IHostedService, IDisposable
{
    /// <summary>The first read of a launch request: enough for the request of a typical command line.</summary>
    private const int InitialLaunchBufferBytes = 2048;

    private readonly InterceptionOptions _options;
    private readonly ServiceRegistry _registry;
    private readonly ILogger<InterceptionService> _logger;
    private readonly ConcurrentDictionary<string, InterceptedApp> _apps = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly EpollReactor _reactor;
    private readonly SyscallHandler _handler;
    private Socket? _launchSocket;
    private Task? _acceptLoop;
    private Task? _sweepLoop;
    private Task? _heldLoop;
    private readonly ulong _ownNetworkNamespace;
    private int _disposed;
    private readonly Observability.DataplaneTelemetry _telemetry;
    private readonly Delegation.DelegationHub? _delegation;

    /// <summary>Creates the service; nothing runs until <see cref="StartAsync"/>. Without <paramref name="mesh"/>, no inbound policy is enforced.</summary>
    public InterceptionService(InterceptionOptions options, ServiceRegistry registry, RoutingTable routing, HeldConnects held,
        ILogger<InterceptionService> logger, MeshStore? mesh = null, Delegation.DelegationHub? delegation = null,
        Observability.DataplaneTelemetry? telemetry = null)
    {
        _telemetry = telemetry ?? new Observability.DataplaneTelemetry();
        _options = options;
        _registry = registry;
        _logger = logger;
        _reactor = new EpollReactor("ax-seccomp");
        _delegation = delegation;
        // The launch socket too: a launcher that runs under ax is known as such, and may not launch a sidecar.
        ApiClients = new ApiClientsUnderAx([.. options.ApiSocketPaths, options.LaunchSocketPath]);
        _handler = new SyscallHandler(routing, registry, _reactor, held, logger, mesh, options.Chain, delegation,
            options.UnixSwitch ? id => _apps.GetValueOrDefault(id) : null, options.ApiSocketPaths.Count > 0 ? ApiClients : null, _telemetry);
        NetworkNamespace.GetCurrentInode(out _ownNetworkNamespace);
    }

    /// <summary>The processes under ax that connected to the daemon's API socket (see <see cref="InterceptionOptions.ApiSocketPaths"/>).</summary>
    public ApiClientsUnderAx ApiClients { get; }

    /// <summary>The number of applications under ax right now.</summary>
    public int ApplicationCount => _apps.Count;

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var path = _options.LaunchSocketPath;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        RemoveStaleSocket(path);
        if (Keeper is not null)
        {
            ThreadInterrupt.Install();
            StartKeeping();
            Adopt(_options.Kept);
        }

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            File.SetUnixFileMode(path, _options.LaunchSocketMode);
            socket.Listen(128);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        _launchSocket = socket;
        _acceptLoop = AcceptLoopAsync(socket, _stopping.Token);
        _sweepLoop = SweepLoopAsync(_stopping.Token);
        _heldLoop = Task.Run(() => _handler.RunHeldConnectsAsync(_stopping.Token), CancellationToken.None);
        Log.Started(_logger, path);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Keeper is not null)
        {
            Suspend();
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        _launchSocket?.Dispose();
        try
        {
            await Task.WhenAll(_acceptLoop ?? Task.CompletedTask, _sweepLoop ?? Task.CompletedTask, _heldLoop ?? Task.CompletedTask,
            _servicesLoop ?? Task.CompletedTask).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        try
        {
            File.Delete(_options.LaunchSocketPath);
        }
        catch (IOException)
        {
        }

        // Without a keeper, applications still running lose their interception now: their trapped calls fail with
        // ENOSYS from here on. With one, they wait in the kernel for the next daemon (docs/interception.md).
        Keeper?.Flush(TimeSpan.FromSeconds(5));
        foreach (var app in _apps.Values)
        {
            RemoveApp(app, Keeper is null ? "daemon stopping" : "daemon stopping; the keeper holds it for the next daemon");
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        // The container disposes it twice: once as the singleton, once as the hosted service's factory result.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _stopping.Cancel();
        _launchSocket?.Dispose();
        foreach (var app in _apps.Values)
        {
            app.Dispose();
        }
        _reactor.Dispose();
        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync(Socket listener, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket connection;
            try
            {
                connection = await listener.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException && stopping.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException ex)
            {
                Log.AcceptFailed(_logger, ex);
                continue;
            }
            _ = HandleLaunchAsync(connection, stopping);
        }
    }

    private async Task HandleLaunchAsync(Socket connection, CancellationToken stopping)
    {
        using (connection)
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping))
        {
            timeout.CancelAfter(_options.LaunchTimeout);
            SafeSeccompListenerHandle? listener = null;
            LaunchResponse response;
            try
            {
                (var request, listener, var pid, var uid) = await ReceiveLaunchAsync(connection, timeout.Token).ConfigureAwait(false);
                response = Admit(request, listener, pid, uid);
                if (response.AppId is not null)
                {
                    listener = null; // owned by the app now
                }
            }
            catch (LaunchRejectedException ex)
            {
                response = new LaunchResponse { Error = ex.Message };
            }
            catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
            {
                response = new LaunchResponse { Error = "the launch request did not arrive in time" };
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                listener?.Dispose();
                return; // the launcher went away; it does not start the application without an answer
            }
            finally
            {
                listener?.Dispose();
            }

            if (response.Error is not null)
            {
                Log.LaunchRejected(_logger, response.Error);
            }
            try
            {
                await connection.SendAsync(LaunchProtocol.Encode(response), stopping).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                // The launcher is gone and will not exec; its listener closes with it and the app's filter users
                // drop to zero, so the app is removed through EPOLLHUP.
            }
        }
    }

    private static async Task<(LaunchRequest Request, SafeSeccompListenerHandle Listener, int Pid, uint Uid)> ReceiveLaunchAsync(
        Socket connection, CancellationToken cancellationToken)
    {
        if (Sockets.GetPeerCredentials(connection.SafeHandle, out var pid, out var uid, out _) != Errno.Success || pid <= 0)
        {
            throw new LaunchRejectedException("cannot identify the launching process (SO_PEERCRED)");
        }

        // Sized for a typical request (a few hundred bytes), and replaced by one of the exact size when the length
        // prefix says more is coming: a buffer of MaxMessageBytes per launch made 100 launches allocate 6.4 MB, which
        // the GC then kept committed.
        var buffer = new byte[InitialLaunchBufferBytes];
        var fds = new int[4];
        var received = 0;
        var fdCount = 0;
        // The fd travels with the first bytes, so the first read must be a recvmsg that asks for it. The zero-byte
        // receive waits for data without consuming any.
        while (received == 0)
        {
            await connection.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            var error = Sockets.ReceiveWithFds(connection.SafeHandle, buffer, fds, out received, out fdCount);
            if (error == Errno.EAGAIN)
            {
                continue;
            }
            if (error != Errno.Success || received == 0)
            {
                CloseAll(fds.AsSpan(0, fdCount));
                throw new LaunchRejectedException(error == Errno.Success ? "the launcher closed the connection" : $"receiving the listener failed: {error}");
            }
        }

        if (fdCount != 1)
        {
            CloseAll(fds.AsSpan(0, fdCount));
            throw new LaunchRejectedException($"expected exactly one seccomp listener fd, got {fdCount}");
        }
        var listener = SafeSeccompListenerHandle.FromOwned(fds[0]);
        try
        {
            while (received < 4)
            {
                received += await ReceiveSomeAsync(connection, buffer.AsMemory(received, 4 - received), cancellationToken).ConfigureAwait(false);
            }
            var length = LaunchProtocol.ReadLength(buffer);
            if (length < 0)
            {
                throw new LaunchRejectedException("the launch request has an invalid length");
            }
            if (4 + length > buffer.Length)
            {
                var whole = new byte[4 + length];
                buffer.AsSpan(0, received).CopyTo(whole);
                buffer = whole;
            }
            while (received < 4 + length)
            {
                received += await ReceiveSomeAsync(connection, buffer.AsMemory(received, 4 + length - received), cancellationToken).ConfigureAwait(false);
            }
            var request = LaunchProtocol.DecodeRequest(buffer.AsMemory(4, length))
                ?? throw new LaunchRejectedException("the launch request is not a valid launch request");
            return (request, listener, pid, uid);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    private static async Task<int> ReceiveSomeAsync(Socket connection, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var n = await connection.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        return n > 0 ? n : throw new LaunchRejectedException("the launcher closed the connection mid-request");
    }

    private static void CloseAll(ReadOnlySpan<int> fds)
    {
        foreach (var fd in fds)
        {
            SafeFd.FromOwned(fd).Dispose();
        }
    }

    /// <summary>Registers the application and starts following it. Returns the response for the launcher.</summary>
    private LaunchResponse Admit(LaunchRequest request, SafeSeccompListenerHandle listener, int pid, uint uid)
    {
        if (request.Version != 1)
        {
            throw new LaunchRejectedException($"launch protocol version {request.Version} is not supported (this daemon speaks 1)");
        }
        IPAddress? ip = null;
        if (request.Ip is not null && !IPAddress.TryParse(request.Ip, out ip))
        {
            throw new LaunchRejectedException($"invalid --ip \"{request.Ip}\": not an IPv4 or IPv6 address");
        }

        RequireAccess(pid, uid);
        if (request.Sidecar is not null)
        {
            var refusal = _delegation is null
                ? "--sidecar refused: this daemon takes no delegation sidecars"
                : _delegation.Roles.CheckLaunch(request.Sidecar, uid, pid, ApiClients.ApplicationOf(pid));
            if (refusal is not null)
            {
                throw new LaunchRejectedException(refusal);
            }
        }

        AppRecord record;
        try
        {
            // A namespace that is the daemon's own is no namespace of the app's: nothing to do on its behalf.
            var netns = request.NetworkNamespace != 0 && request.NetworkNamespace != _ownNetworkNamespace ? request.NetworkNamespace : 0;
            record = _registry.RegisterApp(new AppRegistration(request.Name, request.Labels, ip, pid, uid, request.Command, netns, request.Ports));
        }
        catch (Exception ex) when (ex is ArgumentException or Configuration.ValidationException)
        {
            throw new LaunchRejectedException(ex.Message);
        }

        if (request.Sidecar is not null)
        {
            _delegation!.Roles.Grant(record.Id, request.Sidecar);
        }
        PidFd.TryOpen(pid, out var process);
        ProcFs.TryGetStartTime(pid, out var startTime);
        var app = Follow(record, listener, process, startTime, request.Labels);
        KeepApp(app);
        Log.AppStarted(_logger, record.Id, record.Name, pid, record.Labels.ToString(), string.Join(' ', request.Command));
        return new LaunchResponse { AppId = record.Id };
    }

    /// <summary>Starts following an application: its receiver, its listener's HUP and its launched process's exit.</summary>
    private InterceptedApp Follow(AppRecord record, SafeSeccompListenerHandle listener, SafePidFdHandle? process, ulong startTime,
        IReadOnlyDictionary<string, string>? launchLabels = null)
    {
        var app = new InterceptedApp(record, listener, process) { StartTime = startTime, LaunchLabels = launchLabels ?? UserLabels(record) };
        _apps[record.Id] = app;
        IDisposable listenerRegistration;
        if (_options.Receiving == NotificationReceiving.ThreadPerApp)
        {
            // The reactor keeps only the listener's HUP (epoll always reports it): the end of the process tree.
            Seccomp.SetSyncWakeUp(listener); // EINVAL before Linux 6.6: the thread still saves the epoll hop

            listenerRegistration = _reactor.Register(listener, EpollEvents.None, OnListenerEvent, app);
            app.StartReceiver(ReceiveLoop);
        }
        else
        {
            listenerRegistration = _reactor.Register(listener, EpollEvents.In, OnListenerEvent, app);
        }
        var exitRegistration = process is null ? null : _reactor.Register(process, EpollEvents.In, OnRootExited, app);
        app.Attach(listenerRegistration, exitRegistration);
        return app;
    }

    private static Dictionary<string, string> UserLabels(AppRecord record)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in record.Labels)
        {
            if (key is not (Labels.UserKey or Labels.HostKey or Labels.AppKey))
            {
                labels[key] = value;
            }
        }
        return labels;
    }

    /// <summary>
    /// Refuses a launcher this daemon has no ptrace access to (another uid, and the daemon without
    /// <c>CAP_SYS_PTRACE</c>): it could read none of the application's sockaddrs and take none of its sockets, so every
    /// trapped call would go on to the kernel untouched, and the application would run as if ax were not there.
    /// </summary>
    private static void RequireAccess(int pid, uint uid)
    {
        if (PidFd.TryOpen(pid, out var probe) != Errno.Success)
        {
            return; // gone already: nothing will be trapped
        }
        using (probe)
        {
            var access = PidFd.CheckAccess(probe!);
            if (access is Errno.EPERM or Errno.EACCES)
            {
                var daemonUid = CurrentProcess.GetEffectiveUid();
                throw new LaunchRejectedException(
                    $"this ax daemon (uid {daemonUid}) has no ptrace access to pid {pid} (uid {uid}), so it could neither read the application's "
                    + $"socket addresses (process_vm_readv) nor take its sockets (pidfd_getfd: {access}); run the application as uid {daemonUid}, "
                    + "or the daemon as root or with CAP_SYS_PTRACE");
            }
        }
    }

    // Reactor thread. A pending notification comes first: HUP is only acted on once nothing is left to answer.
    private void OnListenerEvent(EpollEvents events, object? state)
    {
        var app = (InterceptedApp)state!;
        if ((events & EpollEvents.In) != 0)
        {
            if (Seccomp.Receive(app.Listener, out var notification) == Errno.Success)
            {
                _handler.Handle(app, in notification);
            }
            return;
        }
        if ((events & (EpollEvents.Hup | EpollEvents.Err)) != 0)
        {
            RemoveApp(app, "its process tree has exited");
        }
    }

    /// <summary>
    /// An application's own receiver thread: waits in the receive ioctl and answers each notification in turn, so
    /// the app's calls are handled in order, as on the reactor, while other apps' threads run beside it. Handlers
    /// never block, so one call never holds up the next beyond its own handling.
    /// </summary>
    private void ReceiveLoop(InterceptedApp app)
    {
        SyscallHandler.MarkNotificationThread();
        try
        {
            while (!app.IsDisposed && !app.ReceiverStopping)
            {
                var error = Seccomp.Receive(app.Listener, out var notification, retryInterrupted: false);
                if (error == Errno.Success)
                {
                    _handler.Handle(app, in notification);
                }
                else if (error == Errno.EINTR)
                {
                    if (app.ReceiverStopping)
                    {
                        return; // the daemon stops and the keeper keeps the listener: the next daemon answers
                    }
                }
                else if (error != Errno.ENOENT || IsOrphaned(app.Listener))
                {
                    // Orphaned: no task uses the filter any more, and the receive ioctl answers ENOENT at once from
                    // now on; the reactor sees the HUP and removes the app. Otherwise the listener was closed.
                    return;
                }
            }
        }
        catch (ObjectDisposedException)
        {
            // The app was removed (the daemon is stopping) while this thread waited.
        }
    }

    private static bool IsOrphaned(SafeSeccompListenerHandle listener) =>
        Sockets.Poll(listener, EpollEvents.In, 0, out var ready) != Errno.Success || (ready & (EpollEvents.Hup | EpollEvents.Err)) != 0;

    // Reactor thread: the launched process exited. A pidfd stays readable, so the registration goes at once.
    private void OnRootExited(EpollEvents events, object? state)
    {
        var app = (InterceptedApp)state!;
        if (app.RootExited)
        {
            return;
        }
        app.RootExited = true;
        app.DetachExit();
        Log.RootExited(_logger, app.Record.Id);
        _ = Task.Run(() => Sweep(SocketSweeper.LiveSocketInodes(AnyDelegated())));
    }

    /// <summary>Whether some app has had a Unix socket put in place of a TCP one (delegated or switched): then those have state to keep.</summary>
    private bool AnyDelegated() => _apps.Values.Any(a => Interlocked.Read(ref a.UnixEnds) > 0 || Interlocked.Read(ref a.Counters.Delegated) > 0);

    private void RemoveApp(InterceptedApp app, string reason)
    {
        if (!_apps.TryRemove(app.Record.Id, out _))
        {
            return;
        }
        _registry.RemoveApp(app.Record.Id);
        ApiClients.Forget(app.Record.Id);
        ForgetApp(app);
        _delegation?.Roles.Revoke(app.Record.Id);
        foreach (var inode in app.Sockets.Keys)
        {
            // The app's sockets closed with it: their mesh connection slots are free.
            if (app.Sockets.TryRemove(inode, out var closed))
            {
                closed.Lease.Release();
            }
        }
        app.Dispose();
        Log.AppRemoved(_logger, app.Record.Id, reason);
    }

    private async Task SweepLoopAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(_options.SweepInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
            {
                if (_apps.Values.Any(a => !a.Sockets.IsEmpty || !a.PendingBinds.IsEmpty || !a.Listening.IsEmpty || !a.DatagramPeers.IsEmpty
                    || !a.HostSockets.IsEmpty || !a.SwitchListeners.IsEmpty))
                {
                    Sweep(SocketSweeper.LiveSocketInodes(AnyDelegated()));
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Drops what ax kept about sockets that no longer exist, and the services of closed listeners.</summary>
    internal void Sweep(HashSet<ulong> live)
    {
        // A listener registered after `live` was read looks closed to it (a sweep triggered by another app's exit
        // raced a listen, and the new service vanished): a service is dropped only if a second read, taken after its
        // entry was seen, confirms it. listen(2) has returned before the entry exists, so that read lists it.
        HashSet<ulong>? confirmed = null;
        // The same holds for per-socket state: a socket ax connected (or switched) after `live` was read is recorded
        // after it, and is not in it (an unconnected TCP socket is in no /proc/net table). Its entry goes only if a
        // second read, taken after every candidate was seen, confirms the socket is gone; else its getpeername would
        // be the kernel's answer (the backend), not the VIP.
        List<(InterceptedApp App, ulong Inode)>? candidates = null;
        foreach (var app in _apps.Values)
        {
            foreach (var inode in app.Sockets.Keys)
            {
                AddCandidate(ref candidates, app, inode, live);
            }
            foreach (var inode in app.DatagramPeers.Keys)
            {
                AddCandidate(ref candidates, app, inode, live);
            }
            foreach (var inode in app.PendingBinds.Keys)
            {
                AddCandidate(ref candidates, app, inode, live);
            }
            foreach (var inode in app.HostSockets.Keys)
            {
                AddCandidate(ref candidates, app, inode, live);
            }
        }
        if (candidates is not null)
        {
            confirmed = SocketSweeper.LiveSocketInodes(AnyDelegated());
            foreach (var (app, inode) in candidates)
            {
                if (confirmed.Contains(inode))
                {
                    continue;
                }
                if (app.Sockets.TryRemove(inode, out var closed))
                {
                    closed.Lease.Release();
                }
                app.DatagramPeers.TryRemove(inode, out _);
                app.PendingBinds.TryRemove(inode, out _);
                app.HostSockets.TryRemove(inode, out _);
            }
        }
        foreach (var app in _apps.Values)
        {
            if (Volatile.Read(ref app.StashedAccepts) != 0)
            {
                app.DropStashed(live);
            }
            foreach (var inode in app.SwitchListeners.Keys)
            {
                // The listener closed: the server ends still queued for it are closed, and their clients read EOF.
                if (!live.Contains(inode) && !(confirmed ??= SocketSweeper.LiveSocketInodes(AnyDelegated())).Contains(inode)
                    && app.SwitchListeners.TryRemove(inode, out var switched))
                {
                    switched.Close();
                }
            }
            foreach (var (inode, serviceId) in app.Listening)
            {
                if (live.Contains(inode) || (confirmed ??= SocketSweeper.LiveSocketInodes(AnyDelegated())).Contains(inode))
                {
                    continue;
                }
                if (app.Listening.TryRemove(inode, out _))
                {
                    _registry.RemoveService(app.Record.Id, inode);
                    Log.ServiceClosed(_logger, app.Record.Id, serviceId);
                    if (_telemetry.Events.IsActive)
                    {
                        _telemetry.Events.Publish(new Api.EventDto { Time = _telemetry.Now, Type = "service-down", App = app.Record.Id, Service = serviceId });
                    }
                }
            }
        }
    }

    private static void AddCandidate(ref List<(InterceptedApp App, ulong Inode)>? candidates, InterceptedApp app, ulong inode, HashSet<ulong> live)
    {
        if (!live.Contains(inode))
        {
            (candidates ??= []).Add((app, inode));
        }
    }

    private static void RemoveStaleSocket(string path)
    {
        if (!File.Exists(path))
        {
            return;
        }
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException)
        {
            File.Delete(path); // nobody listens: left behind by a daemon that did not stop cleanly
            return;
        }
        throw new InvalidOperationException($"another ax daemon is already serving {path}");
    }
}

/// <summary>A launch that the daemon refuses; the message goes to the user of <c>ax run</c>.</summary>
internal sealed class LaunchRejectedException(string message) : Exception(message);
