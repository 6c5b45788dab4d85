using System.Buffers.Binary;
using System.Net;
using System.Text;
using System.Text.Unicode;
using static Istio.AppSwitch.ProxyProtocol.ProxyProtocolParser;

namespace Istio.AppSwitch.ProxyProtocol;

/// <summary>The binary format (specification section 2.2). Every check runs as soon as its bytes are in.</summary>
internal static class ProxyV2Parser
{
    public const byte FirstByte = 0x0D;

    private const int VersionOffset = 12;
    private const int FamilyOffset = 13;
    private const int LengthOffset = 14;
    private const int Prefix = ProxyProtocolLimits.V2PrefixLength;

    /// <summary>The 12-byte signature: <c>\r\n\r\n\0\r\nQUIT\n</c>.</summary>
    public static ReadOnlySpan<byte> Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    /// <summary>The length of the address block of a family: 4+4+2+2, 16+16+2+2, 108+108, or none.</summary>
    public static int AddressBlockLength(ProxyAddressFamily family) => family switch
    {
        ProxyAddressFamily.InterNetwork => 12,
        ProxyAddressFamily.InterNetworkV6 => 36,
        ProxyAddressFamily.Unix => 216,
        _ => 0,
    };

    public static ProxyParseStatus TryParse(ReadOnlySpan<byte> data, ProxyProtocolLimits limits, out ProxyHeader? header,
        out int consumed, out ProxyProtocolError error)
    {
        header = null;
        consumed = 0;
        error = ProxyProtocolError.None;

        var signatureBytes = Math.Min(data.Length, Signature.Length);
        if (!data[..signatureBytes].SequenceEqual(Signature[..signatureBytes]))
        {
            return Invalid(out error, ProxyProtocolErrorKind.InvalidSignature, "The bytes start like a v2 signature but differ from it.");
        }

        if (data.Length <= VersionOffset)
        {
            return ProxyParseStatus.Incomplete;
        }
        var version = data[VersionOffset] >> 4;
        if (version != 2)
        {
            return Invalid(out error, ProxyProtocolErrorKind.UnsupportedVersion, $"Version {version} follows the v2 signature; only 2 exists.");
        }
        var commandValue = data[VersionOffset] & 0x0F;
        if (commandValue > (int)ProxyCommand.Proxy)
        {
            return Invalid(out error, ProxyProtocolErrorKind.InvalidCommand, $"Command 0x{commandValue:X} is neither LOCAL (0) nor PROXY (1).");
        }
        var command = (ProxyCommand)commandValue;

        if (data.Length <= FamilyOffset)
        {
            return ProxyParseStatus.Incomplete;
        }
        var familyValue = data[FamilyOffset] >> 4;
        var transportValue = data[FamilyOffset] & 0x0F;
        if (familyValue > (int)ProxyAddressFamily.Unix || transportValue > (int)ProxyTransport.Datagram)
        {
            return Invalid(out error, ProxyProtocolErrorKind.InvalidAddressFamily,
                $"Family and transport byte 0x{data[FamilyOffset]:X2}: the family must be 0-3 and the transport 0-2.");
        }
        var family = (ProxyAddressFamily)familyValue;
        var transport = (ProxyTransport)transportValue;

        // Section 2.2 lists the combinations a sender may use: 0x00 and 0x11 to 0x32. LOCAL ignores the family, so
        // only PROXY is held to them.
        if (command == ProxyCommand.Proxy && (family == ProxyAddressFamily.Unspecified) != (transport == ProxyTransport.Unspecified))
        {
            return Invalid(out error, ProxyProtocolErrorKind.InvalidAddressFamily,
                $"Family {family} with transport {transport} is not a combination the specification defines.");
        }

        if (data.Length < Prefix)
        {
            return ProxyParseStatus.Incomplete;
        }
        var length = BinaryPrimitives.ReadUInt16BigEndian(data[LengthOffset..]);
        var total = Prefix + length;
        if (total > limits.MaxHeaderLength)
        {
            return Invalid(out error, ProxyProtocolErrorKind.HeaderTooLong,
                $"The header is {total} bytes, more than the limit of {limits.MaxHeaderLength}.");
        }

        // LOCAL: "receivers MUST always consider this field to skip the appropriate number of bytes and must not assume
        // zero is presented for LOCAL connections", and a LOCAL sender "should not present any address": both a
        // length of zero and a full address block (then TLVs) are accepted.
        var addressLength = AddressBlockLength(family);
        if (length < addressLength && !(command == ProxyCommand.Local && length == 0))
        {
            return Invalid(out error, ProxyProtocolErrorKind.AddressLengthMismatch,
                $"The length {length} is too short for the {addressLength} address bytes of family {family}.");
        }

        if (data.Length < total)
        {
            return ProxyParseStatus.Incomplete;
        }

        var body = data[Prefix..total];
        var tlvStart = Math.Min(addressLength, body.Length);
        if (ParseTlvs(data[..total], Prefix + tlvStart, limits, out var tlvs, out error) is not { } tlvResult)
        {
            return ProxyParseStatus.Invalid;
        }

        header = BuildHeader(command, family, transport, total, body, tlvResult, tlvs);
        consumed = total;
        return ProxyParseStatus.Success;
    }

