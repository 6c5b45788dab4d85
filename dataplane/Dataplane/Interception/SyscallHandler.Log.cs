using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Dataplane.Interception;

internal sealed partial class SyscallHandler
{
    /// <summary>Event ids 1100–1199. Only debug and trace here: this is the application's critical path.</summary>
    private static partial class Log
    {
        [LoggerMessage(1100, LogLevel.Debug, "{AppId}: connect to {Destination} redirected (ref {Ref})")]
        public static partial void Redirected(ILogger logger, string appId, Interop.InetEndpoint destination, string? @ref);

        [LoggerMessage(1101, LogLevel.Debug, "{AppId}: connect to {Destination} refused: ref {Ref} has no live backend")]
        public static partial void ConnectRefused(ILogger logger, string appId, Interop.InetEndpoint destination, string? @ref);

        [LoggerMessage(1102, LogLevel.Debug, "{AppId}: redirected connect to {Destination} failed: {Error}")]
        public static partial void BackendConnectFailed(ILogger logger, string appId, Interop.InetEndpoint destination, Interop.Errno error);

        [LoggerMessage(1103, LogLevel.Debug, "{AppId}: service {ServiceId} listening on {Bound}")]
        public static partial void ServiceRegistered(ILogger logger, string appId, string serviceId, Interop.InetEndpoint bound);

        [LoggerMessage(1105, LogLevel.Debug, "{AppId}: connect to {Destination} held: ref {Ref} has no live backend yet")]
        public static partial void ConnectHeld(ILogger logger, string appId, Interop.InetEndpoint destination, string? @ref);

        [LoggerMessage(1106, LogLevel.Debug, "{AppId}: nonblocking connect to {Destination} answered EAGAIN: ref {Ref} has no live backend yet")]
        public static partial void ConnectEAgain(ILogger logger, string appId, Interop.InetEndpoint destination, string? @ref);

        [LoggerMessage(1107, LogLevel.Debug, "{AppId}: held connect to {Destination} (ref {Ref}) released after {Milliseconds:0.#} ms")]
        public static partial void HeldConnectReleased(ILogger logger, string appId, Interop.InetEndpoint destination, string @ref, double milliseconds);

        [LoggerMessage(1108, LogLevel.Debug, "{AppId}: held connect to {Destination} (ref {Ref}) dropped: the thread died or was interrupted")]
        public static partial void HeldConnectGone(ILogger logger, string appId, Interop.InetEndpoint destination, string @ref);

        [LoggerMessage(1110, LogLevel.Debug, "{AppId}: accept on port {Port} held: nothing pending on a blocking listener")]
        public static partial void AcceptHeld(ILogger logger, string appId, ushort port);

        [LoggerMessage(1111, LogLevel.Debug, "{AppId}: connection from {Peer} to port {Port} allowed (policy {Policy})")]
        public static partial void AcceptAllowed(ILogger logger, string appId, Interop.InetEndpoint peer, ushort port, string? policy);

        [LoggerMessage(1112, LogLevel.Debug, "{AppId}: connection from {Peer} to port {Port} denied and reset ({Reason})")]
        public static partial void AcceptDenied(ILogger logger, string appId, Interop.InetEndpoint peer, ushort port, string reason);

        // Warning, although on the accept path: a port that ax closes because only a proxy could decide is a
        // configuration that needs a delegation sidecar, and an operator must see it.
        [LoggerMessage(1113, LogLevel.Warning, "{AppId}: connection from {Peer} to port {Port} denied and reset: inbound port {Key} needs a decision ax cannot make at accept ({Reason}); it is denied, never allowed, unless a delegation sidecar takes it (docs/delegation.md)")]
        public static partial void AcceptChainDenied(ILogger logger, string appId, Interop.InetEndpoint peer, ushort port, string key, string reason);

        [LoggerMessage(1114, LogLevel.Warning, "{AppId}: an accepted connection on inbound port {Key} has no readable address; denied and reset")]
        public static partial void AcceptUndecidable(ILogger logger, string appId, string key);

        [LoggerMessage(1115, LogLevel.Debug, "{AppId}: accept call gone (a signal or the thread's exit) before its connection was installed; the connection was closed")]
        public static partial void AcceptCallGone(ILogger logger, string appId);

        [LoggerMessage(1117, LogLevel.Debug, "{AppId}: accept call gone (a signal or the thread's exit) before its connection was installed; the connection waits for the listener's next accept")]
        public static partial void AcceptStashed(ILogger logger, string appId);

        [LoggerMessage(1116, LogLevel.Debug, "{AppId}: held accept dropped: the thread died or was interrupted")]
        public static partial void HeldAcceptGone(ILogger logger, string appId);

        [LoggerMessage(1180, LogLevel.Error, "{AppId}: the daemon is out of fds or memory ({Error}): the call was failed with ENOBUFS rather than let past the policy")]
        public static partial void DaemonOutOfResources(ILogger logger, string appId, Interop.Errno error);

        [LoggerMessage(1104, LogLevel.Error, "{AppId}: handling {Syscall} failed; the call was answered ENOSYS")]
        public static partial void HandlerFailed(ILogger logger, Exception exception, string appId, string syscall);
    }
}
