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

        [LoggerMessage(1207, LogLevel.Warning, "Could not adopt {AppId} from the keeper: {Reason}")]
        public static partial void AdoptionFailed(ILogger logger, string appId, string reason);

        [LoggerMessage(1208, LogLevel.Information, "Adopted {Apps} applications and {Parked} parked calls from the keeper in {Milliseconds:0.0} ms")]
        public static partial void Adopted(ILogger logger, int apps, int parked, double milliseconds);

        [LoggerMessage(1209, LogLevel.Debug, "Adopted {AppId} ({Name}, pid {Pid})")]
        public static partial void AppAdopted(ILogger logger, string appId, string name, int pid);

        [LoggerMessage(1211, LogLevel.Warning, "The previous daemon did not stop in order: stopped and continued {Processes} processes under ax to restart the calls it had taken and not answered")]
        public static partial void StalledRestarted(ILogger logger, int processes);

        [LoggerMessage(1210, LogLevel.Information, "Suspended {Apps} applications for the next daemon ({Parked} held accepts and receives left to it, {Interrupted} answered EINTR; keeper up to date: {Flushed}) in {Milliseconds:0.0} ms")]
        public static partial void Suspended(ILogger logger, int apps, int parked, int interrupted, bool flushed, double milliseconds);
    }
}
