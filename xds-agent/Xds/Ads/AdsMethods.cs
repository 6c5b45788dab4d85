using Envoy.Service.Discovery.V3;
using Istio.AppSwitch.Grpc;

namespace Istio.AppSwitch.Xds.Ads;

/// <summary>The two methods of <c>envoy.service.discovery.v3.AggregatedDiscoveryService</c>.</summary>
public static class AdsMethods
{
    /// <summary>The service name.</summary>
    public const string ServiceName = "envoy.service.discovery.v3.AggregatedDiscoveryService";

    /// <summary>State of the world: every response carries the whole set of a type (or of the names asked for).</summary>
    public static readonly GrpcMethod<DiscoveryRequest, DiscoveryResponse> StreamAggregatedResources =
        new(GrpcMethodType.DuplexStreaming, ServiceName, "StreamAggregatedResources", DiscoveryRequest.Parser, DiscoveryResponse.Parser);

    /// <summary>Incremental: responses carry changed resources and removed names (what Istio's sidecars use).</summary>
    public static readonly GrpcMethod<DeltaDiscoveryRequest, DeltaDiscoveryResponse> DeltaAggregatedResources =
        new(GrpcMethodType.DuplexStreaming, ServiceName, "DeltaAggregatedResources", DeltaDiscoveryRequest.Parser, DeltaDiscoveryResponse.Parser);
}

/// <summary>Which variant of the ADS protocol the client speaks.</summary>
public enum AdsVariant
{
    /// <summary><c>DeltaAggregatedResources</c>, Istio's default (<c>api_type: DELTA_GRPC</c>).</summary>
    Delta,

    /// <summary><c>StreamAggregatedResources</c> (<c>api_type: GRPC</c>).</summary>
    StateOfTheWorld,
}
