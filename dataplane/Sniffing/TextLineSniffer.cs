namespace Istio.AppSwitch.Sniffing;

/// <summary>
/// The first line of a text protocol: an HTTP/1 request line when it ends in <c> HTTP/1.x</c>, otherwise a Redis
/// inline or memcached text command. A line ends at LF; a CR just before it is dropped (Redis and memcached accept a
/// bare LF, and RFC 9112 section 2.2 lets an HTTP recipient do the same).
/// </summary>
internal static class TextLineSniffer
{
    public static SniffStatus Sniff(ReadOnlySpan<byte> data, out SniffResult result)
    {
        var window = data.Length > SniffLimits.MaxLineLength ? data[..SniffLimits.MaxLineLength] : data;
        var lineFeed = window.IndexOf((byte)'\n');
        if (lineFeed < 0)
        {
            result = SniffResult.None;
            return data.Length < SniffLimits.MaxLineLength && IsLinePrefix(data) ? SniffStatus.NeedMoreData : SniffStatus.Unrecognized;
        }

        var line = data[..lineFeed];
        if (!line.IsEmpty && line[^1] == '\r')
        {
            line = line[..^1];
        }

        return Http1Sniffer.IsRequestLine(line)
            ? Http1Sniffer.Sniff(data, line, lineFeed + 1, out result)
            : TextCommandSniffer.Sniff(line, out result);
    }

    /// <summary>Whether <paramref name="data"/>, with no LF yet, can still become a request line or a command: a
    /// token of at most <see cref="SniffLimits.MaxVerbLength"/> characters, then only text (no control characters
    /// but tab, and a CR only as the last byte, where the LF is still to come).</summary>
    private static bool IsLinePrefix(ReadOnlySpan<byte> data)
    {
        var verbLength = 0;
        while (verbLength < data.Length && TextBytes.IsToken(data[verbLength]))
        {
            verbLength++;
        }

        if (verbLength == 0 || verbLength > SniffLimits.MaxVerbLength)
        {
            return false;
        }

        var rest = data[verbLength..];
        if (rest.IsEmpty)
        {
            return true;
        }

        if (rest[0] is not ((byte)' ' or (byte)'\t' or (byte)'\r'))
        {
            return false;
        }

        if (rest[^1] == '\r')
        {
            rest = rest[..^1];
        }

        return !TextBytes.ContainsControl(rest);
    }
}
