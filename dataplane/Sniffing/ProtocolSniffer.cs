namespace Istio.AppSwitch.Sniffing;

/// <summary>
/// Recognises the protocol of a connection from its first bytes, as peeked (<c>recv(MSG_PEEK)</c>) by the daemon
/// when it accepts the connection for an application: a TLS ClientHello (SNI, ALPN), an HTTP/1.x request (method,
/// target, Host, headers), the HTTP/2 preface, a Redis command or a memcached command. Pure code: it reads only the
/// span it is given, never throws on any input, and allocates only the strings it reports. The rules and limits are
/// in docs/sniffing.md.
/// </summary>
public static class ProtocolSniffer
{
    /// <summary>
    /// How many bytes a caller should peek at most: one full TLS record (a 5-byte header and a 2^14-byte fragment),
    /// which holds any ClientHello a client sends in one record. It also covers an HTTP/1 header block within the
    /// limits most servers use (8 to 16 KiB); the other protocols are recognised from their first line.
    /// </summary>
    public const int DefaultMaxBytes = 16 * 1024 + 5;

    /// <summary>The HTTP/2 client connection preface (RFC 9113 section 3.4).</summary>
    public static ReadOnlySpan<byte> Http2Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    // "PRI * HTTP/2.0" cannot start an HTTP/1 request (its version is not 1.x), so these bytes decide alone.
    private const int Http2DecidingLength = 14;

    /// <summary>Recognises the protocol of <paramref name="data"/>, the first bytes of a connection.</summary>
    /// <param name="data">The bytes received so far, from the first one; they are only read.</param>
    /// <param name="result">What is known: the protocol and the values found; never null.</param>
    /// <returns><see cref="SniffStatus.Complete"/> when more bytes would not change the result,
    /// <see cref="SniffStatus.NeedMoreData"/> when the bytes are a valid but incomplete prefix, and
    /// <see cref="SniffStatus.Unrecognized"/> when no protocol matches.</returns>
    public static SniffStatus Sniff(ReadOnlySpan<byte> data, out SniffResult result)
    {
        if (data.IsEmpty)
        {
            result = SniffResult.None;
            return SniffStatus.NeedMoreData;
        }

        switch (data[0])
        {
            case TlsSniffer.HandshakeRecordType:
                return TlsSniffer.Sniff(data, out result);
            case (byte)'*':
                return RespSniffer.Sniff(data, out result);
        }

        var preface = Http2Preface;
        var common = Math.Min(data.Length, preface.Length);
        if (data[..common].SequenceEqual(preface[..common]))
        {
            if (common == preface.Length)
            {
                result = Results.Http2;
                return SniffStatus.Complete;
            }

            result = common >= Http2DecidingLength ? Results.Http2 : SniffResult.None;
            return SniffStatus.NeedMoreData;
        }

        return TextLineSniffer.Sniff(data, out result);
    }
}
