using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Xds.Client;

internal sealed partial class XdsWatcherDispatcher
{
    /// <summary>Event ids 2090–2099: watcher dispatch.</summary>
    private static partial class Log
    {
        [LoggerMessage(2090, LogLevel.Error, "xDS watcher {Watcher} threw; the other watchers still run")]
        public static partial void WatcherFailed(ILogger logger, string watcher, Exception exception);
    }
}
