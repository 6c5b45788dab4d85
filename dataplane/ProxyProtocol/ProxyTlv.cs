using System.Text;

namespace Istio.AppSwitch.ProxyProtocol;

/// <summary>
/// One v2 TLV: a type byte and a value of at most 65535 bytes. Parsed headers hand out every TLV this way, known or
/// not; the writer takes them this way. The value is not copied: a caller that builds TLVs once (per workload, per
/// destination) and writes them on every connection allocates nothing per connection.
/// </summary>
public readonly struct ProxyTlv : IEquatable<ProxyTlv>
{
    /// <summary>The largest value a TLV can carry (its length is 16 bits).</summary>
    public const int MaxValueLength = ushort.MaxValue;

    /// <summary>Type and length, before the value.</summary>
    public const int HeaderLength = 3;

    /// <summary>Creates a TLV.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="value"/> is longer than <see cref="MaxValueLength"/>.</exception>
    public ProxyTlv(ProxyTlvType type, ReadOnlyMemory<byte> value)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(value.Length, MaxValueLength, nameof(value));
        Type = type;
        Value = value;
    }

    /// <summary>The type byte.</summary>
    public ProxyTlvType Type { get; }

    /// <summary>The value bytes.</summary>
    public ReadOnlyMemory<byte> Value { get; }

    /// <summary>The bytes this TLV takes on the wire.</summary>
    public int EncodedLength => HeaderLength + Value.Length;

    /// <summary>A TLV whose value is <paramref name="text"/> in UTF-8.</summary>
    public static ProxyTlv FromText(ProxyTlvType type, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new ProxyTlv(type, Encoding.UTF8.GetBytes(text));
    }

    /// <summary>PP2_TYPE_ALPN with the protocol id <paramref name="protocol"/> (for example <c>h2</c>).</summary>
    public static ProxyTlv Alpn(string protocol) => FromText(ProxyTlvType.Alpn, protocol);

    /// <summary>PP2_TYPE_AUTHORITY with the host name <paramref name="authority"/>.</summary>
    public static ProxyTlv Authority(string authority) => FromText(ProxyTlvType.Authority, authority);

    /// <summary>PP2_TYPE_UNIQUE_ID with <paramref name="id"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="id"/> is longer than 128 bytes.</exception>
    public static ProxyTlv UniqueId(ReadOnlyMemory<byte> id)
    {
        if (id.Length > ProxyProtocolLimits.MaxUniqueIdLength)
        {
            throw new ArgumentException($"A unique id is at most {ProxyProtocolLimits.MaxUniqueIdLength} bytes, not {id.Length}.", nameof(id));
        }

        return new ProxyTlv(ProxyTlvType.UniqueId, id);
    }

    /// <summary>PP2_TYPE_UNIQUE_ID with <paramref name="id"/> in UTF-8.</summary>
    /// <exception cref="ArgumentException"><paramref name="id"/> is longer than 128 bytes in UTF-8.</exception>
    public static ProxyTlv UniqueId(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        return UniqueId(Encoding.UTF8.GetBytes(id));
    }

    /// <summary>PP2_TYPE_NETNS with the namespace name <paramref name="name"/> (US-ASCII).</summary>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not US-ASCII.</exception>
    public static ProxyTlv Netns(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!Ascii.IsValid(name))
        {
            throw new ArgumentException("A network namespace name is US-ASCII.", nameof(name));
        }

        return FromText(ProxyTlvType.Netns, name);
    }

    /// <summary>PP2_TYPE_NOOP with <paramref name="length"/> zero bytes, to pad a header.</summary>
    public static ProxyTlv Noop(int length) => new(ProxyTlvType.Noop, new byte[length]);

    /// <inheritdoc />
    public bool Equals(ProxyTlv other) => Type == other.Type && Value.Span.SequenceEqual(other.Value.Span);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is ProxyTlv other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Type);
        hash.AddBytes(Value.Span);
        return hash.ToHashCode();
    }

    /// <summary>Equal type and equal value bytes.</summary>
    public static bool operator ==(ProxyTlv left, ProxyTlv right) => left.Equals(right);

    /// <summary>Different type or different value bytes.</summary>
    public static bool operator !=(ProxyTlv left, ProxyTlv right) => !left.Equals(right);

    /// <inheritdoc />
    public override string ToString() => $"0x{(byte)Type:X2} ({Type}) [{Value.Length}] {Convert.ToHexString(Value.Span)}";
}
