using System.Collections.Concurrent;
using Istio.AppSwitch.Dataplane.Registry;
using Istio.AppSwitch.Interop;
using Istio.AppSwitch.ProxyProtocol;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>
/// One application under ax: the process tree that shares one seccomp listener. Forked children and exec'd
/// programs inherit the filter, so they notify on the same listener and are the same app.
/// </summary>
/// <remarks>
/// The socket tables are keyed by socket inode, not by fd: fd numbers are per fd table (a forked child has its
/// own), but the inode names the socket itself, across <c>dup</c>, <c>fork</c> and <c>SCM_RIGHTS</c>. ax does not
/// see <c>close</c>, so entries are pruned by <see cref="SocketSweeper"/> against the kernel's list of live sockets.
/// </remarks>
internal sealed class InterceptedApp : IDisposable
{
    private IDisposable? _listenerRegistration;
    private IDisposable? _exitRegistration;
    private int _disposed;

    public InterceptedApp(AppRecord record, SafeSeccompListenerHandle listener, SafePidFdHandle? process)
    {
        Record = record;
        Listener = listener;
        Process = process;
    }

    /// <summary>The registry's view of the app: id, name, labels.</summary>
    public AppRecord Record { get; }

    /// <summary>The seccomp listener: every trapped call of the app's process tree arrives here.</summary>
    public SafeSeccompListenerHandle Listener { get; }

    /// <summary>The pidfd of the launched process (the tree's root), readable when it exits; null if it was gone already.</summary>
    public SafePidFdHandle? Process { get; }

    /// <summary>Addresses ax answers for, instead of the kernel: by socket inode.</summary>
    public ConcurrentDictionary<ulong, SocketOverride> Sockets { get; } = new();

    /// <summary>What the app passed to <c>bind</c>, by socket inode, until <c>listen</c> registers the service.</summary>
    public ConcurrentDictionary<ulong, Interop.InetEndpoint> PendingBinds { get; } = new();

    /// <summary>UDP sockets that ax sent to a backend for a VIP, by inode: the reverse map of each (docs/udp.md).</summary>
    public ConcurrentDictionary<ulong, DatagramPeers> DatagramPeers { get; } = new();

    /// <summary>Listening sockets (and bound UDP sockets) registered as services, by inode.</summary>
    public ConcurrentDictionary<ulong, string> Listening { get; } = new();

    /// <summary>
    /// For an app in its own network namespace: the sockets ax made in the host's namespace and installed at the app's
    /// fds (SyscallHandler.Netns.cs), by inode. Such a socket is already where ax wants it, and it is a service when it
    /// listens. Pruned with <see cref="Sockets"/>, whose entry each of them has.
    /// </summary>
    public ConcurrentDictionary<ulong, byte> HostSockets { get; } = new();

    /// <summary>
    /// For an app in its own network namespace: the ports it listens on inside that namespace (unmapped), by listener
    /// inode. Loopback connects of the app to those ports stay in its namespace. Not swept (the daemon cannot see the
    /// namespace's socket table); a stale entry only keeps a loopback connect to a port that closed inside the namespace.
    /// </summary>
    public ConcurrentDictionary<ulong, ushort> InnerListeners { get; } = new();

    /// <summary>Whether the app runs in a network namespace other than the daemon's.</summary>
    public bool IsNamespaced => Record.NetworkNamespace != 0;

    /// <summary>
    /// pidfds of the app's threads, by tid, so that a thread's next trapped call skips pidfd_open. Bounded: each
    /// is an fd of the daemon, and threads come and go.
    /// </summary>
    public ConcurrentDictionary<int, SafePidFdHandle> ThreadHandles { get; } = new();

    /// <summary>
    /// Held by ax across the three nonblocking syscalls that accept on one of the app's blocking listeners (set
    /// O_NONBLOCK, accept4, restore), so that two of ax's accepts cannot undo each other's O_NONBLOCK.
    /// </summary>
    public Lock AcceptGate { get; } = new();

