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

        [LoggerMessage(1104, LogLevel.Error, "{AppId}: handling {Syscall} failed; the call was answered ENOSYS")]
        public static partial void HandlerFailed(ILogger logger, Exception exception, string appId, string syscall);
    }
}