    private static ProxyHeader BuildHeader(ProxyCommand command, ProxyAddressFamily family, ProxyTransport transport, int total,
        ReadOnlySpan<byte> body, TlvResult tlvResult, List<ProxyTlv> tlvs)
    {
        IPEndPoint? source = null, destination = null;
        ReadOnlyMemory<byte> sourceUnix = default, destinationUnix = default;

        // LOCAL: "the receiver must ... discard the protocol block including the family which is ignored".
        if (command == ProxyCommand.Proxy)
        {
            switch (family)
            {
                case ProxyAddressFamily.InterNetwork:
                    source = new IPEndPoint(new IPAddress(body[..4]), BinaryPrimitives.ReadUInt16BigEndian(body[8..]));
                    destination = new IPEndPoint(new IPAddress(body[4..8]), BinaryPrimitives.ReadUInt16BigEndian(body[10..]));
                    break;
                case ProxyAddressFamily.InterNetworkV6:
                    source = new IPEndPoint(new IPAddress(body[..16]), BinaryPrimitives.ReadUInt16BigEndian(body[32..]));
                    destination = new IPEndPoint(new IPAddress(body[16..32]), BinaryPrimitives.ReadUInt16BigEndian(body[34..]));
                    break;
                case ProxyAddressFamily.Unix:
                    sourceUnix = body[..108].ToArray();
                    destinationUnix = body[108..216].ToArray();
                    break;
            }
        }

        return new ProxyHeader(ProxyVersion.V2, command, family, transport, total)
        {
            Source = source,
            Destination = destination,
            SourceUnixAddress = sourceUnix,
            DestinationUnixAddress = destinationUnix,
            Tlvs = tlvs,
            HasChecksum = tlvResult.HasChecksum,
            Ssl = tlvResult.Ssl,
            AxLabels = tlvResult.Labels,
            AxIdentity = tlvResult.Identity,
            AxOriginalDestinationName = tlvResult.DestinationName,
            AxProtocol = tlvResult.Protocol,
        };
    }

    private sealed class TlvResult
    {
        public bool HasChecksum;
        public ProxySslInfo? Ssl;
        public IReadOnlyList<KeyValuePair<string, string>>? Labels;
        public AxIdentity? Identity;
        public string? DestinationName;
        public string? Protocol;
    }

