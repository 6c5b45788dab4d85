using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;

namespace Istio.AppSwitch.ProxyProtocol;

/// <summary>
/// Reads exactly one PROXY protocol header from a connection and leaves everything after it unread, so that the
/// caller hands the untouched stream (or socket) to whatever speaks the payload's protocol.
/// </summary>
/// <remarks>
/// <para>Never over-reading is what makes this safe for protocols where the server speaks first, and for payloads
/// that arrive in the same segment as the header: a v2 header is read as its 16-byte prefix and then exactly the
/// length that prefix gives; a v1 line is read up to its CRLF, one byte at a time from a <see cref="Stream"/>, or from
/// a <see cref="Socket"/> by peeking for the CRLF and then receiving exactly up to it.</para>
/// <para>Bad or missing headers raise <see cref="ProxyProtocolException"/> (<see cref="ProxyProtocolErrorKind.Timeout"/>
/// and <see cref="ProxyProtocolErrorKind.ConnectionClosed"/> included); a failing stream raises what it raises
/// (<see cref="IOException"/>, <see cref="SocketException"/>), and the caller's cancellation
/// <see cref="OperationCanceledException"/>. A stream that ignores cancellation cannot be timed out.</para>
/// </remarks>
public static class ProxyProtocolReader
{
    // Both headers are at least 15 bytes ("PROXY UNKNOWN\r\n", and v2's 16-byte prefix), so the first read never
    // takes a payload byte. Asking for 8 first lets a connection that sends something else be rejected sooner.
    private const int FirstRead = 8;
    private const int ShortestHeader = 15;

    /// <summary>Reads a header from <paramref name="stream"/> with the default limits.</summary>
    public static ValueTask<ProxyHeader> ReadAsync(Stream stream, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        ReadAsync(stream, null, timeout, cancellationToken);

    /// <summary>Reads a header from <paramref name="stream"/>, leaving the payload unread. A <see cref="NetworkStream"/>
    /// is read through its socket, with peeking.</summary>
    /// <param name="stream">The connection.</param>
    /// <param name="limits">What to accept; <see cref="ProxyProtocolLimits.Default"/> when null.</param>
    /// <param name="timeout">How long the whole header may take (the specification suggests at least 3 seconds, to
    /// cover a TCP retransmit); <see cref="Timeout.InfiniteTimeSpan"/> for no limit.</param>
    /// <param name="cancellationToken">Stops the read.</param>
    /// <exception cref="ProxyProtocolException">The header is invalid, did not come in time, or the stream ended.</exception>
    public static ValueTask<ProxyHeader> ReadAsync(Stream stream, ProxyProtocolLimits? limits, TimeSpan timeout,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return stream is NetworkStream network
            ? ReadAsync(new SocketSource(network.Socket), limits, timeout, cancellationToken)
            : ReadAsync(new StreamSource(stream), limits, timeout, cancellationToken);
    }

    /// <summary>Reads a header from <paramref name="socket"/> with the default limits.</summary>
    public static ValueTask<ProxyHeader> ReadAsync(Socket socket, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        ReadAsync(socket, null, timeout, cancellationToken);

    /// <summary>Reads a header from a connected stream <paramref name="socket"/>, leaving the payload unread (see the
    /// <see cref="Stream"/> overload).</summary>
    /// <exception cref="ProxyProtocolException">The header is invalid, did not come in time, or the peer closed.</exception>
    public static ValueTask<ProxyHeader> ReadAsync(Socket socket, ProxyProtocolLimits? limits, TimeSpan timeout,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(socket);
        return ReadAsync(new SocketSource(socket), limits, timeout, cancellationToken);
    }

    private static async ValueTask<ProxyHeader> ReadAsync(Source source, ProxyProtocolLimits? limits, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        limits ??= ProxyProtocolLimits.Default;
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (timeout != Timeout.InfiniteTimeSpan)
        {
            timeoutSource.CancelAfter(timeout);
        }

        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(limits.MaxHeaderLength, ProxyProtocolLimits.MaxV1HeaderLength));
        var filled = 0;
        try
        {
            var wanted = FirstRead;
            while (true)
            {
                while (filled < wanted)
                {
                    var read = await source.ReadAsync(buffer.AsMemory(filled, wanted - filled), peek: false, timeoutSource.Token).ConfigureAwait(false);
                    if (read == 0)
                    {
                        throw new ProxyProtocolException(ProxyProtocolErrorKind.ConnectionClosed,
                            $"The connection ended after {filled} bytes, before the PROXY header did.");
                    }
                    filled += read;
                }

                switch (ProxyProtocolParser.TryParse(buffer.AsSpan(0, filled), limits, out var header, out _, out var error))
                {
                    case ProxyParseStatus.Success:
                        return header!;
                    case ProxyParseStatus.Invalid:
                        throw error.ToException();
                }

                wanted = await NextLengthAsync(source, buffer, filled, timeoutSource.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ProxyProtocolException(ProxyProtocolErrorKind.Timeout,
                $"No complete PROXY header within {timeout} ({filled} bytes arrived).");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>How many bytes the header has at least, given the <paramref name="filled"/> bytes so far, which the
    /// parser found incomplete.</summary>
    private static async ValueTask<int> NextLengthAsync(Source source, byte[] buffer, int filled, CancellationToken cancellationToken)
    {
        if (buffer[0] == ProxyV2Parser.FirstByte)
        {
            // The prefix says the length; the parser has checked it against the limit already.
            return filled < ProxyProtocolLimits.V2PrefixLength
                ? ProxyProtocolLimits.V2PrefixLength
                : ProxyProtocolLimits.V2PrefixLength + BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(14));
        }

        if (filled < ShortestHeader)
        {
            return ShortestHeader;
        }
        if (!source.CanPeek)
        {
            return filled + 1;
        }

        // Peek at what has arrived, up to the longest line: up to the CRLF it is all header, so take exactly that
        // much. Without a CRLF all of it is header (or garbage the parser rejects), so take it all and peek again.
        var room = ProxyProtocolLimits.MaxV1HeaderLength - filled;
        var peeked = await source.ReadAsync(buffer.AsMemory(filled, room), peek: true, cancellationToken).ConfigureAwait(false);
        if (peeked == 0)
        {
            throw new ProxyProtocolException(ProxyProtocolErrorKind.ConnectionClosed,
                $"The connection ended after {filled} bytes, before the PROXY header did.");
        }

        // The CR may be the last byte already taken.
        var searchFrom = filled - 1;
        var lineFeed = buffer.AsSpan(searchFrom, peeked + 1).IndexOf("\r\n"u8);
        return lineFeed < 0 ? filled + peeked : searchFrom + lineFeed + 2;
    }

    private abstract class Source
    {
        public abstract bool CanPeek { get; }

        public abstract ValueTask<int> ReadAsync(Memory<byte> buffer, bool peek, CancellationToken cancellationToken);
    }

    private sealed class StreamSource(Stream stream) : Source
    {
        public override bool CanPeek => false;

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, bool peek, CancellationToken cancellationToken) =>
            stream.ReadAsync(buffer, cancellationToken);
    }

    private sealed class SocketSource(Socket socket) : Source
    {
        public override bool CanPeek => true;

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, bool peek, CancellationToken cancellationToken) =>
            socket.ReceiveAsync(buffer, peek ? SocketFlags.Peek : SocketFlags.None, cancellationToken);
    }
}
