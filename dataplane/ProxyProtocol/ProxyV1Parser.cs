using System.Net;
using static Istio.AppSwitch.ProxyProtocol.ProxyProtocolParser;

namespace Istio.AppSwitch.ProxyProtocol;

/// <summary>
/// The text format (specification section 2.1), strictly: exactly one space between fields, canonical addresses
/// (no leading zeros in IPv4 parts, at most one <c>::</c> in IPv6), ports without leading zeros, the line within
/// 107 bytes and ended by CRLF, never by a lone CR or LF.
/// </summary>
internal static class ProxyV1Parser
{
    public const byte FirstByte = (byte)'P';

    private static ReadOnlySpan<byte> Prefix => "PROXY "u8;

    public static ProxyParseStatus TryParse(ReadOnlySpan<byte> data, ProxyProtocolLimits limits, out ProxyHeader? header,
        out int consumed, out ProxyProtocolError error)
    {
        header = null;
        consumed = 0;
        error = ProxyProtocolError.None;

        var prefixBytes = Math.Min(data.Length, Prefix.Length);
        if (!data[..prefixBytes].SequenceEqual(Prefix[..prefixBytes]))
        {
            return Invalid(out error, ProxyProtocolErrorKind.InvalidSignature, "The bytes start like \"PROXY \" but differ from it.");
        }
        if (data.Length < Prefix.Length)
        {
            return ProxyParseStatus.Incomplete;
        }
        if (!limits.AllowV1)
        {
            return Invalid(out error, ProxyProtocolErrorKind.VersionNotAllowed, "A v1 header arrived, and only v2 is accepted.");
        }

        // "The receiver must not tolerate a single CR or LF character to end the line": the first CR or LF must be
        // the start of the CRLF, and it must come within 107 bytes.
        var scan = data[..Math.Min(data.Length, ProxyProtocolLimits.MaxV1HeaderLength)];
        var end = -1;
        for (var i = Prefix.Length; i < scan.Length; i++)
        {
            if (scan[i] == '\n')
            {
                return Invalid(out error, ProxyProtocolErrorKind.InvalidV1Syntax, $"A line feed without carriage return at byte {i}.");
            }
            if (scan[i] == '\r')
            {
                if (i + 2 > ProxyProtocolLimits.MaxV1HeaderLength)
                {
                    return Invalid(out error, ProxyProtocolErrorKind.HeaderTooLong, $"The v1 line is longer than {ProxyProtocolLimits.MaxV1HeaderLength} bytes.");
                }
                if (i + 1 == data.Length)
                {
                    return ProxyParseStatus.Incomplete;
                }
                if (data[i + 1] != '\n')
                {
                    return Invalid(out error, ProxyProtocolErrorKind.InvalidV1Syntax, $"A carriage return without line feed at byte {i}.");
                }

                end = i + 2;
                break;
            }
        }

        if (end < 0)
        {
            return data.Length >= ProxyProtocolLimits.MaxV1HeaderLength
                ? Invalid(out error, ProxyProtocolErrorKind.HeaderTooLong, $"No CRLF within the first {ProxyProtocolLimits.MaxV1HeaderLength} bytes.")
                : ProxyParseStatus.Incomplete;
        }

        var line = data[Prefix.Length..(end - 2)];
        if (ParseLine(line, end, out error) is not { } parsed)
        {
            return ProxyParseStatus.Invalid;
        }

        header = parsed;
        consumed = end;
        return ProxyParseStatus.Success;
    }

    private static ProxyHeader? ParseLine(ReadOnlySpan<byte> line, int length, out ProxyProtocolError error)
    {
        error = ProxyProtocolError.None;

        // "For UNKNOWN, the rest of the line before the CRLF may be omitted by the sender, and the receiver must ignore
        // anything presented before the CRLF is found."
        if (line.SequenceEqual("UNKNOWN"u8) || line.StartsWith("UNKNOWN "u8))
        {
            return new ProxyHeader(ProxyVersion.V1, ProxyCommand.Proxy, ProxyAddressFamily.Unspecified, ProxyTransport.Unspecified, length);
        }

        ProxyAddressFamily family;
        if (line.StartsWith("TCP4 "u8))
        {
            family = ProxyAddressFamily.InterNetwork;
        }
        else if (line.StartsWith("TCP6 "u8))
        {
            family = ProxyAddressFamily.InterNetworkV6;
        }
        else
        {
            error = new(ProxyProtocolErrorKind.InvalidV1Syntax, "The protocol is not TCP4, TCP6 or UNKNOWN followed by a space or CRLF.");
            return null;
        }

        // Four fields, one space apart: an empty field means two spaces in a row, or one at either end.
        Span<Range> fields = stackalloc Range[4];
        var rest = line[5..];
        var count = 0;
        foreach (var field in rest.Split((byte)' '))
        {
            if (count == fields.Length || field.Start.Equals(field.End))
            {
                count = -1;
                break;
            }
            fields[count++] = field;
        }
        if (count != fields.Length)
        {
            error = new(ProxyProtocolErrorKind.InvalidV1Syntax, "A TCP4 or TCP6 line has exactly four fields after the protocol, one space apart.");
            return null;
        }

        Span<byte> sourceBytes = stackalloc byte[16];
        Span<byte> destinationBytes = stackalloc byte[16];
        var addressLength = family == ProxyAddressFamily.InterNetwork ? 4 : 16;
        for (var i = 0; i < 2; i++)
        {
            var text = rest[fields[i]];
            var target = i == 0 ? sourceBytes : destinationBytes;
            var ok = family == ProxyAddressFamily.InterNetwork ? TryParseIPv4(text, target) : TryParseIPv6(text, target);
            if (!ok)
            {
                error = new(ProxyProtocolErrorKind.InvalidAddress,
                    $"The {(i == 0 ? "source" : "destination")} address is not a canonical {(family == ProxyAddressFamily.InterNetwork ? "IPv4" : "IPv6")} address.");
                return null;
            }
        }

        if (!TryParsePort(rest[fields[2]], out var sourcePort) || !TryParsePort(rest[fields[3]], out var destinationPort))
        {
            error = new(ProxyProtocolErrorKind.InvalidPort, "A port is not a decimal number in 0-65535 without leading zeros.");
            return null;
        }

        return new ProxyHeader(ProxyVersion.V1, ProxyCommand.Proxy, family, ProxyTransport.Stream, length)
        {
            Source = new IPEndPoint(new IPAddress(sourceBytes[..addressLength]), sourcePort),
            Destination = new IPEndPoint(new IPAddress(destinationBytes[..addressLength]), destinationPort),
        };
    }