    /// <summary>Parses and checks the TLVs of <paramref name="header"/> (the whole header) from <paramref name="start"/>
    /// on, then its checksum. Returns null with <paramref name="error"/> set when something is wrong.</summary>
    private static TlvResult? ParseTlvs(ReadOnlySpan<byte> header, int start, ProxyProtocolLimits limits, out List<ProxyTlv> tlvs,
        out ProxyProtocolError error)
    {
        error = ProxyProtocolError.None;
        tlvs = [];
        var result = new TlvResult();
        var region = header[start..];
        if (region.IsEmpty)
        {
            return CheckChecksum(header, -1, limits, result, ref error);
        }

        // One copy for all values: the TLVs the header hands out are slices of it.
        var copy = region.ToArray();
        var count = 0;
        var checksumOffset = -1;
        var offset = 0;
        while (offset < copy.Length)
        {
            if (!TryReadTlv(copy, offset, "TLV", ref count, limits, out var type, out var length, ref error))
            {
                return null;
            }

            var valueOffset = offset + ProxyTlv.HeaderLength;
            var value = copy.AsSpan(valueOffset, length);
            string? problem = null;
            switch (type)
            {
                case ProxyTlvType.Crc32c:
                    if (length != sizeof(uint))
                    {
                        problem = $"a CRC32C is 4 bytes, not {length}";
                    }
                    else if (checksumOffset >= 0)
                    {
                        error = new(ProxyProtocolErrorKind.InvalidTlv, "The header has two CRC32C TLVs.");
                        return null;
                    }
                    else
                    {
                        checksumOffset = start + valueOffset;
                    }
                    break;
                case ProxyTlvType.UniqueId when length > ProxyProtocolLimits.MaxUniqueIdLength:
                    problem = $"a unique id is at most {ProxyProtocolLimits.MaxUniqueIdLength} bytes, not {length}";
                    break;
                case ProxyTlvType.Authority when !Utf8.IsValid(value):
                    problem = "the authority is not valid UTF-8";
                    break;
                case ProxyTlvType.Netns when !Ascii.IsValid(value):
                    problem = "the network namespace name is not US-ASCII";
                    break;
                case ProxyTlvType.Ssl:
                    if (ParseSsl(copy, valueOffset, length, ref count, limits, ref error) is not { } ssl)
                    {
                        return null;
                    }
                    result.Ssl ??= ssl;
                    break;
                case ProxyTlvType.AxLabels:
                    problem = AxTlvs.TryDecodeLabels(value, out var labels);
                    result.Labels ??= labels;
                    break;
                case ProxyTlvType.AxIdentity:
                    problem = AxTlvs.TryDecodeIdentity(value, out var identity);
                    result.Identity ??= identity;
                    break;
                case ProxyTlvType.AxOriginalDestinationName:
                    problem = AxTlvs.TryDecodeDestinationName(value, out var name);
                    result.DestinationName ??= name;
                    break;
                case ProxyTlvType.AxProtocol:
                    problem = AxTlvs.TryDecodeProtocol(value, out var protocol);
                    result.Protocol ??= protocol;
                    break;
            }

            if (problem is not null)
            {
                error = new(ProxyProtocolErrorKind.InvalidTlvValue, $"TLV 0x{(byte)type:X2} ({type}): {problem}.");
                return null;
            }

            tlvs.Add(new ProxyTlv(type, copy.AsMemory(valueOffset, length)));
            offset = valueOffset + length;
        }

        return CheckChecksum(header, checksumOffset, limits, result, ref error);
    }

    /// <summary>Reads the type and length of the TLV at <paramref name="offset"/> and checks that its value fits exactly
    /// in <paramref name="region"/> and that the count stays within the limit.</summary>
    private static bool TryReadTlv(ReadOnlySpan<byte> region, int offset, string what, ref int count, ProxyProtocolLimits limits,
        out ProxyTlvType type, out int length, ref ProxyProtocolError error)
    {
        type = default;
        length = 0;
        var left = region.Length - offset;
        if (left < ProxyTlv.HeaderLength)
        {
            error = new(ProxyProtocolErrorKind.InvalidTlv, $"{left} byte(s) at the end of the {what}s are too few for a TLV.");
            return false;
        }

        type = (ProxyTlvType)region[offset];
        length = BinaryPrimitives.ReadUInt16BigEndian(region[(offset + 1)..]);
        if (length > left - ProxyTlv.HeaderLength)
        {
            error = new(ProxyProtocolErrorKind.InvalidTlv,
                $"{what} 0x{(byte)type:X2} claims {length} bytes but only {left - ProxyTlv.HeaderLength} remain.");
            return false;
        }

        if (++count > limits.MaxTlvCount)
        {
            error = new(ProxyProtocolErrorKind.TooManyTlvs, $"More than {limits.MaxTlvCount} TLVs.");
            return false;
        }

        return true;
    }

