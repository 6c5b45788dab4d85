using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Interop;
using Istio.AppSwitch.ProxyProtocol;
using static Istio.AppSwitch.Interop.SocketConstants;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>
/// Outbound capture: a connect that a capture ref (<c>--proxy-protocol v2</c>, the default of a catch-all VIP) sends
/// to a sidecar carries a PROXY protocol v2 header, written by ax before the application gets its socket back, so
/// that the sidecar knows where the application meant to go. ax writes the header and leaves: no byte of the
/// application's passes through it.
/// </summary>
internal sealed partial class SyscallHandler
{
    /// <summary>Room for the header: addresses, the CRC32C and the application's labels.</summary>
    private const int MaxProxyHeader = 1024;

    /// <summary>
    /// Writes the header into the freshly connected <paramref name="appSocket"/>: the source is the socket's own
    /// address, the destination what the application asked for, and the TLVs carry the application's labels and
    /// identity (<see cref="AxTlvs"/>), the destination's DNS name when the ref has one, a unique id for the
    /// connection, and a CRC32C. A header that does not go out whole fails the connect: a sidecar would read a torn
    /// header as the application's bytes.
    /// </summary>
    private static Errno WriteProxyHeader(InterceptedApp app, SafeFd appSocket, in InetEndpoint destination, ServiceRef reference)
    {
        Span<byte> sockaddr = stackalloc byte[MaxSockaddr];
        if (Sockets.GetSockName(appSocket, sockaddr, out var length) != Errno.Success
            || !InetEndpoint.TryParse(sockaddr[..length], out var source, out _))
        {
            return Errno.ENOTCONN;
        }
        Span<byte> header = stackalloc byte[MaxProxyHeader];
        var written = BuildProxyHeader(header, app, in source, in destination, reference);
        var error = Sockets.Send(appSocket, header[..written], MSG_NOSIGNAL | MSG_DONTWAIT, out var sent);
        return error != Errno.Success ? error : sent == written ? Errno.Success : Errno.EPIPE;
    }

    /// <summary>
    /// The PROXY v2 header of a connection ax hands to a proxy (captured, chained or delegated): the addresses, the
    /// application's labels and identity, the destination's DNS name when <paramref name="reference"/> has one,
    /// <paramref name="extra"/> (what a peek saw), a unique id, and a CRC32C. Returns its length.
    /// </summary>
    internal static int BuildProxyHeader(Span<byte> header, InterceptedApp? app, in InetEndpoint source, in InetEndpoint destination,
        ServiceRef? reference, ReadOnlySpan<ProxyTlv> extra = default)
    {
        var appTlvs = app is null ? [] : app.ProxyTlvs;
        Span<ProxyTlv> tlvs = new ProxyTlv[appTlvs.Length + extra.Length + 2];
        appTlvs.CopyTo(tlvs);
        var count = appTlvs.Length;
        if (reference?.DnsTlv is { } name)
        {
            tlvs[count++] = name;
        }
        extra.CopyTo(tlvs[count..]);
        count += extra.Length;
        // 16 random bytes: unique enough to correlate ax's, the proxy's and the server's logs of one connection.
        var uniqueId = new byte[16];
        System.Security.Cryptography.RandomNumberGenerator.Fill(uniqueId);
        tlvs[count++] = ProxyTlv.UniqueId(uniqueId);
        var family = source.Family == destination.Family ? source : source.Family == SocketConstants.AF_INET ? source.MapToIPv6() : source;
        var target = destination.Family == family.Family ? destination : destination.MapToIPv6();
        return ProxyV2Writer.WriteProxy(header, family.AddressBytes, family.Port, target.AddressBytes, target.Port,
            ProxyTransport.Stream, tlvs[..count], addCrc32c: true);
    }
}
