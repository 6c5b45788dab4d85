using Istio.AppSwitch.Xds.Ads;
using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Xds.Client;

public sealed partial class XdsClient
{
    /// <summary>Event ids 2010–2019: the connection loop.</summary>
    private static partial class Log
    {
        [LoggerMessage(2010, LogLevel.Information, "ADS: connecting to {Address} ({Variant})")]
        public static partial void Connecting(ILogger logger, Uri address, AdsVariant variant);

        [LoggerMessage(2011, LogLevel.Warning, "ADS: the stream ended ({Reason}); reconnecting in {Delay}")]
        public static partial void StreamEnded(ILogger logger, string reason, TimeSpan delay);

        [LoggerMessage(2012, LogLevel.Information, "ADS: stopped")]
        public static partial void Stopped(ILogger logger);
    }
}
