using System.Collections.Immutable;

namespace Istio.AppSwitch.Sniffing;

/// <summary>
/// What the first bytes of a connection say, filled as far as the bytes go: with
/// <see cref="SniffStatus.NeedMoreData"/> it carries what is known so far (the TLS record version, or the HTTP method,
/// path and host once the request line is in). Immutable.
/// </summary>
public sealed class SniffResult
{
    internal SniffResult(SniffedProtocol protocol, string protocolToken)
    {
        Protocol = protocol;
        ProtocolToken = protocolToken;
    }

    /// <summary>Nothing recognised: protocol <see cref="SniffedProtocol.Unknown"/> and no values. Shared.</summary>
    public static SniffResult None { get; } = new(SniffedProtocol.Unknown, "");

    /// <summary>The protocol recognised, or <see cref="SniffedProtocol.Unknown"/>.</summary>
    public SniffedProtocol Protocol { get; }

    /// <summary>TLS: the host name of the server_name extension, lower-cased; null when absent or not a valid host
    /// name.</summary>
    public string? Sni { get; internal init; }

    /// <summary>TLS: the application_layer_protocol_negotiation list in the client's order (empty when none). Each
    /// protocol id is decoded byte for byte (Latin-1), so the bytes can be recovered.</summary>
    public ImmutableArray<string> Alpn { get; internal init; } = [];

    /// <summary>TLS: the version of the first record header (0x0301 for most clients), 0 when not TLS.</summary>
    public ushort TlsRecordVersion { get; internal init; }

    /// <summary>TLS: the ClientHello's <c>legacy_version</c> (0x0303 for TLS 1.2 and 1.3 clients), 0 until read.</summary>
    public ushort TlsClientVersion { get; internal init; }

    /// <summary>TLS: the highest version the client offers: the largest non-GREASE entry of supported_versions, or
    /// <see cref="TlsClientVersion"/> when that extension is absent (0x0304 is TLS 1.3).</summary>
    public ushort TlsHighestVersion { get; internal init; }

    /// <summary>HTTP/1.x: the method as sent (case-sensitive).</summary>
    public string? Method { get; internal init; }

    /// <summary>HTTP/1.x: the request-target as sent (origin, absolute, authority or asterisk form).</summary>
    public string? Path { get; internal init; }

    /// <summary>HTTP/1.x: the authority of an absolute-form target (or a CONNECT target), else the Host header
    /// value; null when neither is there, or when more than one Host header was seen.</summary>
    public string? Host { get; internal init; }

    /// <summary>HTTP/1.x: the header fields in order, names lower-cased, values with surrounding whitespace removed.
    /// Empty unless <see cref="HeadersComplete"/>.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; internal init; } = [];

    /// <summary>HTTP/1.x: true when the whole header block (up to the empty line) was in the bytes and within the
    /// limits.</summary>
    public bool HeadersComplete { get; internal init; }

    /// <summary>Redis or memcached (or a text command both accept, with protocol
    /// <see cref="SniffedProtocol.Unknown"/>): the command name, lower-cased.</summary>
    public string? Command { get; internal init; }

    /// <summary>The protocol as a short token for ax's PROXY protocol TLV: <c>tls</c>, <c>http/1.1</c> or
    /// <c>http/1.0</c>, <c>h2</c>, <c>redis</c>, <c>memcached</c>, or empty when unknown.</summary>
    public string ProtocolToken { get; }

    /// <inheritdoc />
    public override string ToString() => Protocol switch
    {
        SniffedProtocol.Tls => $"tls sni={Sni} alpn=[{string.Join(',', Alpn)}]",
        SniffedProtocol.Http1 => $"{ProtocolToken} {Method} {Path} host={Host} headers={Headers.Count}{(HeadersComplete ? "" : "+")}",
        SniffedProtocol.Http2 => "h2",
        SniffedProtocol.Redis or SniffedProtocol.Memcached => $"{ProtocolToken} {Command}",
        _ => Command is null ? "unknown" : $"text {Command}",
    };
}
