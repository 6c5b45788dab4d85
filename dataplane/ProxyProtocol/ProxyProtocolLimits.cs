namespace Istio.AppSwitch.ProxyProtocol;

/// <summary>
/// What a receiver accepts. A PROXY header comes before any authentication, from a peer that may be hostile, so
/// every size is bounded before anything is read or allocated for it.
/// </summary>
public sealed record ProxyProtocolLimits
{
    /// <summary>The longest v1 line, CRLF included (specification section 2.1: <c>PROXY UNKNOWN</c> with two full IPv6
    /// addresses and ports).</summary>
    public const int MaxV1HeaderLength = 107;

    /// <summary>The fixed part of a v2 header: signature, version and command, family and transport, length.</summary>
    public const int V2PrefixLength = 16;

    /// <summary>The longest v2 header the format can express: the prefix and a 16-bit length.</summary>
    public const int MaxV2HeaderLengthPossible = V2PrefixLength + ushort.MaxValue;

    /// <summary>The longest PP2_TYPE_UNIQUE_ID value (specification section 2.2.5).</summary>
    public const int MaxUniqueIdLength = 128;

    /// <summary>The limits used when none are given.</summary>
    public static ProxyProtocolLimits Default { get; } = new();

    /// <summary>
    /// The longest v2 header accepted, the 16-byte prefix, addresses and TLVs included (4096 by default, at least
    /// <see cref="V2PrefixLength"/> plus the 216 bytes of Unix addresses, at most <see cref="MaxV2HeaderLengthPossible"/>).
    /// The length field is checked against it before the rest of the header is read.
    /// </summary>
    public int MaxHeaderLength
    {
        get;
        init => field = value is >= V2PrefixLength + 216 and <= MaxV2HeaderLengthPossible
            ? value
            : throw new ArgumentOutOfRangeException(nameof(MaxHeaderLength), value,
                $"Must be between {V2PrefixLength + 216} and {MaxV2HeaderLengthPossible}.");
    } = 4096;

    /// <summary>The most TLVs accepted in one header, SSL sub-TLVs included (64 by default).</summary>
    public int MaxTlvCount
    {
        get;
        init => field = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(MaxTlvCount), value, "Must not be negative.");
    } = 64;

    /// <summary>Whether v1 (text) headers are accepted (true by default).</summary>
    public bool AllowV1 { get; init; } = true;

    /// <summary>Whether a v2 header must carry a CRC32C TLV (false by default). v1 headers have none and are
    /// unaffected: set <see cref="AllowV1"/> to false as well to insist on checksums.</summary>
    public bool RequireChecksum { get; init; }
}
