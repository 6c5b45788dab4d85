using System.Buffers.Binary;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Policy.LoadBalancing;

/// <summary>
/// Writes an address (without port) as UTF-8 text the way glibc's <c>inet_ntop</c> does, which is what Envoy hashes
/// for a source-IP hash policy (<c>Address::Ip::addressAsString</c>). Allocation-free, unlike
/// <see cref="System.Net.IPAddress.ToString"/>, because it runs on every connect of a hash-policy cluster.
/// </summary>
internal static class AddressText
{
    /// <summary>Enough for any IPv6 text form ("ffff:...:255.255.255.255" is 45 bytes).</summary>
    public const int MaxLength = 46;

    /// <summary>Writes the address of <paramref name="endpoint"/> into <paramref name="destination"/> (at least
    /// <see cref="MaxLength"/> bytes) and returns the length; 0 for an endpoint with no family.</summary>
    public static int Format(in InetEndpoint endpoint, Span<byte> destination)
    {
        var bytes = endpoint.AddressBytes;
        if (endpoint.IsIPv4)
        {
            return FormatIPv4(bytes, destination);
        }

        if (!endpoint.IsIPv6)
        {
            return 0;
        }

        Span<ushort> words = stackalloc ushort[8];
        for (var i = 0; i < 8; i++)
        {
            words[i] = BinaryPrimitives.ReadUInt16BigEndian(bytes[(2 * i)..]);
        }

        // The longest run of two or more zero words becomes "::"; the first one wins a tie.
        int bestStart = -1, bestLength = 0, runStart = -1;
        for (var i = 0; i <= 8; i++)
        {
            if (i < 8 && words[i] == 0)
            {
                if (runStart < 0)
                {
                    runStart = i;
                }
            }
            else if (runStart >= 0)
            {
                var runLength = i - runStart;
                if (runLength >= 2 && runLength > bestLength)
                {
                    bestStart = runStart;
                    bestLength = runLength;
                }

                runStart = -1;
            }
        }

        var written = 0;
        for (var i = 0; i < 8; i++)
        {
            if (bestStart >= 0 && i >= bestStart && i < bestStart + bestLength)
            {
                if (i == bestStart)
                {
                    destination[written++] = (byte)':';
                }

                continue;
            }

            if (i != 0)
            {
                destination[written++] = (byte)':';
            }

            // inet_ntop keeps the IPv4 notation for IPv4-compatible (::a.b.c.d) and IPv4-mapped (::ffff:a.b.c.d).
            if (i == 6 && bestStart == 0 && (bestLength == 6 || (bestLength == 5 && words[5] == 0xffff)))
            {
                written += FormatIPv4(bytes[12..], destination[written..]);
                return written;
            }

            written += FormatHex(words[i], destination[written..]);
        }

        if (bestStart >= 0 && bestStart + bestLength == 8)
        {
            destination[written++] = (byte)':';
        }

        return written;
    }

    private static int FormatIPv4(ReadOnlySpan<byte> address, Span<byte> destination)
    {
        var written = 0;
        for (var i = 0; i < 4; i++)
        {
            if (i != 0)
            {
                destination[written++] = (byte)'.';
            }

            var value = address[i];
            if (value >= 100)
            {
                destination[written++] = (byte)('0' + (value / 100));
            }

            if (value >= 10)
            {
                destination[written++] = (byte)('0' + (value / 10 % 10));
            }

            destination[written++] = (byte)('0' + (value % 10));
        }

        return written;
    }

    private static int FormatHex(ushort value, Span<byte> destination)
    {
        var written = 0;
        for (var shift = 12; shift >= 0; shift -= 4)
        {
            var digit = (value >> shift) & 0xf;
            if (written == 0 && digit == 0 && shift != 0)
            {
                continue;
            }

            destination[written++] = (byte)(digit < 10 ? '0' + digit : 'a' + digit - 10);
        }

        return written;
    }
}
