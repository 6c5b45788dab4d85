using System.Globalization;
using System.Text;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Delegation;

/// <summary>The daemon refused a registration (400, 403, 409...), or did not speak the protocol.</summary>
public sealed class DelegationRegistrationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DelegationRegistrationException(int statusCode, string body)
        : base($"the daemon refused the delegation registration: HTTP {statusCode}{(body.Length > 0 ? ": " + body : "")}")
    {
        StatusCode = statusCode;
        Body = body;
    }

    /// <summary>Creates the exception (for serializers).</summary>
    public DelegationRegistrationException()
    {
        Body = "";
    }

    /// <summary>Creates the exception (for serializers).</summary>
    public DelegationRegistrationException(string message)
        : base(message) => Body = "";

    /// <summary>Creates the exception (for serializers).</summary>
    public DelegationRegistrationException(string message, Exception innerException)
        : base(message, innerException) => Body = "";

    /// <summary>The HTTP status, 0 when the answer was not HTTP.</summary>
    public int StatusCode { get; }

    /// <summary>The response body (the API's JSON error).</summary>
    public string Body { get; }
}

/// <summary>
/// Registers a sidecar with the daemon (docs/delegation.md): an HTTP/1.1 upgrade to <c>ax-delegation/1</c> on the
/// daemon's API socket, then the ready byte, after which the connection carries frames.
/// </summary>
public static class DelegationClient
{
    /// <summary>The Upgrade token.</summary>
    public const string Protocol = "ax-delegation/1";

    /// <summary>The byte the sidecar sends once it has read the 101: the daemon delegates nothing before it.</summary>
    public const byte ReadyByte = 0x01;

    private const int MaxResponseHeaderLength = 8192;

    /// <summary>
    /// Connects to <paramref name="apiSocketPath"/>, registers as <paramref name="name"/> for
    /// <paramref name="directions"/>, and returns the reader of the frames. Without <paramref name="reactor"/>, the
    /// reader gets a reactor of its own, disposed with it.
    /// </summary>
    /// <exception cref="DelegationRegistrationException">The daemon answered anything but 101.</exception>
    /// <exception cref="System.Net.Sockets.SocketException">The socket could not be reached.</exception>
    public static async Task<DelegationReader> RegisterAsync(string apiSocketPath, string name, DelegationDirections directions,
        EpollReactor? reactor = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(apiSocketPath);
        ArgumentException.ThrowIfNullOrEmpty(name);
        var ownsReactor = reactor is null;
        reactor ??= new EpollReactor("ax-delegation");
        SafeFd? socket = null;
        try
        {
            socket = await AsyncSocket.ConnectUnixAsync(apiSocketPath, reactor, cancellationToken).ConfigureAwait(false);
            var request = $"POST /v1/delegation?name={Uri.EscapeDataString(name)}&directions={directions.ToQuery()} HTTP/1.1\r\n" +
                "Host: ax\r\nConnection: Upgrade\r\nUpgrade: " + Protocol + "\r\nContent-Length: 0\r\n\r\n";
            await AsyncSocket.SendAllAsync(socket, Encoding.ASCII.GetBytes(request), reactor, cancellationToken).ConfigureAwait(false);

            var (status, headerLength, buffer, length) = await ReadResponseHeadAsync(socket, reactor, cancellationToken).ConfigureAwait(false);
            if (status != 101)
            {
                var body = await ReadBodyAsync(socket, buffer, headerLength, length, reactor, cancellationToken).ConfigureAwait(false);
                throw new DelegationRegistrationException(status, body);
            }
            if (length != headerLength)
            {
                // Nothing may follow the 101 before the ready byte: the daemon would have sent a frame early.
                throw new DelegationRegistrationException(101, "unexpected bytes after the 101 response");
            }

            await AsyncSocket.SendAllAsync(socket, new[] { ReadyByte }, reactor, cancellationToken).ConfigureAwait(false);
            var reader = new DelegationReader(socket, reactor, ownsReactor);
            socket = null;
            return reader;
        }
        catch
        {
            socket?.Dispose();
            if (ownsReactor)
            {
                reactor.Dispose();
            }
            throw;
        }
    }

