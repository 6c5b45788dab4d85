using System.Text;

namespace Istio.AppSwitch.Sniffing;

/// <summary>
/// An HTTP/1.x request (RFC 9112): the request line, then the header block up to the empty line. Values are decoded
/// byte for byte (Latin-1), as HTTP/1 defines field bytes above 0x7F as opaque.
/// </summary>
internal static class Http1Sniffer
{
    private static readonly string[] KnownMethods = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE"];

    /// <summary>RFC 9112 section 3: <c>method SP request-target SP HTTP-version</c>, with single spaces, a token
    /// method, a target of visible bytes (bytes above 0x7F are let through, as many servers do), and version 1.x.
    /// This is what keeps memcached's <c>get k</c> and Redis's <c>GET k</c> from passing for HTTP.</summary>
    public static bool IsRequestLine(ReadOnlySpan<byte> line) => TrySplitRequestLine(line, out _, out _, out _);

    private static bool TrySplitRequestLine(ReadOnlySpan<byte> line, out ReadOnlySpan<byte> method, out ReadOnlySpan<byte> target,
        out byte minorVersion)
    {
        method = target = default;
        minorVersion = 0;
        var firstSpace = line.IndexOf((byte)' ');
        if (firstSpace is <= 0 or > SniffLimits.MaxVerbLength || !TextBytes.IsToken(line[..firstSpace]))
        {
            return false;
        }

        var rest = line[(firstSpace + 1)..];
        var secondSpace = rest.IndexOf((byte)' ');
        const int VersionLength = 8; // "HTTP/1.1"
        if (secondSpace <= 0 || rest.Length - secondSpace - 1 != VersionLength)
        {
            return false;
        }

        var version = rest[(secondSpace + 1)..];
        if (!version.StartsWith("HTTP/1."u8) || !char.IsAsciiDigit((char)version[^1]) ||
            TextBytes.ContainsControl(rest[..secondSpace]) || rest[..secondSpace].Contains((byte)'\t'))
        {
            return false;
        }

        method = line[..firstSpace];
        target = rest[..secondSpace];
        minorVersion = (byte)(version[^1] - '0');
        return true;
    }

    /// <summary>Reads the request whose request line is <paramref name="line"/>; its header block starts at
    /// <paramref name="headersStart"/> of <paramref name="data"/>.</summary>
    public static SniffStatus Sniff(ReadOnlySpan<byte> data, ReadOnlySpan<byte> line, int headersStart, out SniffResult result)
    {
        TrySplitRequestLine(line, out var methodBytes, out var target, out var minorVersion);
        var method = Intern(methodBytes);
        var targetAuthority = method == "CONNECT" ? target : AuthorityOfAbsoluteForm(target);
        var token = minorVersion == 0 ? Results.Http10Token : Results.Http11Token;

        var scan = ScanHeaders(data[headersStart..]);
        var host = !targetAuthority.IsEmpty ? targetAuthority
            : scan.Outcome != HeaderOutcome.Malformed && scan.HostCount == 1 ? scan.Host
            : default;
        var complete = scan.Outcome == HeaderOutcome.Complete;
        result = new SniffResult(SniffedProtocol.Http1, token)
        {
            Method = method,
            Path = Encoding.Latin1.GetString(target),
            Host = host.IsEmpty ? null : Encoding.Latin1.GetString(host),
            HeadersComplete = complete,
            Headers = complete ? ReadHeaders(data[headersStart..], scan.Count) : [],
        };
        return scan.Outcome == HeaderOutcome.Incomplete ? SniffStatus.NeedMoreData : SniffStatus.Complete;
    }

    private enum HeaderOutcome { Complete, Incomplete, OverLimit, Malformed }

    private readonly ref struct HeaderScan(HeaderOutcome outcome, int count, int hostCount, ReadOnlySpan<byte> host)
    {
        public HeaderOutcome Outcome { get; } = outcome;

        public int Count { get; } = count;

        public int HostCount { get; } = hostCount;

        public ReadOnlySpan<byte> Host { get; } = host;
    }

