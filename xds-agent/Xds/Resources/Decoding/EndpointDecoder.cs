using Envoy.Config.Endpoint.V3;
using Google.Protobuf;

namespace Istio.AppSwitch.Xds.Resources.Decoding;

/// <summary>EDS: <c>envoy.config.endpoint.v3.ClusterLoadAssignment</c>, named by its <c>cluster_name</c>.</summary>
public sealed class EndpointDecoder : XdsResourceDecoder
{
    /// <summary>The one instance.</summary>
    public static EndpointDecoder Instance { get; } = new();

    /// <inheritdoc />
    public override string TypeUrl => XdsTypeUrls.Endpoint;

    /// <inheritdoc />
    protected override IMessage Parse(ByteString value) => ClusterLoadAssignment.Parser.ParseFrom(value);

    /// <inheritdoc />
    protected override string NameOf(IMessage message) => ((ClusterLoadAssignment)message).ClusterName;

    /// <inheritdoc />
    protected override void Validate(IMessage message, List<string> problems)
    {
        var assignment = (ClusterLoadAssignment)message;
        foreach (var locality in assignment.Endpoints)
        {
            foreach (var endpoint in locality.LbEndpoints)
            {
                if (endpoint.HostIdentifierCase == LbEndpoint.HostIdentifierOneofCase.Endpoint &&
                    endpoint.Endpoint.Address is null)
                {
                    problems.Add("an endpoint has no address");
                }
            }
        }
    }
}
