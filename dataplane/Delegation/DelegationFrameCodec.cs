using System.Buffers.Binary;
using Istio.AppSwitch.ProxyProtocol;

namespace Istio.AppSwitch.Delegation;

/// <summary>The fixed part of a frame, as decoded.</summary>
/// <param name="Kind">Outbound or inbound.</param>
/// <param name="FdCount">How many fds came with the frame.</param>
/// <param name="Id">The delegation id, unique per daemon run.</param>
/// <param name="MetadataLength">The length of the PROXY v2 header that follows.</param>
public readonly record struct DelegationFrameHeader(DelegationKind Kind, int FdCount, ulong Id, int MetadataLength);

/// <summary>
/// The frame format of docs/delegation.md, pure code: <c>"AXD1" kind:u8 nfds:u8 flags:u16 id:u64 len:u32</c>, all
/// big endian, then <c>len</c> bytes of PROXY v2 header. Encoding allocates nothing (the daemon encodes on the
/// trapped syscall's path); decoding checks everything a receiver must not trust.
/// </summary>
public static class DelegationFrameCodec
{
    /// <summary>The length of the fixed part.</summary>
    public const int FixedLength = 20;

    /// <summary>The longest frame, fixed part included: what one sendmsg carries and one receive buffer holds.</summary>
    public const int MaxFrameLength = 64 * 1024;

    /// <summary>The longest metadata.</summary>
    public const int MaxMetadataLength = MaxFrameLength - FixedLength;

    /// <summary>The most fds a frame carries (inbound: the socketpair end and the accepted socket).</summary>
    public const int MaxFds = 2;

    // The PROXY v2 signature (HAProxy's proxy-protocol.txt, section 2.2).
    private static ReadOnlySpan<byte> V2Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    /// <summary>"AXD1".</summary>
    public static ReadOnlySpan<byte> Magic => "AXD1"u8;

    /// <summary>The limits metadata is parsed with: any PROXY v2 header that fits in a frame.</summary>
    public static ProxyProtocolLimits MetadataLimits { get; } = new()
    {
        MaxHeaderLength = ProxyProtocolLimits.MaxV2HeaderLengthPossible,
        MaxTlvCount = 1024,
        AllowV1 = false,
    };

    /// <summary>How many fds a frame of <paramref name="kind"/> carries: 1 outbound, 2 inbound.</summary>
    public static int FdCountFor(DelegationKind kind) => kind == DelegationKind.Inbound ? 2 : 1;

