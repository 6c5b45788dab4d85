using Envoy.Config.Core.V3;
using Istio.AppSwitch.Grpc;
using Istio.AppSwitch.Xds.Ads;

namespace Istio.AppSwitch.Xds.Client;

/// <summary>How an <see cref="XdsClient"/> talks to its management server.</summary>
public sealed record XdsClientOptions
{
    /// <summary>The node sent on the first request of every stream (see <c>Sidecar.XdsNodeBuilder</c>).</summary>
    public required Node Node { get; init; }

    /// <summary>Delta (Istio's default) or state of the world.</summary>
    public AdsVariant Variant { get; init; } = AdsVariant.Delta;

    /// <summary>The metadata of each new stream, made again per connection (tokens rotate); null sends none.</summary>
    public Func<GrpcMetadata>? CallHeaders { get; init; }

    /// <summary>Reconnection delays.</summary>
    public XdsBackoffOptions Backoff { get; init; } = XdsBackoffOptions.Default;

    /// <summary>The clock reconnection delays run on.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>The jitter source; inject a seeded one for exact tests.</summary>
    public Random Random { get; init; } = Random.Shared;
}
