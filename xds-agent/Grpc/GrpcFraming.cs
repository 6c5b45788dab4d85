using System.Buffers;
using System.Buffers.Binary;
using Google.Protobuf;

namespace Istio.AppSwitch.Grpc;

/// <summary>
/// The gRPC message framing ("Length-Prefixed-Message"): a 1-byte compressed flag, a 4-byte big-endian length,
/// then the message. Pure functions over buffers, shared by the client and the test server.
/// </summary>
/// <remarks>
/// Only the identity encoding is spoken: messages are sent uncompressed, and a frame with the compressed flag is
/// an error because no <c>grpc-encoding</c> was ever negotiated.
/// </remarks>
public static class GrpcFraming
{
    /// <summary>The length of the frame header.</summary>
    public const int HeaderLength = 5;

    /// <summary>gRPC's default maximum size of a received message: 4 MiB.</summary>
    public const int DefaultMaxMessageSize = 4 * 1024 * 1024;

    /// <summary>Writes <paramref name="message"/> as one uncompressed frame.</summary>
    public static void WriteMessage(IBufferWriter<byte> output, IMessage message)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(message);
        var size = message.CalculateSize();
        var frame = output.GetSpan(HeaderLength + size);
        frame[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(frame[1..], (uint)size);
        // Serializes straight into the output: no intermediate byte[] per message.
        message.WriteTo(frame.Slice(HeaderLength, size));
        output.Advance(HeaderLength + size);
    }

    /// <summary>
    /// Takes one complete frame from the front of <paramref name="buffer"/>. Returns false, leaving the buffer as it
    /// was, when the frame is not complete yet; otherwise <paramref name="message"/> is the message bytes (a slice of
    /// the buffer, no copy) and <paramref name="buffer"/> is what follows the frame.
    /// </summary>
    /// <exception cref="GrpcException">
    /// <see cref="GrpcStatusCode.ResourceExhausted"/> when the declared length exceeds
    /// <paramref name="maxMessageSize"/> (known from the header alone, before the message arrives);
    /// <see cref="GrpcStatusCode.Internal"/> when the frame is compressed or its flag is invalid.
    /// </exception>
    public static bool TryReadMessage(ref ReadOnlySequence<byte> buffer, int maxMessageSize, out ReadOnlySequence<byte> message)
    {
        message = default;
        if (buffer.Length < HeaderLength)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[HeaderLength];
        buffer.Slice(0, HeaderLength).CopyTo(header);
        var length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        switch (header[0])
        {
            case 0:
                break;
            case 1:
                throw new GrpcException(new GrpcStatus(
                    GrpcStatusCode.Internal, "Received a compressed message, but no grpc-encoding was negotiated."));
            default:
                throw new GrpcException(new GrpcStatus(
                    GrpcStatusCode.Internal, $"Received a message with an invalid compressed flag {header[0]}."));
        }

        if (length > (uint)maxMessageSize)
        {
            throw new GrpcException(new GrpcStatus(
                GrpcStatusCode.ResourceExhausted,
                $"Received message larger than max ({length} vs. {maxMessageSize})."));
        }

        if (buffer.Length - HeaderLength < length)
        {
            return false;
        }

        message = buffer.Slice(HeaderLength, length);
        buffer = buffer.Slice(message.End);
        return true;
    }

    /// <summary>
    /// Checks what is left when the stream ended: anything but nothing is a frame the peer cut off.
    /// </summary>
    /// <exception cref="GrpcException"><see cref="GrpcStatusCode.Internal"/> when bytes are left.</exception>
    public static void EnsureNoTrailingData(in ReadOnlySequence<byte> remaining)
    {
        if (!remaining.IsEmpty)
        {
            throw new GrpcException(new GrpcStatus(
                GrpcStatusCode.Internal,
                $"The message stream ended inside a frame ({remaining.Length} bytes of an incomplete frame)."));
        }
    }

    /// <summary>
    /// The total length of the frame starting at the front of <paramref name="buffer"/>, or -1 when its header is
    /// not complete yet. Lets a reader size its buffer once for a large message.
    /// </summary>
    internal static long GetFrameLength(ReadOnlySpan<byte> buffer) =>
        buffer.Length < HeaderLength ? -1 : HeaderLength + (long)BinaryPrimitives.ReadUInt32BigEndian(buffer[1..]);
}
