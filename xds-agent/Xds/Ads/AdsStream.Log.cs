using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Xds.Ads;

/// <summary>Event ids 2000–2009: the ADS stream (generic, so its log methods cannot be nested in it).</summary>
internal static partial class AdsLog
{
    [LoggerMessage(2000, LogLevel.Debug, "ADS {Type}: subscribing to {Count} names (initial: {Initial})")]
    public static partial void Subscribing(ILogger logger, string type, int count, bool initial);

    [LoggerMessage(2001, LogLevel.Debug, "ADS {Type}: ACK version '{Version}' nonce '{Nonce}' ({Count} resources)")]
    public static partial void Acked(ILogger logger, string type, string version, string nonce, int count);

    [LoggerMessage(2002, LogLevel.Warning, "ADS {Type}: NACK nonce '{Nonce}', keeping version '{Version}': {Detail}")]
    public static partial void Nacked(ILogger logger, string type, string nonce, string version, string detail);

    [LoggerMessage(2003, LogLevel.Warning, "ADS: ignoring a response of type '{TypeUrl}', which ax did not subscribe to")]
    public static partial void UnknownType(ILogger logger, string typeUrl);
}
