using System.Buffers;
using Google.Protobuf;

namespace Istio.AppSwitch.Grpc;

/// <summary>
/// Reads length-prefixed messages from a response body. Messages are parsed straight from the receive buffer;
/// the buffer grows to the largest frame seen (bounded by the maximum message size) and shrinks back when idle.
/// </summary>
/// <remarks>Not thread-safe: the call allows one pending read.</remarks>
internal sealed class GrpcMessageReader(Stream stream, int maxMessageSize)
{
    private const int InitialBufferSize = 16 * 1024;
    private const int RetainedBufferSize = 1024 * 1024;

    private byte[] _buffer = new byte[InitialBufferSize];
    private int _start;
    private int _end;

    /// <summary>Reads the next message, or returns null when the body ended cleanly between frames.</summary>
    /// <exception cref="GrpcException">A framing error (see <see cref="GrpcFraming.TryReadMessage"/>).</exception>
    /// <exception cref="InvalidProtocolBufferException">The message does not parse.</exception>
    public async ValueTask<T?> ReadMessageAsync<T>(MessageParser<T> parser, CancellationToken cancellationToken)
        where T : IMessage<T>
    {
        while (true)
        {
            var available = new ReadOnlySequence<byte>(_buffer, _start, _end - _start);
            if (GrpcFraming.TryReadMessage(ref available, maxMessageSize, out var message))
            {
                var result = parser.ParseFrom(message);
                _start = _end - (int)available.Length;
                if (_start == _end)
                {
                    _start = _end = 0;
                    if (_buffer.Length > RetainedBufferSize)
                    {
                        _buffer = new byte[InitialBufferSize];
                    }
                }

                return result;
            }

            MakeRoomForFrame();
            var read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                GrpcFraming.EnsureNoTrailingData(new ReadOnlySequence<byte>(_buffer, _start, _end - _start));
                return default;
            }

            _end += read;
        }
    }

    // Called when the buffered bytes hold no complete frame: make sure the whole frame (or at least its header)
    // can fit, so the next read always has room. TryReadMessage has already checked the length against the maximum.
    private void MakeRoomForFrame()
    {
        var buffered = _end - _start;
        var frameLength = GrpcFraming.GetFrameLength(_buffer.AsSpan(_start, buffered));
        var needed = (int)Math.Max(frameLength, GrpcFraming.HeaderLength);
        if (needed > _buffer.Length)
        {
            var larger = new byte[Math.Max(needed, Math.Min(_buffer.Length * 2, GrpcFraming.HeaderLength + maxMessageSize))];
            _buffer.AsSpan(_start, buffered).CopyTo(larger);
            _buffer = larger;
            _start = 0;
            _end = buffered;
        }
        else if (_buffer.Length - _start < needed || _end == _buffer.Length)
        {
            _buffer.AsSpan(_start, buffered).CopyTo(_buffer);
            _start = 0;
            _end = buffered;
        }
    }
}
