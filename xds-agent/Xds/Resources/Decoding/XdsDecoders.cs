namespace Istio.AppSwitch.Xds.Resources.Decoding;

/// <summary>The decoder of each type ax subscribes to, found by type URL.</summary>
public static class XdsDecoders
{
    /// <summary>The decoder for <paramref name="typeUrl"/>, or null for a type ax does not subscribe to.</summary>
    public static XdsResourceDecoder? For(string typeUrl) => typeUrl switch
    {
        XdsTypeUrls.Cluster => ClusterDecoder.Instance,
        XdsTypeUrls.Endpoint => EndpointDecoder.Instance,
        XdsTypeUrls.Listener => ListenerDecoder.Instance,
        XdsTypeUrls.Route => RouteDecoder.Instance,
        _ => null,
    };
}
