namespace Istio.AppSwitch.Sniffing;

/// <summary>
/// The bounds the sniffer keeps. The bytes come from a peer that has not authenticated, so every length is checked
/// before it is used and nothing is allocated for a value that is over its limit.
/// </summary>
public static class SniffLimits
{
    /// <summary>The longest TLS record fragment (RFC 8446 section 5.1: <c>length</c> must not exceed 2^14).</summary>
    public const int MaxTlsRecordLength = 16 * 1024;

    /// <summary>The longest ClientHello body inspected: what fits in one record with its 4-byte handshake header. A
    /// longer one is reported as TLS without SNI or ALPN.</summary>
    public const int MaxClientHelloLength = MaxTlsRecordLength - 4;

    /// <summary>The longest SNI host name (RFC 6066 section 3 and the DNS limit on a name).</summary>
    public const int MaxSniLength = 255;

    /// <summary>The most ALPN protocols kept; further ones are checked for form and dropped.</summary>
    public const int MaxAlpnProtocols = 16;

    /// <summary>The longest first line: an HTTP request line, or a Redis or memcached text command (Kestrel's
    /// request-line limit).</summary>
    public const int MaxLineLength = 8 * 1024;

    /// <summary>The longest HTTP method or text command verb.</summary>
    public const int MaxVerbLength = 32;

    /// <summary>The most HTTP header fields read (Kestrel's default).</summary>
    public const int MaxHeaderCount = 100;

    /// <summary>The longest HTTP header field line, name, colon and value.</summary>
    public const int MaxHeaderLineLength = 8 * 1024;

    /// <summary>The largest element count accepted in a Redis RESP array (Redis's own limit, 1024 * 1024).</summary>
    public const int MaxRespArrayLength = 1024 * 1024;

    /// <summary>The longest Redis command name read from a RESP bulk string.</summary>
    public const int MaxRespCommandLength = 64;
}
