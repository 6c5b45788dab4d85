using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Istio.AppSwitch.ProxyProtocol;

/// <summary>
/// Writes v2 (binary) headers into a caller's buffer. The daemon calls it on a trapped connect's critical path: no
/// method here allocates (the <see cref="IPEndPoint"/> overloads neither), and the CRC32C runs on the CPU's CRC
/// instruction.
/// </summary>
/// <remarks>
/// TLVs are written in the order given; a CRC32C, when asked for, comes first (as HAProxy writes it). An IPv4
/// address paired with an IPv6 one is sent as AF_INET6 with the IPv4-mapped form (<c>::ffff:a.b.c.d</c>).
/// </remarks>
public static class ProxyV2Writer
{
    /// <summary>The length of a LOCAL header without TLVs, and of the fixed part of every header.</summary>
    public const int LocalLength = ProxyProtocolLimits.V2PrefixLength;

    /// <summary>The length of a PP2_TYPE_CRC32C TLV.</summary>
    public const int Crc32cTlvLength = ProxyTlv.HeaderLength + sizeof(uint);

    /// <summary>The longest Unix socket address (<c>sun_path</c>).</summary>
    public const int UnixAddressLength = 108;

    private const byte Version2 = 0x20;

    /// <summary>The length of a header of <paramref name="family"/> with these TLVs.</summary>
    /// <exception cref="ArgumentException">The header would be longer than the format allows.</exception>
    public static int GetLength(ProxyAddressFamily family, ReadOnlySpan<ProxyTlv> tlvs = default, bool addCrc32c = false)
    {
        var length = LocalLength + ProxyV2Parser.AddressBlockLength(family) + (addCrc32c ? Crc32cTlvLength : 0);
        foreach (var tlv in tlvs)
        {
            length += tlv.EncodedLength;
        }
        if (length > ProxyProtocolLimits.MaxV2HeaderLengthPossible)
        {
            throw new ArgumentException($"The header would be {length} bytes; a v2 header holds at most {ProxyProtocolLimits.MaxV2HeaderLengthPossible}.", nameof(tlvs));
        }

        return length;
    }

    /// <summary>The length of a header for these addresses (4 or 16 bytes each) with these TLVs.</summary>
    /// <exception cref="ArgumentException">An address is neither 4 nor 16 bytes, or the header would be too long.</exception>
    public static int GetLength(ReadOnlySpan<byte> sourceAddress, ReadOnlySpan<byte> destinationAddress, ReadOnlySpan<ProxyTlv> tlvs = default,
        bool addCrc32c = false) =>
        GetLength(FamilyOf(sourceAddress.Length, destinationAddress.Length), tlvs, addCrc32c);

    /// <summary>The length of a header for these endpoints with these TLVs.</summary>
    /// <exception cref="ArgumentException">An endpoint is neither IPv4 nor IPv6, or the header would be too long.</exception>
    public static int GetLength(IPEndPoint sourceEndPoint, IPEndPoint destinationEndPoint, ReadOnlySpan<ProxyTlv> tlvs = default,
        bool addCrc32c = false)
    {
        ArgumentNullException.ThrowIfNull(sourceEndPoint);
        ArgumentNullException.ThrowIfNull(destinationEndPoint);
        return GetLength(FamilyOf(AddressLength(sourceEndPoint.Address), AddressLength(destinationEndPoint.Address)), tlvs, addCrc32c);
    }

    /// <summary>Writes a LOCAL header (a connection the proxy made for itself, such as a health check), with no
    /// address, and returns its length.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too small, or the header too long.</exception>
    public static int WriteLocal(Span<byte> destination, ReadOnlySpan<ProxyTlv> tlvs = default, bool addCrc32c = false)
    {
        var length = GetLength(ProxyAddressFamily.Unspecified, tlvs, addCrc32c);
        CheckRoom(destination, length);
        WritePrefix(destination, ProxyCommand.Local, ProxyAddressFamily.Unspecified, ProxyTransport.Unspecified, length);
        return Finish(destination, LocalLength, length, tlvs, addCrc32c);
    }