    /// <summary>
    /// Allowed connections that ax accepted for a call that went away before the install (a signal raced it), by
    /// listener inode: the listener's next accept gets them, as it would get them from the kernel's backlog.
    /// </summary>
    public ConcurrentDictionary<ulong, ConcurrentQueue<StashedAccept>> AcceptStash { get; } = new();

    /// <summary>How many connections <see cref="AcceptStash"/> holds: the accept path reads this, not the dictionary.</summary>
    public int StashedAccepts;

    /// <summary>
    /// The app's listeners that co-located clients were switched to over Unix sockets (docs/unix-switch.md), by listener
    /// inode. Empty for almost every app, so the accept path tests <see cref="ConcurrentDictionary{TKey, TValue}.IsEmpty"/> first.
    /// </summary>
    public ConcurrentDictionary<ulong, SwitchListener> SwitchListeners { get; } = new();

    /// <summary>
    /// How many Unix sockets ax installed in place of the app's TCP sockets (switched or delegated), ever: while zero, a
    /// TCP-level setsockopt or getsockopt is CONTINUEd without looking the socket up.
    /// </summary>
    public long UnixEnds;

    /// <summary>Closes the switch state of listeners that are gone (all of them when <paramref name="live"/> is null).</summary>
    public void DropSwitchListeners(HashSet<ulong>? live)
    {
        foreach (var inode in SwitchListeners.Keys)
        {
            if ((live is null || !live.Contains(inode)) && SwitchListeners.TryRemove(inode, out var listener))
            {
                listener.Close();
            }
        }
    }

    /// <summary>Closes the stashed connections of listeners that are gone (all of them when <paramref name="live"/> is null).</summary>
    public void DropStashed(HashSet<ulong>? live)
    {
        foreach (var inode in AcceptStash.Keys)
        {
            if ((live is null || !live.Contains(inode)) && AcceptStash.TryRemove(inode, out var queue))
            {
                while (queue.TryDequeue(out var stashed))
                {
                    Interlocked.Decrement(ref StashedAccepts);
                    stashed.Socket.Dispose();
                }
            }
        }
    }

    /// <summary>How many thread pidfds one app may keep open.</summary>
    public const int MaxThreadHandles = 64;

    /// <summary>Keeps <paramref name="handle"/> for <paramref name="tid"/>; false (and the caller disposes it) when full or taken.</summary>
    public bool TryCacheThreadHandle(int tid, SafePidFdHandle handle) =>
        !IsDisposed && ThreadHandles.Count < MaxThreadHandles && ThreadHandles.TryAdd(tid, handle);

    /// <summary>
    /// The TLVs of the PROXY headers ax writes for this app (its labels, and its identity when its labels name one),
    /// built on first use and then shared by every captured or chained connect. Labels too long for a header are
    /// left out rather than cut.
    /// </summary>
    public ProxyTlv[] ProxyTlvs => _proxyTlvs ??= BuildProxyTlvs(Record.Labels);

    private ProxyTlv[]? _proxyTlvs;

    private static ProxyTlv[] BuildProxyTlvs(Labels labels)
    {
        var tlvs = new List<ProxyTlv>(2);
        try
        {
            var tlv = AxTlvs.Labels(labels);
            if (tlv.EncodedLength <= 768)
            {
                tlvs.Add(tlv);
            }
        }
        catch (ArgumentException)
        {
        }
        if (labels.TryGetValue(SyscallHandler.NamespaceLabel, out var ns) && labels.TryGetValue(SyscallHandler.ServiceAccountLabel, out var sa))
        {
            try
            {
                tlvs.Add(AxTlvs.Identity(new AxIdentity(ns, sa)));
            }
            catch (ArgumentException)
            {
                // A label value with '/' names no identity.
            }
        }
        return [.. tlvs];
    }

    /// <summary>True once the launched process has exited (its descendants may live on).</summary>
    public bool RootExited { get; set; }

    /// <summary>The app's counters, shown by <c>ax get apps</c>.</summary>
    public ConnectCounters Counters => Record.Connects;

