using System.Globalization;
using System.Text;

namespace Istio.AppSwitch.Grpc;

/// <summary>
/// The pure parts of gRPC over HTTP/2 that both ends need: header names, the <c>grpc-timeout</c> and
/// <c>grpc-message</c> codecs, and the mapping of HTTP statuses and HTTP/2 error codes to gRPC status codes
/// (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md,
/// https://github.com/grpc/grpc/blob/master/doc/http-grpc-status-mapping.md).
/// </summary>
public static class GrpcProtocol
{
    /// <summary>The content type of gRPC requests and responses.</summary>
    public const string ContentType = "application/grpc";

    /// <summary>The trailer (or trailers-only header) that carries the status code.</summary>
    public const string StatusHeader = "grpc-status";

    /// <summary>The trailer that carries the percent-encoded status detail.</summary>
    public const string MessageHeader = "grpc-message";

    /// <summary>The request header that carries the call's timeout.</summary>
    public const string TimeoutHeader = "grpc-timeout";

    /// <summary>The header that names the message encoding (compression).</summary>
    public const string EncodingHeader = "grpc-encoding";

    /// <summary>The header that lists the encodings a peer accepts.</summary>
    public const string AcceptEncodingHeader = "grpc-accept-encoding";

    /// <summary>The only message encoding this library speaks.</summary>
    public const string IdentityEncoding = "identity";

    private const int MaxTimeoutValue = 99_999_999;

    // grpc-timeout units from finest to coarsest, in nanoseconds (TimeoutValue is at most 8 digits).
    private static readonly (char Unit, long Nanoseconds)[] TimeoutUnits =
    [
        ('n', 1), ('u', 1_000), ('m', 1_000_000), ('S', 1_000_000_000), ('M', 60_000_000_000), ('H', 3_600_000_000_000),
    ];

    /// <summary>
    /// Whether a response content type is gRPC: <c>application/grpc</c>, optionally followed by <c>+format</c> or
    /// parameters.
    /// </summary>
    public static bool IsGrpcContentType(string? contentType)
    {
        if (contentType is null || !contentType.StartsWith(ContentType, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return contentType.Length == ContentType.Length || contentType[ContentType.Length] is '+' or ';';
    }

    /// <summary>
    /// Encodes a positive timeout as <c>grpc-timeout</c>: at most 8 digits in the finest unit that fits, rounded up
    /// so the server never sees a shorter deadline than the client's.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The timeout is not positive.</exception>
    public static string EncodeTimeout(TimeSpan timeout)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        var nanoseconds = (decimal)timeout.Ticks * 100;
        foreach (var (unit, size) in TimeoutUnits)
        {
            var value = decimal.Ceiling(nanoseconds / size);
            if (value <= MaxTimeoutValue)
            {
                return string.Create(CultureInfo.InvariantCulture, $"{value}{unit}");
            }
        }

        return string.Create(CultureInfo.InvariantCulture, $"{MaxTimeoutValue}H");
    }

    /// <summary>Parses a <c>grpc-timeout</c> value: 1 to 8 ASCII digits followed by one of <c>HMSmun</c>.</summary>
    public static bool TryParseTimeout(string? value, out TimeSpan timeout)
    {
        timeout = default;
        if (value is null || value.Length is < 2 or > 9)
        {
            return false;
        }

        long amount = 0;
        for (var i = 0; i < value.Length - 1; i++)
        {
            if (value[i] is < '0' or > '9')
            {
                return false;
            }

            amount = (amount * 10) + (value[i] - '0');
        }

        var nanosecondsPerUnit = Array.Find(TimeoutUnits, u => u.Unit == value[^1]).Nanoseconds;
        if (nanosecondsPerUnit == 0)
        {
            return false;
        }

        // 99,999,999 hours fits in a TimeSpan; do the multiplication in decimal so it cannot overflow a long.
        timeout = TimeSpan.FromTicks((long)decimal.Ceiling(amount * (decimal)nanosecondsPerUnit / 100));
        return true;
    }

    /// <summary>
    /// Percent-encodes a status detail for <c>grpc-message</c>: UTF-8 bytes outside printable ASCII, and '%' itself,
    /// become <c>%XX</c>.
    /// </summary>
    public static string EncodeStatusMessage(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var needsEncoding = false;
        foreach (var c in message)
        {
            if (c is < ' ' or > '~' or '%')
            {
                needsEncoding = true;
                break;
            }
        }

        if (!needsEncoding)
        {
            return message;
        }

        var builder = new StringBuilder(message.Length * 2);
        foreach (var b in Encoding.UTF8.GetBytes(message))
        {
            if (b is < (byte)' ' or > (byte)'~' or (byte)'%')
            {
                builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append((char)b);
            }
        }

        return builder.ToString();
    }

    /// <summary>
    /// Decodes a <c>grpc-message</c> value. Per the spec a malformed value must not fail the call or lose the
    /// message: a '%' not followed by two hex digits is kept literally, and invalid UTF-8 becomes U+FFFD.
    /// </summary>
    public static string DecodeStatusMessage(string? value)
    {
        if (string.IsNullOrEmpty(value) || !value.Contains('%', StringComparison.Ordinal))
        {
            return value ?? string.Empty;
        }

        var bytes = new List<byte>(value.Length);
        var i = 0;
        while (i < value.Length)
        {
            if (value[i] == '%' && i + 2 < value.Length && char.IsAsciiHexDigit(value[i + 1]) &&
                char.IsAsciiHexDigit(value[i + 2]))
            {
                bytes.Add(byte.Parse(value.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture));
                i += 3;
                continue;
            }

            var next = value.IndexOf('%', i + 1);
            next = next < 0 ? value.Length : next;
            bytes.AddRange(Encoding.UTF8.GetBytes(value[i..next]));
            i = next;
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    /// <summary>The status code for a response whose HTTP status is not 200 and that has no <c>grpc-status</c>.</summary>
    public static GrpcStatusCode StatusCodeFromHttpStatus(int httpStatus) => httpStatus switch
    {
        400 => GrpcStatusCode.Internal,
        401 => GrpcStatusCode.Unauthenticated,
        403 => GrpcStatusCode.PermissionDenied,
        404 => GrpcStatusCode.Unimplemented,
        429 or 502 or 503 or 504 => GrpcStatusCode.Unavailable,
        _ => GrpcStatusCode.Unknown,
    };

    /// <summary>The status code for a stream reset with an HTTP/2 error code (RFC 9113 section 7).</summary>
    public static GrpcStatusCode StatusCodeFromHttp2Error(long errorCode) => errorCode switch
    {
        0x7 => GrpcStatusCode.Unavailable, // REFUSED_STREAM: no application processing happened.
        0x8 => GrpcStatusCode.Cancelled, // CANCEL
        0xb => GrpcStatusCode.ResourceExhausted, // ENHANCE_YOUR_CALM
        0xc => GrpcStatusCode.PermissionDenied, // INADEQUATE_SECURITY
        _ => GrpcStatusCode.Internal, // NO_ERROR before the trailers, PROTOCOL_ERROR, INTERNAL_ERROR, ...
    };
}
