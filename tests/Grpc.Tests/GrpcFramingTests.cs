using System.Buffers;
using Google.Protobuf;
using Istio.AppSwitch.Grpc;
using Istio.AppSwitch.Testing.V1;

namespace Istio.AppSwitch.Grpc.Tests;

public class GrpcFramingTests
{
    [Fact]
    public void WriteMessage_ThenTryReadMessage_RoundTrips()
    {
        var original = new EchoRequest { Message = "hello", DelayMs = 7, EchoMetadata = { "a", "b" } };
        var buffer = new ArrayBufferWriter<byte>();

        GrpcFraming.WriteMessage(buffer, original);
        var sequence = new ReadOnlySequence<byte>(buffer.WrittenMemory);
        var found = GrpcFraming.TryReadMessage(ref sequence, GrpcFraming.DefaultMaxMessageSize, out var message);

        Assert.True(found);
        Assert.True(sequence.IsEmpty);
        Assert.Equal(original, EchoRequest.Parser.ParseFrom(message));
    }

    [Fact]
    public void WriteMessage_Header_IsUncompressedFlagAndBigEndianLength()
    {
        var message = new EchoRequest { Message = new string('x', 300) };
        var buffer = new ArrayBufferWriter<byte>();

        GrpcFraming.WriteMessage(buffer, message);

        var size = message.CalculateSize();
        Assert.Equal(GrpcFraming.HeaderLength + size, buffer.WrittenCount);
        Assert.Equal(new byte[] { 0, 0, 0, (byte)(size >> 8), (byte)size }, buffer.WrittenSpan[..5].ToArray());
    }

    [Fact]
    public void WriteMessage_EmptyMessage_WritesHeaderOnly()
    {
        var buffer = new ArrayBufferWriter<byte>();

        GrpcFraming.WriteMessage(buffer, new EchoRequest());

        Assert.Equal(new byte[] { 0, 0, 0, 0, 0 }, buffer.WrittenSpan.ToArray());
    }

    [Fact]
    public void TryReadMessage_FrameSplitAcrossSegments_ReadsAfterLastSegment()
    {
        var frames = Frame(new EchoRequest { Message = "first" }).Concat(Frame(new EchoRequest { Message = "second" })).ToArray();

        // Feed the bytes one at a time, the worst split a socket can produce, and as separate segments.
        var messages = new List<string>();
        var received = new List<byte>();
        foreach (var b in frames)
        {
            received.Add(b);
            var sequence = SegmentedSequence(received.Select(x => new[] { x }).ToArray());
            while (GrpcFraming.TryReadMessage(ref sequence, GrpcFraming.DefaultMaxMessageSize, out var message))
            {
                messages.Add(EchoRequest.Parser.ParseFrom(message).Message);
                received.RemoveRange(0, received.Count - (int)sequence.Length);
            }
        }

        Assert.Equal(["first", "second"], messages);
        Assert.Empty(received);
    }

    [Fact]
    public void TryReadMessage_IncompleteFrame_ReturnsFalseAndLeavesBuffer()
    {
        var frame = Frame(new EchoRequest { Message = "partial" });
        var sequence = new ReadOnlySequence<byte>(frame.AsMemory(0, frame.Length - 1));

        var found = GrpcFraming.TryReadMessage(ref sequence, GrpcFraming.DefaultMaxMessageSize, out _);

        Assert.False(found);
        Assert.Equal(frame.Length - 1, sequence.Length);
    }

    [Fact]
    public void EnsureNoTrailingData_TruncatedFrameAtEndOfStream_Internal()
    {
        var frame = Frame(new EchoRequest { Message = "cut" });
        var remaining = new ReadOnlySequence<byte>(frame.AsMemory(0, 7));

        var error = Assert.Throws<GrpcException>(() => GrpcFraming.EnsureNoTrailingData(remaining));

        Assert.Equal(GrpcStatusCode.Internal, error.StatusCode);
    }

    [Fact]
    public void EnsureNoTrailingData_NothingLeft_DoesNotThrow() =>
        GrpcFraming.EnsureNoTrailingData(ReadOnlySequence<byte>.Empty);

