using System.Buffers.Binary;
using Istio.AppSwitch.Dataplane.Registry;
using Istio.AppSwitch.Interop;
using Microsoft.Extensions.Logging;
using static Istio.AppSwitch.Interop.SocketConstants;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>
/// Network devirtualisation (docs/netns.md): an application that runs in its own network namespace
/// (<c>ax run --netns</c>, <c>--new-netns</c>) has its TCP connects and its mapped binds made in ax's (the host's)
/// namespace. ax makes a socket of the same kind in its own namespace, gives it the options that the application had
/// set, and installs it at the application's fd number (SECCOMP_ADDFD with SETFD); the connect or bind then acts on
/// it. No veth, bridge or overlay is in the path: the application's socket simply is a host socket.
/// </summary>
/// <remarks>
/// What stays in the namespace: UDP and every other non-TCP socket, binds of unmapped ports (and their listeners),
/// and loopback connects to a port the application listens on inside its namespace.
/// </remarks>
internal sealed partial class SyscallHandler
{
    /// <summary>
    /// The options of either family carried from the application's socket to the host socket that replaces it, when
    /// the application's value differs from a new socket's default (<see cref="OptionDefaults"/> adds the family's own
    /// and the buffer sizes). SO_RCVTIMEO, SO_SNDTIMEO and SO_LINGER are structs, copied as bytes like the rest.
    /// </summary>
    private static readonly (int Level, int Name)[] CopiedOptions =
    [
        (SOL_SOCKET, SO_REUSEADDR), (SOL_SOCKET, SO_REUSEPORT), (SOL_SOCKET, SO_KEEPALIVE), (SOL_SOCKET, SO_OOBINLINE),
        (SOL_SOCKET, SO_LINGER), (SOL_SOCKET, SO_RCVTIMEO), (SOL_SOCKET, SO_SNDTIMEO), (SOL_SOCKET, SO_PRIORITY),
        (SOL_SOCKET, SO_RCVLOWAT),
        (IPPROTO_TCP, TCP_NODELAY), (IPPROTO_TCP, TCP_KEEPIDLE), (IPPROTO_TCP, TCP_KEEPINTVL), (IPPROTO_TCP, TCP_KEEPCNT),
        (IPPROTO_TCP, TCP_USER_TIMEOUT), (IPPROTO_TCP, TCP_NOTSENT_LOWAT),
    ];

