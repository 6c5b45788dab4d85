using Istio.AppSwitch.Dataplane.Delegation;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Delegation;
using Istio.AppSwitch.Interop;
using Istio.AppSwitch.ProxyProtocol;
using Microsoft.Extensions.Logging;
using static Istio.AppSwitch.Interop.SocketConstants;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>
/// Socket delegation (docs/delegation.md): a connection that needs a proxy goes to an ax-aware sidecar as live
/// sockets, not as a TCP connection to it. The application gets one end of a socketpair; the sidecar gets the other
/// end (and, inbound, the client's TCP socket) with a PROXY v2 header as metadata, and moves the bytes itself.
/// </summary>
/// <remarks>
/// The application's end is a Unix socket: getpeername and getsockname on it are answered by ax with the TCP
/// addresses the application expects (the VIP it asked for; the client it accepted), and TCP-level socket options
/// (TCP_NODELAY, keepalive) by <see cref="TcpOptionAnswers"/>, as for a switched connection (docs/unix-switch.md).
/// </remarks>
internal sealed partial class SyscallHandler
{
    /// <summary>
    /// Whether <paramref name="app"/> is the registered delegation sidecar (it runs under ax): its own connects are
    /// never delegated or chained, or they would come back to it.
    /// </summary>
    private bool IsDelegationSidecar(InterceptedApp app) => _delegation is { } hub && hub.IsSidecarProcess(app.Record.Pid);

    /// <summary>
    /// Delegates a chained connect to the outbound sidecar. True when the call is answered (installed, or failed
    /// with an errno); false when there was no sidecar after all (it went away), and the caller chooses another way.
    /// </summary>
    private bool TryDelegateOutbound(InterceptedApp app, ulong id, SafeFd appSocket, in AppSocketInfo info, in InetEndpoint destination,
        ServiceRef reference, DelegationHub hub)
    {
        if (UnixRights.StreamPair(nonBlocking: false, out var appEnd, out var sidecarEnd) != Errno.Success)
        {
            Seccomp.Respond(app.Listener, id, -1, Errno.ENOBUFS);
            return true;
        }
        using (appEnd)
        using (sidecarEnd)
        {
            Span<byte> sockaddr = stackalloc byte[MaxSockaddr];
            var source = Sockets.GetSockName(appSocket, sockaddr, out var length) == Errno.Success
                && InetEndpoint.TryParse(sockaddr[..length], out var bound, out _) ? bound : InetEndpoint.Loopback(info.Domain, 0);
            Span<byte> header = stackalloc byte[MaxProxyHeader];
            var written = BuildProxyHeader(header, app, in source, in destination, reference);
            var result = hub.TryDelegate(DelegationKind.Outbound, header[..written], sidecarEnd!, null);
            if (result == DelegationResult.NoSidecar)
            {
                return false;
            }
            if (result != DelegationResult.Sent)
            {
                Interlocked.Increment(ref app.Counters.Refused);
                _telemetry.Connect(app.Record, Observability.ConnectMode.Chain, Observability.ConnectOutcome.Refused, reference.Name, in destination, default);
                Log.DelegationFailed(_logger, app.Record.Id, destination, result);
                Seccomp.Respond(app.Listener, id, -1, Errno.ECONNREFUSED);
                return true;
            }
            // The application's socket is replaced by its end of the pair, at the same fd number, with its O_NONBLOCK.
            Sockets.SetStatusFlags(appEnd!, info.StatusFlags & O_NONBLOCK);
            if (ProcFs.GetInode(appEnd!, out var inode) == Errno.Success)
            {
                app.Sockets[inode] = new SocketOverride(destination, HasPeer: true, source, HasLocal: true, default, new TcpOptionStore());
                Interlocked.Increment(ref app.UnixEnds);
            }
            var error = Seccomp.AddFd(app.Listener, id, appEnd!, info.Fd, setFd: true, send: false, closeOnExec: true, out _);
            if (error != Errno.Success)
            {
                // ENOENT: the call went away (a signal); the sidecar sees its end close and drops the connection.
                Seccomp.Respond(app.Listener, id, -1, error == Errno.ENOENT ? Errno.EINTR : error);
                return true;
            }
            Interlocked.Increment(ref app.Counters.Delegated);
            _telemetry.Connect(app.Record, Observability.ConnectMode.Chain, Observability.ConnectOutcome.Allowed, reference.Name, in destination, default);
            Log.Delegated(_logger, app.Record.Id, "outbound", destination);
            Seccomp.Respond(app.Listener, id, 0, Errno.Success);
            return true;
        }
    }

    /// <summary>
    /// Delegates an accepted connection of a chained port to the inbound sidecar: the application's accept returns
    /// its end of a socketpair, and the sidecar gets the other end with the client's TCP socket. True when the call
    /// has its answer (or the connection waits in the stash); false when no sidecar took it.
    /// </summary>
    private bool TryDelegateInbound(in AcceptCall call, SafeFd accepted, ReadOnlySpan<byte> peerAddress, ReadOnlySpan<ProxyTlv> peeked, out bool kept)
    {
        kept = false;
        var app = call.App;
        if (_delegation is not { HasInbound: true } hub
            || !InetEndpoint.TryParse(peerAddress, out var peer, out _))
        {
            return false;
        }
        Span<byte> sockaddr = stackalloc byte[MaxSockaddr];
        if (Sockets.GetSockName(accepted, sockaddr, out var length) != Errno.Success
            || !InetEndpoint.TryParse(sockaddr[..Math.Min(length, MaxSockaddr)], out var local, out _)
            || UnixRights.StreamPair(nonBlocking: false, out var appEnd, out var sidecarEnd) != Errno.Success)
        {
            return false;
        }
        using (sidecarEnd)
        {
            Span<byte> header = stackalloc byte[MaxProxyHeader + MaxPeekedTlvBytes + 64];
            var written = BuildProxyHeader(header, null, in peer, in local, null, peeked);
            if (hub.TryDelegate(DelegationKind.Inbound, header[..written], sidecarEnd!, accepted) != DelegationResult.Sent)
            {
                appEnd!.Dispose();
                return false;
            }
            if ((call.Flags & SOCK_NONBLOCK) != 0)
            {
                Sockets.SetStatusFlags(appEnd!, O_NONBLOCK);
            }
            if (ProcFs.GetInode(appEnd!, out var inode) == Errno.Success)
            {
                app.Sockets[inode] = new SocketOverride(peer, HasPeer: true, local, HasLocal: true, default, new TcpOptionStore());
                Interlocked.Increment(ref app.UnixEnds);
            }
            Interlocked.Increment(ref app.Counters.Delegated);
            Log.Delegated(_logger, app.Record.Id, "inbound", peer);
            var stashed = Install(in call, appEnd!, peerAddress);
            if (!stashed)
            {
                appEnd!.Dispose();
            }
            return true;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1122, LogLevel.Debug, "{AppId}: {Direction} connection ({Address}) delegated to the sidecar")]
        public static partial void Delegated(ILogger logger, string appId, string direction, InetEndpoint address);

        [LoggerMessage(1123, LogLevel.Warning, "{AppId}: connect to {Destination} refused: the delegation sidecar did not take it ({Result})")]
        public static partial void DelegationFailed(ILogger logger, string appId, InetEndpoint destination, DelegationResult result);
    }
}
