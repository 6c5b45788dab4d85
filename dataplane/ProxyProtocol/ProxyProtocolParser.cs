namespace Istio.AppSwitch.ProxyProtocol;

/// <summary>
/// Parses one PROXY protocol header, v1 or v2, from the start of a buffer. It never reads past the header and never
/// throws for bad input: <see cref="TryParse(ReadOnlySpan{byte}, ProxyProtocolLimits?, out ProxyHeader?, out int, out ProxyProtocolError)"/>
/// reports it, and <see cref="Parse"/> throws only <see cref="ProxyProtocolException"/>.
/// </summary>
/// <remarks>
/// The receiver decides from configuration, never from the bytes, whether a header is expected (specification
/// section 5): these methods assume it is, and reject anything else.
/// </remarks>
public static class ProxyProtocolParser
{
    /// <summary>Parses a header with the default limits (see <see cref="TryParse(ReadOnlySpan{byte}, ProxyProtocolLimits?, out ProxyHeader?, out int, out ProxyProtocolError)"/>).</summary>
    public static ProxyParseStatus TryParse(ReadOnlySpan<byte> data, out ProxyHeader? header, out int consumed, out ProxyProtocolError error) =>
        TryParse(data, null, out header, out consumed, out error);

    /// <summary>
    /// Parses the header at the start of <paramref name="data"/>. Bytes after the header (the payload) are left alone.
    /// </summary>
    /// <param name="data">What has arrived so far.</param>
    /// <param name="limits">What to accept; <see cref="ProxyProtocolLimits.Default"/> when null.</param>
    /// <param name="header">The header, on <see cref="ProxyParseStatus.Success"/>; null otherwise.</param>
    /// <param name="consumed">The header's length, on <see cref="ProxyParseStatus.Success"/>; zero otherwise.</param>
    /// <param name="error">Why the bytes were rejected, on <see cref="ProxyParseStatus.Invalid"/>.</param>
    /// <returns><see cref="ProxyParseStatus.Incomplete"/> while <paramref name="data"/> is a valid beginning of a header
    /// (every strict prefix of a valid header is): read more and call again with all of it. An invalid beginning is
    /// reported as soon as it is seen, and a v2 length over the limit as soon as the 16-byte prefix is in.</returns>
    public static ProxyParseStatus TryParse(ReadOnlySpan<byte> data, ProxyProtocolLimits? limits, out ProxyHeader? header,
        out int consumed, out ProxyProtocolError error)
    {
        limits ??= ProxyProtocolLimits.Default;
        header = null;
        consumed = 0;
        error = ProxyProtocolError.None;
        if (data.IsEmpty)
        {
            return ProxyParseStatus.Incomplete;
        }

        // Section 2.2: the v2 signature starts with CR and v1 with "P", so the first byte picks the version.
        return data[0] switch
        {
            ProxyV2Parser.FirstByte => ProxyV2Parser.TryParse(data, limits, out header, out consumed, out error),
            ProxyV1Parser.FirstByte => ProxyV1Parser.TryParse(data, limits, out header, out consumed, out error),
            _ => Invalid(out error, ProxyProtocolErrorKind.InvalidSignature,
                $"The first byte 0x{data[0]:X2} starts neither a v2 signature nor \"PROXY \"."),
        };
    }

    /// <summary>Parses the header at the start of <paramref name="data"/>, which must hold all of it.</summary>
    /// <returns>The header; its <see cref="ProxyHeader.Length"/> is where the payload starts.</returns>
    /// <exception cref="ProxyProtocolException">The header is invalid (<see cref="ProxyProtocolException.Kind"/> says
    /// why), or <paramref name="data"/> ends before it does (<see cref="ProxyProtocolErrorKind.Truncated"/>).</exception>
    public static ProxyHeader Parse(ReadOnlySpan<byte> data, ProxyProtocolLimits? limits = null)
    {
        switch (TryParse(data, limits, out var header, out _, out var error))
        {
            case ProxyParseStatus.Success:
                return header!;
            case ProxyParseStatus.Incomplete:
                throw new ProxyProtocolException(ProxyProtocolErrorKind.Truncated,
                    $"The {data.Length} bytes given end before the PROXY header does.");
            default:
                throw error.ToException();
        }
    }

    internal static ProxyParseStatus Invalid(out ProxyProtocolError error, ProxyProtocolErrorKind kind, string message)
    {
        error = new ProxyProtocolError(kind, message);
        return ProxyParseStatus.Invalid;
    }
}
