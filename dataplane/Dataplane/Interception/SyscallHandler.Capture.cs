using System.Buffers.Binary;
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
        // The TLV list and the id live in this thread's scratch arrays: the header is written before this returns, and
        // nothing keeps a reference to them, so the connect path allocates nothing here.
        var needed = appTlvs.Length + extra.Length + 2;
        var scratch = _tlvScratch is { } cached && cached.Length >= needed ? cached : _tlvScratch = new ProxyTlv[Math.Max(needed, 8)];
        Span<ProxyTlv> tlvs = scratch;
        appTlvs.CopyTo(tlvs);
        var count = appTlvs.Length;
        if (reference?.DnsTlv is { } name)
        {
            tlvs[count++] = name;
        }
        extra.CopyTo(tlvs[count..]);
        count += extra.Length;
        tlvs[count++] = ProxyTlv.UniqueId(NextUniqueId());
        var family = source.Family == destination.Family ? source : source.Family == SocketConstants.AF_INET ? source.MapToIPv6() : source;
        var target = destination.Family == family.Family ? destination : destination.MapToIPv6();
        var written = ProxyV2Writer.WriteProxy(header, family.AddressBytes, family.Port, target.AddressBytes, target.Port,
            ProxyTransport.Stream, tlvs[..count], addCrc32c: true);
        tlvs[..count].Clear(); // drop the references to the app's and the ref's TLVs until the next call
        return written;
    }

    /// <summary>
    /// A 16-byte id for one connection: 8 random bytes drawn once per daemon, then a counter. Unique across the daemon's
    /// life and across daemons, which is all that correlating ax's, the proxy's and the server's logs needs. A
    /// cryptographic draw per connect cost about 2 µs on the connect path.
    /// </summary>
    private static byte[] NextUniqueId()
    {
        var id = _uniqueIdScratch ??= new byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(id, UniqueIdPrefix);
        BinaryPrimitives.WriteUInt64BigEndian(id.AsSpan(8), (ulong)Interlocked.Increment(ref _uniqueIdCounter));
        return id;
    }

    // Not a cryptographic draw: the prefix need only differ between daemons, and RandomNumberGenerator would load
    // libcrypto (3.4 MB of resident memory) into every daemon on its first notification.
    private static readonly ulong UniqueIdPrefix = (ulong)Random.Shared.NextInt64();

    private static long _uniqueIdCounter;

    [ThreadStatic]
    private static byte[]? _uniqueIdScratch;

    [ThreadStatic]
    private static ProxyTlv[]? _tlvScratch;
}
