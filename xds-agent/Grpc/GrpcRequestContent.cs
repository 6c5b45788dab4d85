using System.Buffers;
using System.Net;
using Google.Protobuf;

namespace Istio.AppSwitch.Grpc;

/// <summary>The body of a unary request: one frame, serialized once, with a known length.</summary>
internal sealed class UnaryRequestContent : HttpContent
{
    private readonly ArrayBufferWriter<byte> _frame;

    public UnaryRequestContent(IMessage message)
    {
        _frame = new ArrayBufferWriter<byte>(GrpcFraming.HeaderLength + message.CalculateSize());
        GrpcFraming.WriteMessage(_frame, message);
        Headers.TryAddWithoutValidation("content-type", GrpcProtocol.ContentType);
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
        stream.WriteAsync(_frame.WrittenMemory, cancellationToken).AsTask();

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override bool TryComputeLength(out long length)
    {
        length = _frame.WrittenCount;
        return true;
    }
}

/// <summary>
/// The body of a streaming request. SocketsHttpHandler calls <see cref="SerializeToStreamAsync(Stream, TransportContext?, CancellationToken)"/>
/// once, right after it sends the request headers, and ends the request stream (END_STREAM) when that returns;
/// so it hands the stream to <see cref="WriteAsync"/> and stays pending until the call half-closes or ends.
/// Meanwhile the handler reads the response on its own: this is what makes the call full duplex.
/// </summary>
internal sealed class DuplexRequestContent : HttpContent
{
    private readonly TaskCompletionSource<Stream> _stream = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _requestEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ArrayBufferWriter<byte> _buffer = new();
    private int _writing;

    public DuplexRequestContent() => Headers.TryAddWithoutValidation("content-type", GrpcProtocol.ContentType);

    public bool IsCompleted => _requestEnded.Task.IsCompleted;

    public bool IsWriting => Volatile.Read(ref _writing) != 0;

    /// <summary>Sends one frame and flushes it, after the request headers have gone out.</summary>
    /// <exception cref="InvalidOperationException">Another write is pending.</exception>
    public async Task WriteAsync(IMessage message, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _writing, 1) != 0)
        {
            throw new InvalidOperationException("Can't write the message because the previous write is in progress.");
        }

        try
        {
            var stream = await _stream.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            // One reused buffer per call: callers write one message at a time, and ADS requests are small.
            _buffer.ResetWrittenCount();
            GrpcFraming.WriteMessage(_buffer, message);
            await stream.WriteAsync(_buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _writing, 0);
        }
    }

    /// <summary>Half-closes: the handler sends END_STREAM once <see cref="SerializeToStreamAsync(Stream, TransportContext?, CancellationToken)"/> returns.</summary>
    public void Complete() => _requestEnded.TrySetResult();

    /// <summary>
    /// Ends the request side of a call that is over: a pending or later write, and the handler's copy loop, see
    /// cancellation. Cancellation rather than an exception so that nothing is left unobserved.
    /// </summary>
    public void Abort()
    {
        _stream.TrySetCanceled();
        _requestEnded.TrySetCanceled();
    }

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        // Push the HEADERS frame out now: a server may answer before the client's first message.
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        _stream.TrySetResult(stream);
        // The token fires when the handler gives up on the request body, e.g. after the response ended.
        await _requestEnded.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override bool TryComputeLength(out long length)
    {
        length = -1;
        return false;
    }
}
