namespace Istio.AppSwitch.ProxyProtocol;

/// <summary>Why a PROXY protocol header was rejected.</summary>
public enum ProxyProtocolErrorKind
{
    /// <summary>No error.</summary>
    None = 0,

    /// <summary>The input ended before the header did (only from the parse methods that need a whole header).</summary>
    Truncated,

    /// <summary>The bytes start with neither the v2 signature nor <c>PROXY </c>.</summary>
    InvalidSignature,

    /// <summary>A v2 signature followed by a version other than 2.</summary>
    UnsupportedVersion,

    /// <summary>A valid v1 header where <see cref="ProxyProtocolLimits.AllowV1"/> is false.</summary>
    VersionNotAllowed,

    /// <summary>A v2 command other than LOCAL (0) and PROXY (1).</summary>
    InvalidCommand,

    /// <summary>A v2 address family or transport the specification does not define, or a combination of them that
    /// a PROXY command may not use.</summary>
    InvalidAddressFamily,

    /// <summary>Longer than <see cref="ProxyProtocolLimits.MaxHeaderLength"/> (v2), or no CRLF within 107 bytes (v1).</summary>
    HeaderTooLong,

    /// <summary>The v2 length is too short for the addresses of its family.</summary>
    AddressLengthMismatch,

    /// <summary>A TLV (or SSL sub-TLV) that does not fit exactly in what is left of the header, or a second CRC32C.</summary>
    InvalidTlv,

    /// <summary>More TLVs (SSL sub-TLVs included) than <see cref="ProxyProtocolLimits.MaxTlvCount"/>.</summary>
    TooManyTlvs,

    /// <summary>A known TLV whose value breaks its format: a unique id over 128 bytes, a CRC32C that is not 4 bytes,
    /// text that is not valid UTF-8 (or US-ASCII), or one of ax's TLVs that does not follow its encoding.</summary>
    InvalidTlvValue,

    /// <summary>An SSL TLV shorter than its 5 fixed bytes, or with an SSL TLV nested inside it.</summary>
    InvalidSsl,

    /// <summary>The CRC32C TLV does not match the header.</summary>
    ChecksumMismatch,

    /// <summary>No CRC32C TLV while <see cref="ProxyProtocolLimits.RequireChecksum"/> is true.</summary>
    ChecksumMissing,

    /// <summary>A v1 line that is not <c>PROXY TCP4|TCP6|UNKNOWN ...\r\n</c> with single spaces, or a lone CR or LF.</summary>
    InvalidV1Syntax,

    /// <summary>A v1 address that is not in canonical form or not of the announced family.</summary>
    InvalidAddress,

    /// <summary>A v1 port that is not a decimal in 0–65535 without leading zeros.</summary>
    InvalidPort,

    /// <summary>The stream reader gave up waiting for the rest of the header.</summary>
    Timeout,

    /// <summary>The stream ended before the header did.</summary>
    ConnectionClosed,
}

/// <summary>An error kind and a message that says what was wrong, where.</summary>
/// <param name="Kind">The kind of error; <see cref="ProxyProtocolErrorKind.None"/> for none.</param>
/// <param name="Message">A description for logs.</param>
public readonly record struct ProxyProtocolError(ProxyProtocolErrorKind Kind, string Message)
{
    /// <summary>No error.</summary>
    public static ProxyProtocolError None => new(ProxyProtocolErrorKind.None, string.Empty);

    /// <summary>The exception that reports this error.</summary>
    public ProxyProtocolException ToException() => new(Kind, Message);

    /// <inheritdoc />
    public override string ToString() => $"{Kind}: {Message}";
}

/// <summary>
/// A PROXY protocol header was invalid, or could not be read. The parser and the reader throw no other exception
/// for bad input: the connection it came on should be closed.
/// </summary>
public sealed class ProxyProtocolException : Exception
{
    /// <summary>Creates an exception of a kind.</summary>
    public ProxyProtocolException(ProxyProtocolErrorKind kind, string message)
        : base(message)
    {
        Kind = kind;
    }

    /// <summary>Creates an exception of a kind, caused by another.</summary>
    public ProxyProtocolException(ProxyProtocolErrorKind kind, string message, Exception innerException)
        : base(message, innerException)
    {
        Kind = kind;
    }

    /// <summary>Creates an exception with no particular kind.</summary>
    public ProxyProtocolException()
        : this(ProxyProtocolErrorKind.None, "Invalid PROXY protocol header.")
    {
    }

    /// <summary>Creates an exception with no particular kind.</summary>
    public ProxyProtocolException(string message)
        : this(ProxyProtocolErrorKind.None, message)
    {
    }

    /// <summary>Creates an exception with no particular kind, caused by another.</summary>
    public ProxyProtocolException(string message, Exception innerException)
        : this(ProxyProtocolErrorKind.None, message, innerException)
    {
    }

    /// <summary>What was wrong.</summary>
    public ProxyProtocolErrorKind Kind { get; }

    /// <summary>The error as a value.</summary>
    public ProxyProtocolError Error => new(Kind, Message);
}
