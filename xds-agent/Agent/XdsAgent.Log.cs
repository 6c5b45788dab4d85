using Istio.AppSwitch.Xds.Ads;
using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.XdsAgent;

public sealed partial class XdsAgent
{
    /// <summary>Event ids 2100–2119: the agent.</summary>
    private static partial class Log
    {
        [LoggerMessage(2100, LogLevel.Information, "xds-agent: node {NodeId} subscribing to {Address} ({Variant}); programming the daemon ({Sink})")]
        public static partial void Started(ILogger logger, Uri address, string nodeId, AdsVariant variant, string sink);

        [LoggerMessage(2101, LogLevel.Information,
            "xds-agent: applied {Kind}: services +{ServiceUpserts} -{ServiceDeletes}, clusters +{ClusterUpserts} -{ClusterDeletes}; " +
            "the mesh has {Services} services, {Clusters} clusters ({Version}) in {Milliseconds:0.0} ms")]
        public static partial void Pushed(ILogger logger, string kind, int serviceUpserts, int serviceDeletes, int clusterUpserts,
            int clusterDeletes, int services, int clusters, string version, double milliseconds);

        [LoggerMessage(2102, LogLevel.Warning, "xds-agent: the daemon did not take the update ({Sink}): {Reason}")]
        public static partial void PushFailed(ILogger logger, string sink, string reason);

        [LoggerMessage(2103, LogLevel.Information, "xds-agent: retrying with the whole mesh in {Delay}")]
        public static partial void RetryingIn(ILogger logger, TimeSpan delay);

        [LoggerMessage(2104, LogLevel.Debug, "xds-agent: snapshot {Revision} changes no rule ({Version})")]
        public static partial void NothingToPush(ILogger logger, long revision, string version);

        [LoggerMessage(2105, LogLevel.Debug,
            "xds-agent: snapshot {Revision} waits for {Clusters} clusters, {Endpoints} endpoint sets, {Routes} route configs; the rules in force stay")]
        public static partial void Inconsistent(ILogger logger, long revision, int clusters, int endpoints, int routes);

        [LoggerMessage(2116, LogLevel.Warning, "xds-agent: snapshot {Revision} still misses {Clusters} clusters, {Endpoints} endpoint sets and {Routes} route configurations after {Seconds} s; they are taken as nonexistent and the rest is pushed")]
        public static partial void TakenAsNonexistent(ILogger logger, long revision, int clusters, int endpoints, int routes, double seconds);

        [LoggerMessage(2117, LogLevel.Warning, "xds-agent: no --labels, so no app can be told apart as this workload: inbound rules (RBAC at accept) are not sent")]
        public static partial void NoInboundScope(ILogger logger);

        [LoggerMessage(2106, LogLevel.Warning, "xds-agent: snapshot {Revision} could not be translated; the rules in force stay")]
        public static partial void TranslationFailed(ILogger logger, long revision, Exception exception);

        [LoggerMessage(2107, LogLevel.Information, "xds-agent: {TypeUrl} {Name} is gone: {Reason}")]
        public static partial void ResourceGone(ILogger logger, string typeUrl, string name, string reason);

        [LoggerMessage(2108, LogLevel.Warning, "xds-agent: istiod's push of {TypeUrl} was rejected: {Message}; the rules in force stay")]
        public static partial void Nacked(ILogger logger, string typeUrl, string message);

        // The xDS client warns of each lost stream already; the agent only says what it means for the rules.
        [LoggerMessage(2111, LogLevel.Debug, "xds-agent: Pilot is away ({Message}); the rules in force stay")]
        public static partial void PilotAway(ILogger logger, string message);

        [LoggerMessage(2109, LogLevel.Information,
            "xds-agent: not sent: {DnsOnly} services without an address, {Unusable} the daemon would refuse (no usable VIP or cluster), {NonIp} endpoints that are not IPs; " +
            "{Fallbacks} clusters use round robin in place of their LB policy")]
        public static partial void Skipped(ILogger logger, int dnsOnly, int unusable, int nonIp, int fallbacks);

        [LoggerMessage(2110, LogLevel.Error, "xds-agent: internal error in the watcher")]
        public static partial void WatcherFailed(ILogger logger, Exception exception);
    }
}
