using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Dataplane.Interception;

public sealed partial class InterceptionService
{
    /// <summary>Event ids 1200–1299: application lifecycle, off the notification path.</summary>
    private static partial class Log
    {
        [LoggerMessage(1200, LogLevel.Information, "Accepting applications from 'ax run' on {LaunchSocket}")]
        public static partial void Started(ILogger logger, string launchSocket);

        [LoggerMessage(1201, LogLevel.Information, "{AppId} ({Name}, pid {Pid}, labels {Labels}) started under ax: {Command}")]
        public static partial void AppStarted(ILogger logger, string appId, string name, int pid, string labels, string command);

        [LoggerMessage(1202, LogLevel.Information, "{AppId} removed: {Reason}")]
        public static partial void AppRemoved(ILogger logger, string appId, string reason);

        [LoggerMessage(1203, LogLevel.Debug, "{AppId}: the launched process exited; its descendants, if any, stay under ax")]
        public static partial void RootExited(ILogger logger, string appId);

        [LoggerMessage(1204, LogLevel.Warning, "Refused to start an application: {Reason}")]
        public static partial void LaunchRejected(ILogger logger, string reason);

        [LoggerMessage(1205, LogLevel.Warning, "Accepting a launch connection failed")]
        public static partial void AcceptFailed(ILogger logger, Exception exception);

        [LoggerMessage(1206, LogLevel.Debug, "{AppId}: service {ServiceId} closed")]
        public static partial void ServiceClosed(ILogger logger, string appId, string serviceId);
    }
}