    /// <summary>
    /// Writes a PROXY header for a connection from <paramref name="sourceAddress"/>:<paramref name="sourcePort"/> to
    /// <paramref name="destinationAddress"/>:<paramref name="destinationPort"/>, and returns its length. This is the
    /// daemon's hot path: addresses as network-order bytes (4 for IPv4, 16 for IPv6), ports in host order.
    /// </summary>
    /// <param name="destination">Where the header goes; <see cref="GetLength(ReadOnlySpan{byte}, ReadOnlySpan{byte}, ReadOnlySpan{ProxyTlv}, bool)"/> says how much room it needs.</param>
    /// <param name="sourceAddress">The client address, 4 or 16 bytes.</param>
    /// <param name="sourcePort">The client port.</param>
    /// <param name="destinationAddress">The address the client connected to, 4 or 16 bytes.</param>
    /// <param name="destinationPort">The port the client connected to.</param>
    /// <param name="transport"><see cref="ProxyTransport.Stream"/> (TCP) or <see cref="ProxyTransport.Datagram"/> (UDP).</param>
    /// <param name="tlvs">TLVs to write after the addresses, in this order.</param>
    /// <param name="addCrc32c">Whether to add a PP2_TYPE_CRC32C of the header.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too small, an address is neither 4 nor 16
    /// bytes, the transport is unspecified, a TLV is a CRC32C (use <paramref name="addCrc32c"/>), or the header would
    /// be too long.</exception>
    public static int WriteProxy(Span<byte> destination, ReadOnlySpan<byte> sourceAddress, ushort sourcePort,
        ReadOnlySpan<byte> destinationAddress, ushort destinationPort, ProxyTransport transport,
        ReadOnlySpan<ProxyTlv> tlvs = default, bool addCrc32c = false)
    {
        CheckTransport(transport);
        var family = FamilyOf(sourceAddress.Length, destinationAddress.Length);
        var length = GetLength(family, tlvs, addCrc32c);
        CheckRoom(destination, length);
        WritePrefix(destination, ProxyCommand.Proxy, family, transport, length);

        var offset = LocalLength;
        if (family == ProxyAddressFamily.InterNetwork)
        {
            sourceAddress.CopyTo(destination[offset..]);
            destinationAddress.CopyTo(destination[(offset + 4)..]);
            offset += 8;
        }
        else
        {
            WriteIPv6(destination[offset..], sourceAddress);
            WriteIPv6(destination[(offset + 16)..], destinationAddress);
            offset += 32;
        }
        BinaryPrimitives.WriteUInt16BigEndian(destination[offset..], sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(destination[(offset + 2)..], destinationPort);
        offset += 4;

        return Finish(destination, offset, length, tlvs, addCrc32c);
    }

    /// <summary>Writes a PROXY header for a connection between two IP endpoints (see the byte overload).</summary>
    /// <exception cref="ArgumentException">As for the byte overload, or an endpoint is neither IPv4 nor IPv6.</exception>
    public static int WriteProxy(Span<byte> destination, IPEndPoint sourceEndPoint, IPEndPoint destinationEndPoint, ProxyTransport transport,
        ReadOnlySpan<ProxyTlv> tlvs = default, bool addCrc32c = false)
    {
        ArgumentNullException.ThrowIfNull(sourceEndPoint);
        ArgumentNullException.ThrowIfNull(destinationEndPoint);
        Span<byte> source = stackalloc byte[16];
        Span<byte> target = stackalloc byte[16];
        var sourceLength = WriteAddress(sourceEndPoint.Address, source, nameof(sourceEndPoint));
        var targetLength = WriteAddress(destinationEndPoint.Address, target, nameof(destinationEndPoint));
        return WriteProxy(destination, source[..sourceLength], (ushort)sourceEndPoint.Port, target[..targetLength],
            (ushort)destinationEndPoint.Port, transport, tlvs, addCrc32c);
    }

    /// <summary>Writes a PROXY header of family AF_UNIX. Each path (at most 108 bytes, a leading NUL for an abstract
    /// address) is padded with NULs to 108 bytes.</summary>
    /// <exception cref="ArgumentException">As for the IP overloads, or a path is longer than 108 bytes.</exception>
    public static int WriteProxyUnix(Span<byte> destination, ReadOnlySpan<byte> sourcePath, ReadOnlySpan<byte> destinationPath,
        ProxyTransport transport, ReadOnlySpan<ProxyTlv> tlvs = default, bool addCrc32c = false)
    {
        CheckTransport(transport);
        if (sourcePath.Length > UnixAddressLength || destinationPath.Length > UnixAddressLength)
        {
            throw new ArgumentException($"A Unix socket address is at most {UnixAddressLength} bytes.", nameof(sourcePath));
        }

        var length = GetLength(ProxyAddressFamily.Unix, tlvs, addCrc32c);
        CheckRoom(destination, length);
        WritePrefix(destination, ProxyCommand.Proxy, ProxyAddressFamily.Unix, transport, length);
        var addresses = destination.Slice(LocalLength, 2 * UnixAddressLength);
        addresses.Clear();
        sourcePath.CopyTo(addresses);
        destinationPath.CopyTo(addresses[UnixAddressLength..]);
        return Finish(destination, LocalLength + (2 * UnixAddressLength), length, tlvs, addCrc32c);
    }

    /// <summary>Writes one TLV (type, big-endian length, value) and returns its length.</summary>
    /// <exception cref="ArgumentException">The value is longer than 65535 bytes or does not fit.</exception>
    public static int WriteTlv(Span<byte> destination, ProxyTlvType type, ReadOnlySpan<byte> value)
    {
        if (value.Length > ProxyTlv.MaxValueLength)
        {
            throw new ArgumentException($"A TLV value is at most {ProxyTlv.MaxValueLength} bytes.", nameof(value));
        }

        var length = ProxyTlv.HeaderLength + value.Length;
        CheckRoom(destination, length);
        destination[0] = (byte)type;
        BinaryPrimitives.WriteUInt16BigEndian(destination[1..], (ushort)value.Length);
        value.CopyTo(destination[ProxyTlv.HeaderLength..]);
        return length;
    }

    private static void WritePrefix(Span<byte> destination, ProxyCommand command, ProxyAddressFamily family, ProxyTransport transport, int length)
    {
        ProxyV2Parser.Signature.CopyTo(destination);
        destination[12] = (byte)(Version2 | (int)command);
        destination[13] = (byte)(((int)family << 4) | (int)transport);
        BinaryPrimitives.WriteUInt16BigEndian(destination[14..], (ushort)(length - LocalLength));
    }

    /// <summary>Writes the TLVs from <paramref name="offset"/> on, then the checksum over everything.</summary>
    private static int Finish(Span<byte> destination, int offset, int length, ReadOnlySpan<ProxyTlv> tlvs, bool addCrc32c)
    {
        var checksumOffset = -1;
        if (addCrc32c)
        {
            // Section 2.2.3: the field is zero while the CRC is computed.
            checksumOffset = offset + ProxyTlv.HeaderLength;
            offset += WriteTlv(destination[offset..], ProxyTlvType.Crc32c, [0, 0, 0, 0]);
        }

        foreach (var tlv in tlvs)
        {
            if (tlv.Type == ProxyTlvType.Crc32c)
            {
                throw new ArgumentException("A CRC32C TLV is computed by the writer: pass addCrc32c instead.", nameof(tlvs));
            }
            if (tlv.Type == ProxyTlvType.UniqueId && tlv.Value.Length > ProxyProtocolLimits.MaxUniqueIdLength)
            {
                throw new ArgumentException($"A unique id is at most {ProxyProtocolLimits.MaxUniqueIdLength} bytes.", nameof(tlvs));
            }
            offset += WriteTlv(destination[offset..], tlv.Type, tlv.Value.Span);
        }

        if (checksumOffset >= 0)
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination[checksumOffset..], Crc32C.Compute(destination[..length]));
        }