    /// <summary>Checks the header block without allocating, so that strings are made only for a block that is
    /// complete and valid. Counts the fields and finds the Host value.</summary>
    private static HeaderScan ScanHeaders(ReadOnlySpan<byte> block)
    {
        var count = 0;
        var hostCount = 0;
        ReadOnlySpan<byte> host = default;
        while (true)
        {
            var window = block.Length > SniffLimits.MaxHeaderLineLength ? block[..SniffLimits.MaxHeaderLineLength] : block;
            var lineFeed = window.IndexOf((byte)'\n');
            if (lineFeed < 0)
            {
                var outcome = block.Length >= SniffLimits.MaxHeaderLineLength ? HeaderOutcome.OverLimit
                    : IsFieldLinePrefix(block) ? HeaderOutcome.Incomplete
                    : HeaderOutcome.Malformed;
                return new HeaderScan(outcome, count, hostCount, host);
            }

            var line = TrimCarriageReturn(block[..lineFeed]);
            block = block[(lineFeed + 1)..];
            if (line.IsEmpty)
            {
                return new HeaderScan(HeaderOutcome.Complete, count, hostCount, host);
            }

            if (!TrySplitField(line, out var name, out var value))
            {
                return new HeaderScan(HeaderOutcome.Malformed, count, hostCount, host);
            }

            if (++count > SniffLimits.MaxHeaderCount)
            {
                return new HeaderScan(HeaderOutcome.OverLimit, count - 1, hostCount, host);
            }

            // RFC 9112 section 3.2: more than one Host field is a bad request, and ax must not pick one the
            // application would not; HostCount > 1 clears Host.
            if (name.Length == 4 && Ascii.EqualsIgnoreCase(name, "host"u8) && hostCount++ == 0)
            {
                host = value;
            }
        }
    }

    private static KeyValuePair<string, string>[] ReadHeaders(ReadOnlySpan<byte> block, int count)
    {
        var headers = new KeyValuePair<string, string>[count];
        for (var i = 0; i < count; i++)
        {
            var lineFeed = block.IndexOf((byte)'\n');
            TrySplitField(TrimCarriageReturn(block[..lineFeed]), out var name, out var value);
            block = block[(lineFeed + 1)..];
            headers[i] = new(LowerName(name), Encoding.Latin1.GetString(value));
        }

        return headers;
    }

    /// <summary>RFC 9110 section 5 and RFC 9112 section 5: <c>token ":" OWS value OWS</c>, no whitespace before the
    /// colon, no obsolete line folding, no control characters in the value.</summary>
    private static bool TrySplitField(ReadOnlySpan<byte> line, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        var colon = line.IndexOf((byte)':');
        name = colon > 0 ? line[..colon] : default;
        value = colon > 0 ? TextBytes.TrimWhitespace(line[(colon + 1)..]) : default;
        return colon > 0 && TextBytes.IsToken(name) && !TextBytes.ContainsControl(value);
    }

    /// <summary>Whether a field line without its LF can still become valid: a token name so far, or a name, a colon
    /// and text; a CR only at the very end.</summary>
    private static bool IsFieldLinePrefix(ReadOnlySpan<byte> partial)
    {
        if (!partial.IsEmpty && partial[^1] == '\r')
        {
            partial = partial[..^1];
        }

        var colon = partial.IndexOf((byte)':');
        return colon < 0
            ? partial.IsEmpty || TextBytes.IsToken(partial)
            : colon > 0 && TextBytes.IsToken(partial[..colon]) && !TextBytes.ContainsControl(partial[(colon + 1)..]);
    }

    private static ReadOnlySpan<byte> TrimCarriageReturn(ReadOnlySpan<byte> line) =>
        !line.IsEmpty && line[^1] == '\r' ? line[..^1] : line;

    /// <summary>RFC 9112 section 3.2.2: the authority of <c>scheme "://" authority path-abempty [ "?" query ]</c>,
    /// without userinfo; empty when the target is not in absolute form.</summary>
    private static ReadOnlySpan<byte> AuthorityOfAbsoluteForm(ReadOnlySpan<byte> target)
    {
        var separator = target.IndexOf("://"u8);
        if (separator <= 0 || !char.IsAsciiLetter((char)target[0]) ||
            target[..separator].ContainsAnyExcept("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-."u8))
        {
            return default;
        }

        var authority = target[(separator + 3)..];
        var end = authority.IndexOfAny("/?#"u8);
        if (end >= 0)
        {
            authority = authority[..end];
        }

        var at = authority.LastIndexOf((byte)'@');
        return at >= 0 ? authority[(at + 1)..] : authority;
    }

    private static string Intern(ReadOnlySpan<byte> method)
    {
        foreach (var known in KnownMethods)
        {
            if (method.Length == known.Length && Ascii.Equals(method, known))
            {
                return known;
            }
        }

        return Encoding.ASCII.GetString(method);
    }

    private static string LowerName(ReadOnlySpan<byte> name) =>
        string.Create(name.Length, name, static (chars, bytes) => Ascii.ToLower(bytes, chars, out _));
}