    private static async Task<(int Status, int HeaderLength, byte[] Buffer, int Length)> ReadResponseHeadAsync(SafeFd socket, EpollReactor reactor,
        CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxResponseHeaderLength];
        var length = 0;
        while (true)
        {
            var end = buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                var statusLine = Encoding.ASCII.GetString(buffer, 0, buffer.AsSpan(0, length).IndexOf("\r\n"u8));
                var parts = statusLine.Split(' ', 3);
                if (parts.Length < 2 || !parts[0].StartsWith("HTTP/1.", StringComparison.Ordinal)
                    || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var status))
                {
                    throw new DelegationRegistrationException(0, $"not an HTTP response: {statusLine}");
                }
                return (status, end + 4, buffer, length);
            }
            if (length == buffer.Length)
            {
                throw new DelegationRegistrationException(0, "the response head is too long");
            }
            var read = await AsyncSocket.ReceiveAsync(socket, buffer.AsMemory(length), reactor, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw new DelegationRegistrationException(0, "the daemon closed the connection without an answer");
            }
            length += read;
        }
    }

    private static async Task<string> ReadBodyAsync(SafeFd socket, byte[] buffer, int headerLength, int length, EpollReactor reactor,
        CancellationToken cancellationToken)
    {
        const int MaxBody = 64 * 1024;
        var head = Encoding.ASCII.GetString(buffer, 0, headerLength);
        int? contentLength = null;
        var chunked = false;
        foreach (var line in head.Split("\r\n"))
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)
                && int.TryParse(line.AsSpan("Content-Length:".Length).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
            {
                contentLength = Math.Min(parsed, MaxBody);
            }
            chunked |= line.StartsWith("Transfer-Encoding:", StringComparison.OrdinalIgnoreCase) && line.Contains("chunked", StringComparison.OrdinalIgnoreCase);
        }

        // The error bodies are small JSON: collect the raw bytes until the length is reached, or, chunked, until the
        // last chunk; then decode.
        var body = new List<byte>(buffer.AsSpan(headerLength, length - headerLength).ToArray());
        var chunk = new byte[4096];
        while (body.Count < MaxBody && (contentLength is { } expected ? body.Count < expected : chunked && !EndsWithLastChunk(body)))
        {
            var read = await AsyncSocket.ReceiveAsync(socket, chunk, reactor, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }
            body.AddRange(chunk.AsSpan(0, read));
        }
        var raw = body.ToArray();
        return Encoding.UTF8.GetString(chunked && contentLength is null ? Dechunk(raw) : raw);
    }

    private static bool EndsWithLastChunk(List<byte> body) =>
        body.Count >= 5 && body[^5] == '0' && body[^4] == '\r' && body[^3] == '\n' && body[^2] == '\r' && body[^1] == '\n';

    // RFC 9112 section 7.1: size in hex, CRLF, data, CRLF; a zero size ends it. Extensions and trailers are skipped.
    private static byte[] Dechunk(byte[] raw)
    {
        var output = new List<byte>();
        var offset = 0;
        while (offset < raw.Length)
        {
            var lineEnd = raw.AsSpan(offset).IndexOf("\r\n"u8);
            if (lineEnd < 0)
            {
                break;
            }
            var sizeText = Encoding.ASCII.GetString(raw, offset, lineEnd).Split(';')[0].Trim();
            if (!int.TryParse(sizeText, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var size) || size == 0)
            {
                break;
            }
            offset += lineEnd + 2;
            size = Math.Min(size, raw.Length - offset);
            output.AddRange(raw.AsSpan(offset, size));
            offset += size + 2;
        }
        return [.. output];
    }
}