    /// <summary>Starts the app's own receiver thread (<see cref="NotificationReceiving.ThreadPerApp"/>).</summary>
    public void StartReceiver(Action<InterceptedApp> loop)
    {
        // Handlers use a few KB of stack (sockaddrs, PROXY headers): a small stack keeps a thread per app cheap.
        var thread = new Thread(() =>
        {
            Volatile.Write(ref _receiverThreadId, CurrentProcess.GetThreadId());
            loop(this);
        }, maxStackSize: 256 * 1024)
        {
            IsBackground = true,
            Name = "ax-notify " + Record.Id,
        };
        _receiver = thread;
        thread.UnsafeStart();
    }

    private Thread? _receiver;
    private int _receiverThreadId;
    private int _receiverStopping;

    /// <summary>The labels <c>ax run</c> gave, without the system labels: what a successor daemon registers the app with.</summary>
    public IReadOnlyDictionary<string, string> LaunchLabels { get; init; } = new Dictionary<string, string>();

    /// <summary>The launched process's start time (/proc/PID/stat), which tells it from a later process of the same pid.</summary>
    public ulong StartTime { get; init; }

    /// <summary>True once <see cref="StopReceiver"/> was called: the receiver returns at its next chance.</summary>
    public bool ReceiverStopping => Volatile.Read(ref _receiverStopping) != 0;

    /// <summary>
    /// Stops the app's receiver between two calls and waits for it, up to <paramref name="timeout"/>: the thread is
    /// signalled out of its wait (<see cref="ThreadInterrupt"/>), again and again, since a signal that lands before
    /// the thread enters the wait is lost. A call it took meanwhile is answered before it returns.
    /// </summary>
    public bool StopReceiver(TimeSpan timeout)
    {
        Volatile.Write(ref _receiverStopping, 1);
        Interlocked.Exchange(ref _listenerRegistration, null)?.Dispose(); // the reactor's way in, when it receives
        if (_receiver is not { } thread)
        {
            return true;
        }
        var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (true)
        {
            var tid = Volatile.Read(ref _receiverThreadId);
            if (tid != 0)
            {
                ThreadInterrupt.Interrupt(tid);
            }
            if (thread.Join(5))
            {
                return true;
            }
            if (Environment.TickCount64 > deadline)
            {
                return false;
            }
        }
    }

    public void Attach(IDisposable listenerRegistration, IDisposable? exitRegistration)
    {
        _listenerRegistration = listenerRegistration;
        _exitRegistration = exitRegistration;
    }

    /// <summary>Stops watching the launched process: a pidfd stays readable once it has exited.</summary>
    public void DetachExit() => Interlocked.Exchange(ref _exitRegistration, null)?.Dispose();

    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _listenerRegistration?.Dispose();
        DetachExit();
        // Closing the listener makes every later trapped call of the app fail with ENOSYS: only done once the
        // whole tree is gone, or when the daemon stops.
        Listener.Dispose();
        Process?.Dispose();
        foreach (var handle in ThreadHandles.Values)
        {
            handle.Dispose();
        }
        ThreadHandles.Clear();
        DropStashed(null);
        DropSwitchListeners(null);
    }
}

/// <summary>An allowed connection waiting for its listener's next accept, with the peer's sockaddr.</summary>
internal sealed record StashedAccept(SafeFd Socket, byte[] Peer);

/// <summary>The addresses ax reports for one socket in place of the kernel's.</summary>
/// <param name="Peer">What <c>getpeername</c> answers (the VIP the app asked for), when <paramref name="HasPeer"/>.</param>
/// <param name="Local">What <c>getsockname</c> answers (an <c>--ip</c> address the host lacks), when <paramref name="HasLocal"/>.</param>
/// <param name="Tcp">For a Unix socket ax put in place of a TCP one (switched or delegated): the TCP options the app set,
/// which ax answers; null for the app's own sockets.</param>
internal readonly record struct SocketOverride(Interop.InetEndpoint Peer, bool HasPeer, Interop.InetEndpoint Local, bool HasLocal,
    UpstreamLease Lease = default, TcpOptionStore? Tcp = null);