    /// <summary>
    /// Whether a connect of an app in its own namespace that no ref covers stays there: a loopback destination whose
    /// port the app listens on inside the namespace. Everything else is connected from the host's namespace.
    /// </summary>
    private static bool StaysInNamespace(InterceptedApp app, in Interop.InetEndpoint destination)
    {
        if (!destination.IsLoopback || app.InnerListeners.IsEmpty)
        {
            return false;
        }
        foreach (var (_, port) in app.InnerListeners)
        {
            if (port == destination.Port)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Replaces the application's socket at <paramref name="fd"/> with a new one in ax's namespace, with its options,
    /// its O_NONBLOCK and its local port if it had bound one, so that the caller's connect acts on the host socket.
    /// On success <paramref name="appSocket"/> is ax's handle of the new socket (the old dup is closed). On failure the
    /// call is answered and false returned.
    /// </summary>
    private bool TryMoveToHost(InterceptedApp app, in SeccompNotification n, int fd, ref SafeFd appSocket, in AppSocketInfo info)
    {
        if (ProcFs.GetInode(appSocket, out var oldInode) == Errno.Success && app.HostSockets.ContainsKey(oldInode))
        {
            return true; // made by ax already (a connect after a failed one, or a mapped listener's fd)
        }
        var error = CreateHostSocket(appSocket, in info, out var host);
        if (error == Errno.Success)
        {
            error = CopyLocalPort(appSocket, host!);
        }
        if (error == Errno.Success)
        {
            error = InstallHostSocket(app, in n, fd, host!);
        }
        if (error != Errno.Success)
        {
            host?.Dispose();
            Log.HostSocketFailed(_logger, app.Record.Id, "connect", error);
            Seccomp.Respond(app.Listener, n.Id, -1, error);
            return false;
        }
        appSocket.Dispose();
        appSocket = host!;
        Interlocked.Increment(ref app.Counters.Devirtualised);
        return true;
    }

    /// <summary>
    /// The bind of an app in its own namespace to a mapped port (<c>--ports HOST:APP</c>) on the wildcard or the
    /// loopback: binds HOST on a host socket of the same address, installs it at the app's fd, and answers
    /// getsockname with the APP port. False (nothing answered) when the bind is not mapped and the kernel binds it in
    /// the namespace.
    /// </summary>
    private bool TryBindInHost(InterceptedApp app, in SeccompNotification n, in Interop.InetEndpoint requested)
    {
        if (!(requested.IsAnyAddress || requested.IsLoopback) || !TryMapPort(app.Record, requested.Port, out var hostPort))
        {
            return false;
        }
        var fd = (int)n.Arg0;
        if (!TryGetAppSocket(app, in n, fd, requested.Family, out var appSocket, out var info))
        {
            return true;
        }
        SafeFd? host = null;
        try
        {
            if (info.Type != SOCK_STREAM || info.Domain is not (AF_INET or AF_INET6))
            {
                Continue(app, n.Id); // a UDP port stays in the namespace: UDP is not devirtualised
                return true;
            }
            var error = CreateHostSocket(appSocket, in info, out host);
            if (error == Errno.Success)
            {
                Span<byte> sockaddr = stackalloc byte[MaxSockaddr];
                var length = requested.WithPort(hostPort).Write(sockaddr);
                error = Sockets.Bind(host!, sockaddr[..length]);
            }
            ulong inode = 0;
            if (error == Errno.Success)
            {
                error = ProcFs.GetInode(host!, out inode);
            }
            if (error == Errno.Success)
            {
                // Recorded before the install: the app's next call (its listen) may come as soon as it is answered.
                app.HostSockets[inode] = 0;
                app.PendingBinds[inode] = requested;
                app.Sockets[inode] = new SocketOverride(default, HasPeer: false, requested, HasLocal: true);
                error = InstallHostSocket(app, in n, fd, host!);
                if (error != Errno.Success)
                {
                    app.HostSockets.TryRemove(inode, out _);
                    app.PendingBinds.TryRemove(inode, out _);
                    app.Sockets.TryRemove(inode, out _);
                }
            }
            if (error != Errno.Success)
            {
                Log.HostSocketFailed(_logger, app.Record.Id, "bind", error);
                Seccomp.Respond(app.Listener, n.Id, -1, error);
                return true;
            }
            Interlocked.Increment(ref app.Counters.Devirtualised);
            Log.BoundInHost(_logger, app.Record.Id, requested, hostPort);
            Seccomp.Respond(app.Listener, n.Id, 0, Errno.Success);
            return true;
        }
        finally
        {
            host?.Dispose();
            appSocket.Dispose();
        }
    }

    private static bool TryMapPort(AppRecord record, ushort appPort, out ushort hostPort)
    {
        foreach (var mapping in record.Ports)
        {
            if (mapping.App == appPort)
            {
                hostPort = (ushort)mapping.Host;
                return true;
            }
        }
        hostPort = 0;
        return false;
    }

    /// <summary>A socket of the app socket's domain, type and protocol in ax's namespace, with the app's options and status flags.</summary>
    private static Errno CreateHostSocket(SafeFd appSocket, in AppSocketInfo info, out SafeFd? host)
    {
        Sockets.GetIntOption(appSocket, SOL_SOCKET, SO_PROTOCOL, out var protocol);
        var error = Sockets.Create(info.Domain, info.Type, protocol, nonBlocking: false, closeOnExec: true, out host);
        if (error != Errno.Success)
        {
            return error;
        }
        CopyOptions(appSocket, host!, info.Domain);
        // O_NONBLOCK, and any other status flag the app set with F_SETFL (O_ASYNC...).
        Sockets.SetStatusFlags(host!, info.StatusFlags);
        return Errno.Success;
    }

    /// <summary>
    /// Copies the options that matter (<see cref="CopiedOptions"/>, IPV6_V6ONLY and the traffic class, the buffer sizes)
    /// from the app's socket to <paramref name="host"/> where they differ from a new socket's defaults. Best effort: an
    /// option the host's kernel refuses is left at its default, as a runtime that sets options best-effort would.
    /// </summary>
    private static void CopyOptions(SafeFd from, SafeFd host, int domain)
    {
        var defaults = OptionDefaults.For(domain);
        Span<byte> wanted = stackalloc byte[OptionDefaults.MaxOptionBytes];
        for (var i = 0; i < defaults.Options.Length; i++)
        {
            var (level, name) = defaults.Options[i];
            if (Sockets.GetSockOpt(from, level, name, wanted, out var length) != Errno.Success
                || defaults.IsDefault(i, wanted[..length]))
            {
                continue;
            }
            if (level == SOL_SOCKET && name is SO_RCVBUF or SO_SNDBUF)
            {
                // The kernel reports twice what was set (for its bookkeeping); setting a size turns autotuning off,
                // which is why only a size the app changed is copied.
                Sockets.SetIntOption(host, level, name, BinaryPrimitives.ReadInt32LittleEndian(wanted) / 2);
                continue;
            }
            Sockets.SetSockOpt(host, level, name, wanted[..length]);
        }
    }

    /// <summary>
    /// What a new TCP socket of the daemon's namespace has for each copied option, read once per address family from a
    /// throwaway socket: comparing with it costs the connect one getsockopt per option instead of two. A sysctl changed
    /// while the daemon runs (tcp_rmem) is not seen: an option then equal to the old default is left alone.
    /// </summary>
    private sealed class OptionDefaults
    {
        public const int MaxOptionBytes = 16;
        private static OptionDefaults? _inet;
        private static OptionDefaults? _inet6;
        private readonly byte[] _values;
        private readonly int[] _lengths;

        private OptionDefaults(int domain)
        {
            (int, int)[] own = domain == AF_INET6
                ? [(IPPROTO_IPV6, IPV6_V6ONLY), (IPPROTO_IPV6, IPV6_TCLASS)]
                : [(IPPROTO_IP, IP_TOS)];
            Options = [.. CopiedOptions, .. own, (SOL_SOCKET, SO_RCVBUF), (SOL_SOCKET, SO_SNDBUF)];
            _values = new byte[Options.Length * MaxOptionBytes];
            _lengths = new int[Options.Length];
            Array.Fill(_lengths, -1); // unknown: every value the app has is copied
            if (Sockets.Create(domain, SOCK_STREAM, 0, nonBlocking: false, closeOnExec: true, out var probe) != Errno.Success)
            {
                return;
            }
            using (probe)
            {
                for (var i = 0; i < Options.Length; i++)
                {
                    var (level, name) = Options[i];
                    if (Sockets.GetSockOpt(probe!, level, name, _values.AsSpan(i * MaxOptionBytes, MaxOptionBytes), out var length) == Errno.Success)
                    {
                        _lengths[i] = length;
                    }
                }
            }
        }

        public (int Level, int Name)[] Options { get; }

        /// <summary>Whether <paramref name="value"/> is option <paramref name="index"/>'s default.</summary>
        public bool IsDefault(int index, ReadOnlySpan<byte> value) =>
            _lengths[index] >= 0 && value.SequenceEqual(_values.AsSpan(index * MaxOptionBytes, _lengths[index]));

        public static OptionDefaults For(int domain) => domain == AF_INET6
            ? Volatile.Read(ref _inet6) ?? (Interlocked.CompareExchange(ref _inet6, new OptionDefaults(AF_INET6), null) ?? _inet6!)
            : Volatile.Read(ref _inet) ?? (Interlocked.CompareExchange(ref _inet, new OptionDefaults(AF_INET), null) ?? _inet!);
    }

    /// <summary>
    /// A socket the app bound before its connect (a source port) is bound the same way in the host's namespace. If that
    /// port is taken there, any port of the same address will do: the app's bound port came from its own namespace.
    /// </summary>
    private static Errno CopyLocalPort(SafeFd appSocket, SafeFd host)
    {
        Span<byte> sockaddr = stackalloc byte[MaxSockaddr];
        if (Sockets.GetSockName(appSocket, sockaddr, out var length) != Errno.Success
            || !Interop.InetEndpoint.TryParse(sockaddr[..Math.Min(length, MaxSockaddr)], out var bound, out _)
            || bound.Port == 0)
        {
            return Errno.Success;
        }
        length = bound.Write(sockaddr);
        var error = Sockets.Bind(host, sockaddr[..length]);
        if (error == Errno.EADDRINUSE)
        {
            length = bound.WithPort(0).Write(sockaddr);
            error = Sockets.Bind(host, sockaddr[..length]);
        }
        return error;
    }

    /// <summary>
    /// Installs <paramref name="host"/> at the app's <paramref name="fd"/>, closing what was there, with the fd's own
    /// close-on-exec flag (which belongs to the fd, not to the socket, so it is read from fdinfo).
    /// </summary>
    private static Errno InstallHostSocket(InterceptedApp app, in SeccompNotification n, int fd, SafeFd host)
    {
        var closeOnExec = ProcFs.GetFdInfoFlags((int)n.Pid, fd, out _, out var flag) != Errno.Success || flag;
        var error = Seccomp.AddFd(app.Listener, n.Id, host, fd, setFd: true, send: false, closeOnExec, out _);
        if (error == Errno.Success && ProcFs.GetInode(host, out var inode) == Errno.Success)
        {
            app.HostSockets[inode] = 0;
        }
        // ENOENT: the call went away (a signal) before the install; a restarted call is trapped again.
        return error == Errno.ENOENT ? Errno.EINTR : error;
    }

    /// <summary>After the listen of an app in its own namespace: whether it is a listener inside that namespace, which is no service.</summary>
    private static bool IsInnerListener(InterceptedApp app, ulong inode, ushort port)
    {
        if (!app.IsNamespaced || app.HostSockets.ContainsKey(inode))
        {
            return false;
        }
        app.InnerListeners[inode] = port;
        return true;
    }

    private static partial class Log
    {
        [LoggerMessage(1125, LogLevel.Debug, "{AppId}: bind of {Requested} made in the host's namespace on port {HostPort}")]
        public static partial void BoundInHost(ILogger logger, string appId, Interop.InetEndpoint requested, ushort hostPort);

        [LoggerMessage(1126, LogLevel.Debug, "{AppId}: the host socket for a {Call} could not be made: {Error}")]
        public static partial void HostSocketFailed(ILogger logger, string appId, string call, Errno error);
    }
}
