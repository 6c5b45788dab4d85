using System.Collections.Immutable;
using System.Net;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>
/// How the daemon chains connections to a proxy (docs/envoy-chaining.md): where outbound connections of a
/// <c>chain</c> service go, which peers may put a PROXY header in front of an inbound connection, and how long ax
/// looks at a connection's first bytes before it hands the connection to the application.
/// </summary>
public sealed record ChainOptions
{
    /// <summary>No chaining target and no trusted proxy: chained services pass through, as before issue 6.</summary>
    public static ChainOptions None { get; } = new();

    /// <summary>
    /// The local Envoy's listener for chained connections (<c>--envoy</c>). A connect to a <c>chain</c> service is
    /// connected there, with a PROXY v2 header naming the original destination. Null: no Envoy.
    /// </summary>
    public IPEndPoint? Envoy { get; init; }

    /// <summary>
    /// Peers whose connections may start with a PROXY header (<c>--trusted-proxy</c>): Istio's inbound passthrough
    /// connects from 127.0.0.6. ax strips the header at accept, and the application sees the original client. A
    /// header from any other peer is the application's data and is left alone.
    /// </summary>
    public ImmutableArray<IPNetwork> TrustedProxies { get; init; } = [];

    /// <summary>How long ax waits for a trusted peer's PROXY header, or for the first bytes a peeking policy needs.</summary>
    public TimeSpan InspectTimeout { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>True when some peer is trusted: then every accept of every application is ax's.</summary>
    public bool TrustsProxies => !TrustedProxies.IsDefaultOrEmpty;

    /// <summary>Whether <paramref name="address"/> is a trusted proxy.</summary>
    public bool IsTrusted(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        foreach (var network in TrustedProxies)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }
        return false;
    }
}