    /// <summary>Four decimal parts of 0-255, one dot apart, without leading zeros ("to avoid any possible confusion with
    /// octal numbers").</summary>
    internal static bool TryParseIPv4(ReadOnlySpan<byte> text, Span<byte> address)
    {
        var i = 0;
        for (var part = 0; part < 4; part++)
        {
            if (part > 0)
            {
                if (i >= text.Length || text[i] != '.')
                {
                    return false;
                }
                i++;
            }

            var start = i;
            var value = 0;
            while (i < text.Length && char.IsAsciiDigit((char)text[i]) && i - start < 3)
            {
                value = (value * 10) + (text[i] - '0');
                i++;
            }

            var digits = i - start;
            if (digits == 0 || (digits > 1 && text[start] == '0') || value > 255)
            {
                return false;
            }
            address[part] = (byte)value;
        }

        return i == text.Length;
    }

    /// <summary>Groups of 1-4 hex digits, colon-separated, at most one <c>::</c>, 128 bits in all; the last 32 bits may
    /// be a dotted IPv4 address (<c>::ffff:127.0.0.1</c>, as inet_ntop and HAProxy write mapped addresses). No zone
    /// index and no brackets.</summary>
    internal static bool TryParseIPv6(ReadOnlySpan<byte> text, Span<byte> address)
    {
        Span<ushort> groups = stackalloc ushort[8];
        var count = 0;
        var gap = -1;
        var i = 0;
        if (text.StartsWith("::"u8))
        {
            gap = 0;
            i = 2;
        }

        while (i < text.Length)
        {
            if (count == 8)
            {
                return false;
            }

            var start = i;
            var value = 0;
            while (i < text.Length && char.IsAsciiHexDigit((char)text[i]) && i - start < 4)
            {
                value = (value << 4) | HexValue(text[i]);
                i++;
            }
            if (i < text.Length && text[i] == '.')
            {
                // The rest is an IPv4 address for the last two groups.
                Span<byte> ipv4 = stackalloc byte[4];
                if (count > 6 || !TryParseIPv4(text[start..], ipv4))
                {
                    return false;
                }
                groups[count++] = (ushort)((ipv4[0] << 8) | ipv4[1]);
                groups[count++] = (ushort)((ipv4[2] << 8) | ipv4[3]);
                i = text.Length;
                break;
            }
            if (i == start)
            {
                return false;
            }
            groups[count++] = (ushort)value;
            if (i == text.Length)
            {
                break;
            }
            if (text[i] != ':')
            {
                return false;
            }
            i++;
            if (i < text.Length && text[i] == ':')
            {
                if (gap >= 0)
                {
                    return false;
                }
                gap = count;
                i++;
            }
            else if (i == text.Length)
            {
                return false;
            }
        }

        if (gap < 0 ? count != 8 : count > 7)
        {
            return false;
        }

        // The groups after "::" move to the end; the gap between is zeros.
        address[..16].Clear();
        var zeros = 8 - count;
        for (var g = 0; g < count; g++)
        {
            var position = gap >= 0 && g >= gap ? g + zeros : g;
            address[position * 2] = (byte)(groups[g] >> 8);
            address[(position * 2) + 1] = (byte)groups[g];
        }

        return true;
    }

    private static int HexValue(byte digit) => digit switch
    {
        >= (byte)'0' and <= (byte)'9' => digit - '0',
        >= (byte)'a' and <= (byte)'f' => digit - 'a' + 10,
        _ => digit - 'A' + 10,
    };

    /// <summary>A decimal of 0-65535 without leading zeros.</summary>
    internal static bool TryParsePort(ReadOnlySpan<byte> text, out ushort port)
    {
        port = 0;
        if (text.Length is 0 or > 5 || (text.Length > 1 && text[0] == '0'))
        {
            return false;
        }

        var value = 0;
        foreach (var b in text)
        {
            if (!char.IsAsciiDigit((char)b))
            {
                return false;
            }
            value = (value * 10) + (b - '0');
        }
        if (value > ushort.MaxValue)
        {
            return false;
        }

        port = (ushort)value;
        return true;
    }
}
