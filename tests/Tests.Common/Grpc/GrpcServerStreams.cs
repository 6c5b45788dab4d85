using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Google.Protobuf;
using Istio.AppSwitch.Grpc;

namespace Istio.AppSwitch.Tests.Common.Grpc;

/// <summary>Reads the request messages of a call, one at a time (Grpc.Core's <c>IAsyncStreamReader</c>).</summary>
public sealed class GrpcServerStreamReader<T>
    where T : IMessage<T>
{
    private readonly PipeReader _body;
    private readonly MessageParser<T> _parser;
    private readonly int _maxMessageSize;
    private T? _current;

    internal GrpcServerStreamReader(GrpcServerCallContext context, MessageParser<T> parser)
    {
        _body = context.HttpContext.Request.BodyReader;
        _parser = parser;
        _maxMessageSize = context.MaxReceiveMessageSize;
    }

    /// <summary>The message the last successful <see cref="MoveNext"/> read.</summary>
    public T Current => _current ?? throw new InvalidOperationException("No request has been read yet.");

    /// <summary>Reads the next request; false when the client half-closed.</summary>
    /// <exception cref="GrpcException">A framing or parsing error (INTERNAL, RESOURCE_EXHAUSTED).</exception>
    public async Task<bool> MoveNext(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var result = await _body.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (GrpcFraming.TryReadMessage(ref buffer, _maxMessageSize, out var message))
            {
                try
                {
                    _current = _parser.ParseFrom(message);
                }
                catch (InvalidProtocolBufferException ex)
                {
                    throw new GrpcException(new GrpcStatus(GrpcStatusCode.Internal, $"Failed to deserialize the request: {ex.Message}"));
                }
                finally
                {
                    _body.AdvanceTo(buffer.Start);
                }

                return true;
            }

            if (result.IsCompleted)
            {
                _body.AdvanceTo(buffer.End);
                GrpcFraming.EnsureNoTrailingData(buffer);
                return false;
            }

            _body.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Reads the remaining requests until the client half-closes.</summary>
    public async IAsyncEnumerable<T> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (await MoveNext(cancellationToken).ConfigureAwait(false))
        {
            yield return Current;
        }
    }
}

/// <summary>
/// Writes response messages, each flushed at once. Safe to call from several tasks (a fake ADS server pushes
/// from its own task while answering requests); writes are serialized.
/// </summary>
public sealed class GrpcServerStreamWriter<T>
    where T : IMessage<T>
{
    private readonly PipeWriter _body;
    private readonly SemaphoreSlim _writeLock = new(1, 1);

    internal GrpcServerStreamWriter(GrpcServerCallContext context) => _body = context.HttpContext.Response.BodyWriter;

    /// <summary>Writes one message and flushes it.</summary>
    /// <exception cref="IOException">The client has gone away.</exception>
    public async Task WriteAsync(T message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            GrpcFraming.WriteMessage(_body, message);
            var result = await _body.FlushAsync(cancellationToken).ConfigureAwait(false);
            if (result.IsCompleted)
            {
                throw new IOException("The client has closed the response stream.");
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }
}