    /// <summary>
    /// Writes the frame (fixed part and metadata) to <paramref name="destination"/> and returns its length. Checks
    /// only what is cheap (the v2 signature and that the header's own length field matches), since the daemon's
    /// caller built the header with <see cref="ProxyV2Writer"/>.
    /// </summary>
    /// <exception cref="ArgumentException">An unknown kind, metadata that is not one v2 header or is too long, or a
    /// destination too small.</exception>
    public static int Encode(Span<byte> destination, DelegationKind kind, ulong id, ReadOnlySpan<byte> metadata)
    {
        if (kind is not (DelegationKind.Outbound or DelegationKind.Inbound))
        {
            throw new ArgumentException($"Unknown delegation kind {(int)kind}.", nameof(kind));
        }
        if (metadata.Length > MaxMetadataLength)
        {
            throw new ArgumentException($"The metadata is {metadata.Length} bytes; a frame holds at most {MaxMetadataLength}.", nameof(metadata));
        }
        if (!LooksLikeOneV2Header(metadata))
        {
            throw new ArgumentException("The metadata must be exactly one PROXY v2 header.", nameof(metadata));
        }
        var length = FixedLength + metadata.Length;
        if (destination.Length < length)
        {
            throw new ArgumentException($"The destination holds {destination.Length} bytes; the frame takes {length}.", nameof(destination));
        }
        Magic.CopyTo(destination);
        destination[4] = (byte)kind;
        destination[5] = (byte)FdCountFor(kind);
        BinaryPrimitives.WriteUInt16BigEndian(destination[6..], 0);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], id);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], (uint)metadata.Length);
        metadata.CopyTo(destination[FixedLength..]);
        return length;
    }

    /// <summary>Decodes and checks the fixed part: magic, kind, nfds for the kind, flags 0, length within the limit.</summary>
    /// <exception cref="DelegationProtocolException">The fixed part is malformed.</exception>
    public static DelegationFrameHeader DecodeFixed(ReadOnlySpan<byte> fixedPart, int maxMetadataLength = MaxMetadataLength)
    {
        if (fixedPart.Length < FixedLength)
        {
            throw new DelegationProtocolException(DelegationErrorKind.Truncated, $"A frame's fixed part is {FixedLength} bytes; got {fixedPart.Length}.");
        }
        if (!fixedPart[..4].SequenceEqual(Magic))
        {
            throw new DelegationProtocolException(DelegationErrorKind.BadMagic, $"The frame starts with 0x{Convert.ToHexString(fixedPart[..4])}, not \"AXD1\".");
        }
        var kind = (DelegationKind)fixedPart[4];
        if (kind is not (DelegationKind.Outbound or DelegationKind.Inbound))
        {
            throw new DelegationProtocolException(DelegationErrorKind.BadKind, $"Frame kind {fixedPart[4]} is neither 1 (outbound) nor 2 (inbound).");
        }
        int fds = fixedPart[5];
        if (fds != FdCountFor(kind))
        {
            throw new DelegationProtocolException(DelegationErrorKind.BadFdCount,
                $"An {kind.ToName()} frame carries {FdCountFor(kind)} fd(s); this one says {fds}.");
        }
        var flags = BinaryPrimitives.ReadUInt16BigEndian(fixedPart[6..]);
        if (flags != 0)
        {
            throw new DelegationProtocolException(DelegationErrorKind.BadFlags, $"Frame flags 0x{flags:X4}; only 0 is defined.");
        }
        var id = BinaryPrimitives.ReadUInt64BigEndian(fixedPart[8..]);
        var length = BinaryPrimitives.ReadUInt32BigEndian(fixedPart[16..]);
        if (length > (uint)Math.Min(maxMetadataLength, MaxMetadataLength))
        {
            throw new DelegationProtocolException(DelegationErrorKind.TooLong,
                $"Frame metadata of {length} bytes is over the limit of {Math.Min(maxMetadataLength, MaxMetadataLength)}.");
        }
        return new DelegationFrameHeader(kind, fds, id, (int)length);
    }

    /// <summary>Parses the metadata: it must be exactly one complete, valid PROXY v2 header, nothing after it.</summary>
    /// <exception cref="DelegationProtocolException">It is not.</exception>
    public static ProxyHeader DecodeMetadata(ReadOnlySpan<byte> metadata)
    {
        if (metadata.Length == 0 || !metadata.StartsWith(V2Signature))
        {
            throw new DelegationProtocolException(DelegationErrorKind.BadMetadata, "The frame's metadata is not a PROXY v2 header (no v2 signature).");
        }
        var status = ProxyProtocolParser.TryParse(metadata, MetadataLimits, out var header, out var consumed, out var error);
        switch (status)
        {
            case ProxyParseStatus.Success when consumed == metadata.Length:
                return header!;
            case ProxyParseStatus.Success:
                throw new DelegationProtocolException(DelegationErrorKind.BadMetadata,
                    $"The frame's metadata has {metadata.Length - consumed} byte(s) after its PROXY v2 header.");
            case ProxyParseStatus.Incomplete:
                throw new DelegationProtocolException(DelegationErrorKind.BadMetadata, "The frame's metadata is an incomplete PROXY v2 header.");
            default:
                throw new DelegationProtocolException(DelegationErrorKind.BadMetadata, $"The frame's metadata is not a valid PROXY v2 header: {error}.");
        }
    }

    // The v2 signature and the header's own length field: what can be checked without parsing (or allocating).
    private static bool LooksLikeOneV2Header(ReadOnlySpan<byte> metadata) =>
        metadata.Length >= ProxyProtocolLimits.V2PrefixLength
        && metadata.StartsWith(V2Signature)
        && ProxyProtocolLimits.V2PrefixLength + BinaryPrimitives.ReadUInt16BigEndian(metadata[14..]) == metadata.Length;
}
