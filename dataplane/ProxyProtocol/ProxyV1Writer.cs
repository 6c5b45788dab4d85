using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Istio.AppSwitch.ProxyProtocol;

/// <summary>
/// Writes v1 (text) headers, for peers that read nothing else. ax itself sends v2; this is not on a hot path.
/// </summary>
public static class ProxyV1Writer
{
    /// <summary>The length of <c>PROXY UNKNOWN\r\n</c>.</summary>
    public const int UnknownLength = 15;

    /// <summary>Writes <c>PROXY TCP4|TCP6 src dst sport dport\r\n</c> and returns its length (at most 104 bytes). An
    /// IPv4 endpoint paired with an IPv6 one is written as TCP6 with the IPv4-mapped form.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too small, or an endpoint is neither IPv4
    /// nor IPv6.</exception>
    public static int WriteProxy(Span<byte> destination, IPEndPoint sourceEndPoint, IPEndPoint destinationEndPoint)
    {
        ArgumentNullException.ThrowIfNull(sourceEndPoint);
        ArgumentNullException.ThrowIfNull(destinationEndPoint);
        var source = sourceEndPoint.Address;
        var target = destinationEndPoint.Address;
        foreach (var address in (ReadOnlySpan<IPAddress>)[source, target])
        {
            if (address.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
            {
                throw new ArgumentException($"{address.AddressFamily} is neither IPv4 nor IPv6.", nameof(sourceEndPoint));
            }
        }

        var v4 = source.AddressFamily == AddressFamily.InterNetwork && target.AddressFamily == AddressFamily.InterNetwork;
        if (!v4)
        {
            source = Canonical(source);
            target = Canonical(target);
        }

        var line = $"PROXY {(v4 ? "TCP4" : "TCP6")} {source} {target} {sourceEndPoint.Port} {destinationEndPoint.Port}\r\n";
        return WriteAscii(destination, line);
    }

    /// <summary>Writes <c>PROXY UNKNOWN\r\n</c> (the receiver uses the real endpoints) and returns its length.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too small.</exception>
    public static int WriteUnknown(Span<byte> destination) => WriteAscii(destination, "PROXY UNKNOWN\r\n");

    // IPv6 without a scope id (the v1 grammar has none), IPv4 as IPv4-mapped IPv6.
    private static IPAddress Canonical(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetwork ? address.MapToIPv6()
        : address.ScopeId != 0 ? new IPAddress(address.GetAddressBytes())
        : address;

    private static int WriteAscii(Span<byte> destination, string line)
    {
        if (destination.Length < line.Length)
        {
            throw new ArgumentException($"The header needs {line.Length} bytes, the destination has {destination.Length}.", nameof(destination));
        }

        return Encoding.ASCII.GetBytes(line, destination);
    }
}