        return length;
    }

    private static ProxyAddressFamily FamilyOf(int sourceLength, int destinationLength)
    {
        if (sourceLength is not (4 or 16) || destinationLength is not (4 or 16))
        {
            throw new ArgumentException($"Addresses are 4 (IPv4) or 16 (IPv6) bytes, not {sourceLength} and {destinationLength}.");
        }

        return sourceLength == 4 && destinationLength == 4 ? ProxyAddressFamily.InterNetwork : ProxyAddressFamily.InterNetworkV6;
    }

    private static int AddressLength(IPAddress address) => address.AddressFamily switch
    {
        AddressFamily.InterNetwork => 4,
        AddressFamily.InterNetworkV6 => 16,
        _ => throw new ArgumentException($"{address.AddressFamily} is neither IPv4 nor IPv6.", nameof(address)),
    };

    private static int WriteAddress(IPAddress address, Span<byte> destination, string parameterName)
    {
        if (address.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6) ||
            !address.TryWriteBytes(destination, out var written))
        {
            throw new ArgumentException($"{address.AddressFamily} is neither IPv4 nor IPv6.", parameterName);
        }

        return written;
    }

    /// <summary>Writes a 16-byte address as is, and a 4-byte one IPv4-mapped (RFC 4291 section 2.5.5.2).</summary>
    private static void WriteIPv6(Span<byte> destination, ReadOnlySpan<byte> address)
    {
        if (address.Length == 16)
        {
            address.CopyTo(destination);
            return;
        }

        destination[..10].Clear();
        destination[10] = 0xFF;
        destination[11] = 0xFF;
        address.CopyTo(destination[12..]);
    }

    private static void CheckTransport(ProxyTransport transport)
    {
        if (transport is not (ProxyTransport.Stream or ProxyTransport.Datagram))
        {
            throw new ArgumentException("A PROXY header with addresses has a Stream or Datagram transport.", nameof(transport));
        }
    }

    private static void CheckRoom(Span<byte> destination, int length)
    {
        if (destination.Length < length)
        {
            throw new ArgumentException($"The header needs {length} bytes, the destination has {destination.Length}.", nameof(destination));
        }
    }
}