    [Fact]
    public void TryReadMessage_DeclaredLengthOverMax_ResourceExhaustedFromHeaderAlone()
    {
        // Only the header has arrived: the limit is enforced before the message is buffered.
        var sequence = new ReadOnlySequence<byte>(new byte[] { 0, 0, 0, 4, 1 });

        var error = Assert.Throws<GrpcException>(() => GrpcFraming.TryReadMessage(ref sequence, 1024, out _));

        Assert.Equal(GrpcStatusCode.ResourceExhausted, error.StatusCode);
        Assert.Contains("1025 vs. 1024", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void TryReadMessage_LengthEqualToMax_Accepted()
    {
        var sequence = new ReadOnlySequence<byte>(new byte[] { 0, 0, 0, 0, 3, 1, 2, 3 });

        Assert.True(GrpcFraming.TryReadMessage(ref sequence, 3, out var message));
        Assert.Equal(new byte[] { 1, 2, 3 }, message.ToArray());
    }

    [Fact]
    public void TryReadMessage_CompressedFlagWithoutEncoding_Internal()
    {
        var frame = Frame(new EchoRequest { Message = "z" });
        frame[0] = 1;
        var sequence = new ReadOnlySequence<byte>(frame);

        var error = Assert.Throws<GrpcException>(() => GrpcFraming.TryReadMessage(ref sequence, GrpcFraming.DefaultMaxMessageSize, out _));

        Assert.Equal(GrpcStatusCode.Internal, error.StatusCode);
        Assert.Contains("compressed", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void TryReadMessage_InvalidFlag_Internal()
    {
        var sequence = new ReadOnlySequence<byte>(new byte[] { 2, 0, 0, 0, 0 });

        var error = Assert.Throws<GrpcException>(() => GrpcFraming.TryReadMessage(ref sequence, GrpcFraming.DefaultMaxMessageSize, out _));

        Assert.Equal(GrpcStatusCode.Internal, error.StatusCode);
    }

    [Fact]
    public async Task ReadMessageAsync_StreamDeliversOneByteAtATime_ReadsEveryMessage()
    {
        var messages = Enumerable.Range(0, 5).Select(i => new EchoResponse { Message = new string('m', i * 1000), Sequence = (uint)i });
        var bytes = messages.SelectMany(Frame).ToArray();
        var reader = new GrpcMessageReader(new TricklingStream(bytes), GrpcFraming.DefaultMaxMessageSize);

        var read = new List<EchoResponse>();
        while (await reader.ReadMessageAsync(EchoResponse.Parser, CancellationToken.None) is { } message)
        {
            read.Add(message);
        }

        Assert.Equal(messages, read);
    }

    [Fact]
    public async Task ReadMessageAsync_MessageLargerThanInitialBuffer_GrowsAndReads()
    {
        var large = new EchoResponse { Message = new string('L', 100_000) };
        var reader = new GrpcMessageReader(new MemoryStream(Frame(large)), GrpcFraming.DefaultMaxMessageSize);

        Assert.Equal(large, await reader.ReadMessageAsync(EchoResponse.Parser, CancellationToken.None));
        Assert.Null(await reader.ReadMessageAsync(EchoResponse.Parser, CancellationToken.None));
    }

    [Fact]
    public async Task ReadMessageAsync_StreamEndsInsideFrame_Internal()
    {
        var frame = Frame(new EchoResponse { Message = "truncated" });
        var reader = new GrpcMessageReader(new MemoryStream(frame[..^2]), GrpcFraming.DefaultMaxMessageSize);

        var error = await Assert.ThrowsAsync<GrpcException>(
            () => reader.ReadMessageAsync(EchoResponse.Parser, CancellationToken.None).AsTask());

        Assert.Equal(GrpcStatusCode.Internal, error.StatusCode);
    }

    private static byte[] Frame(IMessage message)
    {
        var buffer = new ArrayBufferWriter<byte>();
        GrpcFraming.WriteMessage(buffer, message);
        return buffer.WrittenSpan.ToArray();
    }

    private static ReadOnlySequence<byte> SegmentedSequence(byte[][] parts)
    {
        if (parts.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        var first = new Segment(parts[0], 0);
        var last = first;
        foreach (var part in parts.Skip(1))
        {
            last = last.Append(part);
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }

    // A stream that returns at most one byte per read, as a congested socket may.
    private sealed class TricklingStream(byte[] data) : Stream
    {
        private int _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => data.Length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Read(buffer.Span));

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_position == data.Length || buffer.IsEmpty)
            {
                return 0;
            }

            buffer[0] = data[_position++];
            return 1;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
