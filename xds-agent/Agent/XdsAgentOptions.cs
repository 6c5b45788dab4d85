using Istio.AppSwitch.Xds.Ads;
using Istio.AppSwitch.Xds.Sidecar;
using Istio.AppSwitch.Xds.Translation;

namespace Istio.AppSwitch.XdsAgent;

/// <summary>How an <see cref="XdsAgent"/> reaches Pilot and who it says it is. Immutable.</summary>
public sealed record XdsAgentOptions
{
    /// <summary>istiod's address, TLS, token and cluster id.</summary>
    public required PilotConnectionOptions Pilot { get; init; }

    /// <summary>The node (id, metadata) the agent presents.</summary>
    public required XdsNodeOptions Node { get; init; }

    /// <summary>Delta (Istio's default) or state of the world.</summary>
    public AdsVariant Variant { get; init; } = AdsVariant.Delta;

    /// <summary>Reconnection delays to Pilot.</summary>
    public XdsBackoffOptions PilotBackoff { get; init; } = XdsBackoffOptions.Default;

    /// <summary>Delays between attempts to push to a daemon that failed (down, restarting, or refusing the update).</summary>
    public XdsBackoffOptions SinkBackoff { get; init; } = new(TimeSpan.FromMilliseconds(100), 2, TimeSpan.FromSeconds(10));

    /// <summary>How the translation treats peer identity and auto-mTLS.</summary>
    public TranslationOptions Translation { get; init; } = TranslationOptions.Default;

    /// <summary>
    /// How long a resource that a route or cluster names may stay missing before the agent takes it as nonexistent and
    /// pushes without it (the xDS clients' does-not-exist timer; 15 s as in gRPC and Envoy). Until then the snapshot
    /// is held back whole, so that no connect sees half of an update; after it, one resource that istiod never sends
    /// cannot freeze every other change. The translation chains a service whose cluster is missing.
    /// </summary>
    public TimeSpan DoesNotExistTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>The clock of the backoff delays.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Called after each push the sink accepted, on the push loop; for measurements. Must not throw or block.</summary>
    public Action<MeshPushResult>? OnPushed { get; init; }
}

/// <summary>One push the daemon accepted.</summary>
/// <param name="SnapshotRevision">The xDS snapshot the push came from.</param>
/// <param name="Version">The version label sent.</param>
/// <param name="Replace">Whether it was a full replace.</param>
/// <param name="ClusterUpserts">Clusters created or replaced.</param>
/// <param name="ClusterDeletes">Clusters deleted.</param>
/// <param name="ServiceUpserts">Services created or replaced.</param>
/// <param name="ServiceDeletes">Services deleted.</param>
/// <param name="Elapsed">From the snapshot's arrival at the agent to the sink's answer.</param>
/// <param name="CompletedTimestamp">When the sink answered, in <see cref="System.Diagnostics.Stopwatch"/> ticks.</param>
public sealed record MeshPushResult(
    long SnapshotRevision,
    string Version,
    bool Replace,
    int ClusterUpserts,
    int ClusterDeletes,
    int ServiceUpserts,
    int ServiceDeletes,
    TimeSpan Elapsed,
    long CompletedTimestamp);
