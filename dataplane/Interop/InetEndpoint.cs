using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop;

/// <summary>
/// An IPv4 or IPv6 endpoint as the kernel's sockaddr_in / sockaddr_in6 hold it, as a value: parsing and
/// writing sockaddrs allocates nothing. The port and flow info are in host order; the address is in network
/// order (as on the wire). Equality covers family, address, port and scope id, not the flow info, which
/// labels packets rather than naming a destination (as <see cref="IPEndPoint"/> equality does).
/// </summary>
public readonly struct InetEndpoint : IEquatable<InetEndpoint>
{
    /// <summary>The kernel accepts an IPv6 sockaddr without sin6_scope_id (RFC 2133's 24-byte layout).</summary>
    public const int MinimumSockaddrIn6Size = 24;

    private readonly AddressBytesBuffer _address;

    /// <summary>Creates an endpoint from a 4-byte (IPv4) or 16-byte (IPv6) address in network order.</summary>
    /// <exception cref="ArgumentException">The address is neither 4 nor 16 bytes long, or a scope id or flow
    /// info was given for IPv4.</exception>
    public InetEndpoint(ReadOnlySpan<byte> address, ushort port, uint scopeId = 0, uint flowInfo = 0)
    {
        if (address.Length == 4)
        {
            if (scopeId != 0 || flowInfo != 0)
            {
                throw new ArgumentException("IPv4 endpoints have no scope id or flow info.", nameof(address));
            }

            Family = SocketConstants.AF_INET;
        }
        else if (address.Length == 16)
        {
            Family = SocketConstants.AF_INET6;
        }
        else
        {
            throw new ArgumentException("An address is 4 (IPv4) or 16 (IPv6) bytes long.", nameof(address));
        }

        address.CopyTo(_address);
        Port = port;
        ScopeId = scopeId;
        FlowInfo = flowInfo;
    }

    private InetEndpoint(int family, in AddressBytesBuffer address, ushort port, uint scopeId, uint flowInfo)
    {
        Family = family;
        _address = address;
        Port = port;
        ScopeId = scopeId;
        FlowInfo = flowInfo;
    }

    /// <summary><see cref="SocketConstants.AF_INET"/> or <see cref="SocketConstants.AF_INET6"/>; 0 for default.</summary>
    public int Family { get; }

    /// <summary>The port, in host order.</summary>
    public ushort Port { get; }

    /// <summary>sin6_scope_id (the interface index of a link-local address); 0 for IPv4.</summary>
    public uint ScopeId { get; }

    /// <summary>sin6_flowinfo in host order; 0 for IPv4.</summary>
    public uint FlowInfo { get; }

    /// <summary>True for IPv4 (AF_INET).</summary>
    public bool IsIPv4 => Family == SocketConstants.AF_INET;

    /// <summary>True for IPv6 (AF_INET6), including IPv4-mapped addresses.</summary>
    public bool IsIPv6 => Family == SocketConstants.AF_INET6;

    /// <summary>4 for IPv4, 16 for IPv6, 0 for <c>default</c>.</summary>
    public int AddressLength => Family switch
    {
        SocketConstants.AF_INET => 4,
        SocketConstants.AF_INET6 => 16,
        _ => 0,
    };

    /// <summary>The length <see cref="Write"/> produces: 16 (sockaddr_in) or 28 (sockaddr_in6).</summary>
    public int SockaddrLength => Family == SocketConstants.AF_INET6 ? SocketConstants.SockaddrIn6Size : SocketConstants.SockaddrInSize;

    /// <summary>The address bytes in network order, 4 or 16 of them. The span points into this value: it cannot
    /// outlive the variable it was read from (the compiler enforces this).</summary>
    [UnscopedRef]
    public ReadOnlySpan<byte> AddressBytes => ((ReadOnlySpan<byte>)_address)[..AddressLength];

    /// <summary>The address as an <see cref="IPAddress"/>; allocates, so keep it off the hot path.</summary>
    public IPAddress Address => Family == SocketConstants.AF_INET6 ? new IPAddress(AddressBytes, ScopeId) : new IPAddress(AddressBytes);

    /// <summary>0.0.0.0 or :: (INADDR_ANY / in6addr_any).</summary>
    public bool IsAnyAddress => Family != 0 && AddressBytes.IndexOfAnyExcept((byte)0) < 0;

    /// <summary>
    /// 127.0.0.0/8, ::1, or an IPv4-mapped 127.0.0.0/8 (::ffff:127.x.y.z), which the kernel also routes over
    /// loopback (unlike <see cref="IPAddress.IsLoopback"/>, which says false for the mapped form).
    /// </summary>
    public bool IsLoopback
    {
        get
        {
            ReadOnlySpan<byte> address = AddressBytes;
            return Family switch
            {
                SocketConstants.AF_INET => address[0] == 127,
                SocketConstants.AF_INET6 => address[..15].IndexOfAnyExcept((byte)0) < 0 && address[15] == 1
                    || (IsIPv4MappedIPv6 && address[12] == 127),
                _ => false,
            };
        }
    }

    /// <summary>True for ::ffff:a.b.c.d: an IPv4 destination reached through an IPv6 socket.</summary>
    public bool IsIPv4MappedIPv6
    {
        get
        {
            ReadOnlySpan<byte> address = AddressBytes;
            return Family == SocketConstants.AF_INET6
                && address[..10].IndexOfAnyExcept((byte)0) < 0
                && address[10] == 0xff && address[11] == 0xff;
        }
    }

    /// <summary>
    /// Parses a sockaddr as connect(2)/bind(2) would. Never throws, never allocates.
    /// EINVAL: shorter than the family field, longer than sockaddr_storage (128), or shorter than the family's
    /// minimum (16 for AF_INET, 24 for AF_INET6: without scope id, as the kernel accepts). EAFNOSUPPORT: any other
    /// family (AF_UNSPEC, AF_UNIX...), which the caller handles itself. Extra bytes past the struct are ignored,
    /// as the kernel ignores them.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> sockaddr, out InetEndpoint endpoint, out Errno error)
    {
        endpoint = default;
        if (sockaddr.Length < sizeof(ushort) || sockaddr.Length > SocketConstants.SockaddrStorageSize)
        {
            error = Errno.EINVAL;
            return false;
        }

        // sa_family is in host order (little-endian here); the port and addresses are in network order.
        int family = BinaryPrimitives.ReadUInt16LittleEndian(sockaddr);
        ushort port;
        AddressBytesBuffer address = default;
        switch (family)
        {
            case SocketConstants.AF_INET:
                if (sockaddr.Length < SocketConstants.SockaddrInSize)
                {
                    error = Errno.EINVAL;
                    return false;
                }

                port = BinaryPrimitives.ReadUInt16BigEndian(sockaddr[2..]);
                sockaddr.Slice(4, 4).CopyTo(address);
                endpoint = new InetEndpoint(family, address, port, 0, 0);
                error = Errno.Success;
                return true;

            case SocketConstants.AF_INET6:
                if (sockaddr.Length < MinimumSockaddrIn6Size)
                {
                    error = Errno.EINVAL;
                    return false;
                }

                port = BinaryPrimitives.ReadUInt16BigEndian(sockaddr[2..]);
                uint flowInfo = BinaryPrimitives.ReadUInt32BigEndian(sockaddr[4..]);
                sockaddr.Slice(8, 16).CopyTo(address);
                uint scopeId = sockaddr.Length >= SocketConstants.SockaddrIn6Size ? BinaryPrimitives.ReadUInt32LittleEndian(sockaddr[24..]) : 0;
                endpoint = new InetEndpoint(family, address, port, scopeId, flowInfo);
                error = Errno.Success;
                return true;

            default:
                error = Errno.EAFNOSUPPORT;
                return false;
        }
    }

    /// <summary>Writes the sockaddr_in (16 bytes) or sockaddr_in6 (28 bytes) and returns its length.</summary>
    /// <exception cref="ArgumentException"><paramref name="sockaddr"/> is shorter than <see cref="SockaddrLength"/>.</exception>
    /// <exception cref="InvalidOperationException">This is <c>default</c> (no family).</exception>
    public int Write(Span<byte> sockaddr)
    {
        if (Family == 0)
        {
            throw new InvalidOperationException("The default InetEndpoint has no address family.");
        }

        int length = SockaddrLength;
        if (sockaddr.Length < length)
        {
            throw new ArgumentException($"A sockaddr for this endpoint needs {length} bytes.", nameof(sockaddr));
        }

        Span<byte> target = sockaddr[..length];
        target.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(target, (ushort)Family);
        BinaryPrimitives.WriteUInt16BigEndian(target[2..], Port);
        if (Family == SocketConstants.AF_INET)
        {
            AddressBytes.CopyTo(target[4..]);
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(target[4..], FlowInfo);
            AddressBytes.CopyTo(target[8..]);
            BinaryPrimitives.WriteUInt32LittleEndian(target[24..], ScopeId);
        }

        return length;
    }

    /// <summary>Copies the 4 or 16 address bytes into <paramref name="destination"/> and returns the count.</summary>
    public int CopyAddressTo(Span<byte> destination)
    {
        AddressBytes.CopyTo(destination);
        return AddressLength;
    }

    /// <summary>Converts from <see cref="IPEndPoint"/> (the scope id comes from <see cref="IPAddress.ScopeId"/>).</summary>
    /// <exception cref="ArgumentException">Neither IPv4 nor IPv6.</exception>
    public static InetEndpoint FromIPEndPoint(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        Span<byte> address = stackalloc byte[16];
        IPAddress ip = endPoint.Address;
        if (!ip.TryWriteBytes(address, out int written))
        {
            throw new ArgumentException("Unsupported address.", nameof(endPoint));
        }

        return ip.AddressFamily switch
        {
            AddressFamily.InterNetwork => new InetEndpoint(address[..written], (ushort)endPoint.Port),
            AddressFamily.InterNetworkV6 => new InetEndpoint(address[..written], (ushort)endPoint.Port, (uint)ip.ScopeId),
            _ => throw new ArgumentException("Only IPv4 and IPv6 endpoints are supported.", nameof(endPoint)),
        };
    }

    /// <summary>Converts to <see cref="IPEndPoint"/> (allocates; the flow info is dropped).</summary>
    public IPEndPoint ToIPEndPoint() => new(Address, Port);

    /// <summary>The same address and scope with another port.</summary>
    public InetEndpoint WithPort(ushort port) => new(Family, _address, port, ScopeId, FlowInfo);

    /// <summary>The family, address and scope id of <paramref name="other"/>, with this endpoint's port.</summary>
    public InetEndpoint WithAddressOf(InetEndpoint other) => new(other.Family, other._address, Port, other.ScopeId, other.FlowInfo);

    /// <summary>The wildcard address of this endpoint's family (0.0.0.0 or ::), with this port.</summary>
    public InetEndpoint ToWildcard() => new(Family, default, Port, 0, 0);

    /// <summary>The loopback address of <paramref name="family"/> (127.0.0.1 or ::1) with <paramref name="port"/>.</summary>
    public static InetEndpoint Loopback(int family, ushort port)
    {
        AddressBytesBuffer address = default;
        Span<byte> bytes = address;
        if (family == SocketConstants.AF_INET6)
        {
            bytes[15] = 1;
        }
        else
        {
            bytes[0] = 127;
            bytes[3] = 1;
        }
        return new InetEndpoint(family == SocketConstants.AF_INET6 ? family : SocketConstants.AF_INET, address, port, 0, 0);
    }

    /// <summary>True when this endpoint's address is <paramref name="address"/> (an IPv4-mapped form matches its IPv4 address). Allocation-free.</summary>
    public bool AddressEquals(IPAddress address)
    {
        Span<byte> other = stackalloc byte[16];
        if (!address.TryWriteBytes(other, out var written))
        {
            return false;
        }
        var mine = IsIPv4MappedIPv6 ? MapToIPv4() : this;
        if (written == 16 && address.IsIPv4MappedToIPv6)
        {
            other = other.Slice(12, 4);
            written = 4;
        }
        return mine.AddressLength == written && mine.AddressBytes.SequenceEqual(other[..written]);
    }

    /// <summary>::ffff:a.b.c.d for an IPv4 endpoint (for an AF_INET6 socket); IPv6 endpoints are returned as they are.</summary>
    public InetEndpoint MapToIPv6()
    {
        if (Family != SocketConstants.AF_INET)
        {
            return this;
        }

        AddressBytesBuffer mapped = default;
        Span<byte> bytes = mapped;
        bytes[10] = 0xff;
        bytes[11] = 0xff;
        AddressBytes.CopyTo(bytes[12..]);
        return new InetEndpoint(SocketConstants.AF_INET6, mapped, Port, 0, 0);
    }

    /// <summary>a.b.c.d for ::ffff:a.b.c.d; any other endpoint is returned as it is.</summary>
    public InetEndpoint MapToIPv4()
    {
        if (!IsIPv4MappedIPv6)
        {
            return this;
        }

        AddressBytesBuffer address = default;
        ((ReadOnlySpan<byte>)_address).Slice(12, 4).CopyTo(address);
        return new InetEndpoint(SocketConstants.AF_INET, address, Port, 0, 0);
    }

    /// <inheritdoc />
    public bool Equals(InetEndpoint other) =>
        Family == other.Family
        && Port == other.Port
        && ScopeId == other.ScopeId
        && ((ReadOnlySpan<byte>)_address).SequenceEqual(other._address);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is InetEndpoint other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Family);
        hash.Add(Port);
        hash.Add(ScopeId);
        hash.AddBytes(_address);
        return hash.ToHashCode();
    }

    /// <summary>"127.0.0.1:80", "[::1]:80", "[fe80::1%2]:80"; "(none)" for <c>default</c>. Allocates.</summary>
    public override string ToString() => Family == 0 ? "(none)" : ToIPEndPoint().ToString();

    /// <summary>Equality as <see cref="Equals(InetEndpoint)"/>.</summary>
    public static bool operator ==(InetEndpoint left, InetEndpoint right) => left.Equals(right);

    /// <summary>Inequality as <see cref="Equals(InetEndpoint)"/>.</summary>
    public static bool operator !=(InetEndpoint left, InetEndpoint right) => !left.Equals(right);

    /// <summary>16 inline bytes: an IPv6 address, or an IPv4 address in the first 4.</summary>
    [InlineArray(16)]
    private struct AddressBytesBuffer
    {
        private byte _element0;
    }
}