    private static ProxySslInfo? ParseSsl(byte[] copy, int offset, int length, ref int count, ProxyProtocolLimits limits,
        ref ProxyProtocolError error)
    {
        if (length < ProxySslInfo.FixedLength)
        {
            error = new(ProxyProtocolErrorKind.InvalidSsl, $"An SSL TLV is at least {ProxySslInfo.FixedLength} bytes, not {length}.");
            return null;
        }

        var client = (ProxySslClientFlags)copy[offset];
        var verify = BinaryPrimitives.ReadUInt32BigEndian(copy.AsSpan(offset + 1));
        var region = copy.AsSpan(0, offset + length);
        var subTlvs = new List<ProxyTlv>();
        var subOffset = offset + ProxySslInfo.FixedLength;
        while (subOffset < region.Length)
        {
            if (!TryReadTlv(region, subOffset, "SSL sub-TLV", ref count, limits, out var type, out var subLength, ref error))
            {
                return null;
            }

            var value = region.Slice(subOffset + ProxyTlv.HeaderLength, subLength);
            string? problem = type switch
            {
                // Depth one: "SSL sub-TLVs may not contain SSL", or a header could nest without bound.
                ProxyTlvType.Ssl => "an SSL TLV cannot contain another",
                ProxyTlvType.SslCommonName when !Utf8.IsValid(value) => "the common name is not valid UTF-8",
                ProxyTlvType.SslVersion or ProxyTlvType.SslCipher or ProxyTlvType.SslSignatureAlgorithm or ProxyTlvType.SslKeyAlgorithm
                    when !Ascii.IsValid(value) => $"sub-TLV 0x{(byte)type:X2} is not US-ASCII",
                _ => null,
            };
            if (problem is not null)
            {
                error = new(type == ProxyTlvType.Ssl ? ProxyProtocolErrorKind.InvalidSsl : ProxyProtocolErrorKind.InvalidTlvValue,
                    $"SSL TLV: {problem}.");
                return null;
            }

            subTlvs.Add(new ProxyTlv(type, copy.AsMemory(subOffset + ProxyTlv.HeaderLength, subLength)));
            subOffset += ProxyTlv.HeaderLength + subLength;
        }

        return new ProxySslInfo(client, verify, subTlvs);
    }

    /// <summary>Section 2.2.3: the CRC32C of the whole header with the checksum's 4 bytes zeroed, big-endian.</summary>
    private static TlvResult? CheckChecksum(ReadOnlySpan<byte> header, int checksumOffset, ProxyProtocolLimits limits, TlvResult result,
        ref ProxyProtocolError error)
    {
        if (checksumOffset < 0)
        {
            if (limits.RequireChecksum)
            {
                error = new(ProxyProtocolErrorKind.ChecksumMissing, "The header has no CRC32C TLV, and one is required.");
                return null;
            }

            return result;
        }

        var crc = Crc32C.Append(Crc32C.Seed, header[..checksumOffset]);
        crc = Crc32C.AppendZeros(crc, sizeof(uint));
        crc = Crc32C.Finish(Crc32C.Append(crc, header[(checksumOffset + sizeof(uint))..]));
        var sent = BinaryPrimitives.ReadUInt32BigEndian(header[checksumOffset..]);
        if (crc != sent)
        {
            error = new(ProxyProtocolErrorKind.ChecksumMismatch, $"The header's CRC32C is 0x{crc:X8}, the TLV says 0x{sent:X8}.");
            return null;
        }

        result.HasChecksum = true;
        return result;
    }
}
