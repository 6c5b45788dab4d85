using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Policy;

/// <summary>
/// A lookup key of the routing tables: family, an address (masked to a table's prefix length) as two 64-bit
/// halves, and a port (0 standing for "any port", which no VIP can name). A small value with a cheap hash, so
/// a dictionary probe on the connect path allocates nothing.
/// </summary>
internal readonly struct RouteKey : IEquatable<RouteKey>
{
    /// <summary>The port of a key that matches any port (<c>*</c>).</summary>
    public const ushort AnyPort = 0;

    private readonly ulong _high;
    private readonly ulong _low;
    private readonly int _familyAndPort;

    private RouteKey(ulong high, ulong low, bool v6, ushort port)
    {
        _high = high;
        _low = low;
        _familyAndPort = (v6 ? 1 << 16 : 0) | port;
    }

    /// <summary>The key of <paramref name="address"/> masked to <paramref name="prefixLength"/>, with <paramref name="port"/>.</summary>
    public static RouteKey Create(in AddressBits address, int prefixLength, ushort port)
    {
        if (!address.IsV6)
        {
            var mask = prefixLength == 0 ? 0UL : (0xFFFF_FFFFUL << (32 - prefixLength)) & 0xFFFF_FFFFUL;
            return new RouteKey(0, address.Low & mask, v6: false, port);
        }
        var highMask = prefixLength >= 64 ? ulong.MaxValue : prefixLength == 0 ? 0 : ulong.MaxValue << (64 - prefixLength);
        var lowMask = prefixLength <= 64 ? 0 : prefixLength == 128 ? ulong.MaxValue : ulong.MaxValue << (128 - prefixLength);
        return new RouteKey(address.High & highMask, address.Low & lowMask, v6: true, port);
    }

    /// <summary>The key of a VIP in the table of its own prefix length.</summary>
    public static RouteKey FromVip(VipSpec vip) =>
        Create(AddressBits.From(vip.Address), vip.PrefixLength, vip.Port is { } port ? (ushort)port : AnyPort);

    /// <inheritdoc />
    public bool Equals(RouteKey other) => _high == other._high && _low == other._low && _familyAndPort == other._familyAndPort;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is RouteKey other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(_high, _low, _familyAndPort);
}

/// <summary>An IPv4 or IPv6 address as integers (IPv4 in the low 32 bits), for masking without allocation.</summary>
internal readonly struct AddressBits
{
    private AddressBits(ulong high, ulong low, bool v6)
    {
        High = high;
        Low = low;
        IsV6 = v6;
    }

    public ulong High { get; }

    public ulong Low { get; }

    public bool IsV6 { get; }

    /// <summary>The address of an endpoint; false for an endpoint that is neither IPv4 nor IPv6.</summary>
    public static bool TryFrom(in InetEndpoint endpoint, out AddressBits bits)
    {
        var bytes = endpoint.AddressBytes;
        switch (bytes.Length)
        {
            case 4:
                bits = new AddressBits(0, BinaryPrimitives.ReadUInt32BigEndian(bytes), v6: false);
                return true;
            case 16:
                bits = new AddressBits(BinaryPrimitives.ReadUInt64BigEndian(bytes), BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]), v6: true);
                return true;
            default:
                bits = default;
                return false;
        }
    }

    /// <summary>The address of an <see cref="IPAddress"/> (off the hot path).</summary>
    public static AddressBits From(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var length);
        return address.AddressFamily == AddressFamily.InterNetwork && length == 4
            ? new AddressBits(0, BinaryPrimitives.ReadUInt32BigEndian(bytes), v6: false)
            : new AddressBits(BinaryPrimitives.ReadUInt64BigEndian(bytes), BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]), v6: true);
    }
}
