using System.Runtime.CompilerServices;
using Google.Protobuf;

namespace Istio.AppSwitch.Grpc;

/// <summary>
/// A bidirectional streaming call in progress (Grpc.Core's <c>AsyncDuplexStreamingCall</c> with its request
/// writer and response reader folded in). Requests and responses flow independently: one writer and one reader
/// may run concurrently, but there may be only one pending write and one pending read at a time.
/// </summary>
/// <remarks>
/// Abstract so that another transport can supply its own; <see cref="Http2GrpcChannel"/> is the one in ax.
/// Disposing a call that has not finished cancels it and resets its stream.
/// </remarks>
/// <typeparam name="TRequest">The request message.</typeparam>
/// <typeparam name="TResponse">The response message.</typeparam>
public abstract class GrpcDuplexCall<TRequest, TResponse> : IDisposable
    where TRequest : IMessage<TRequest>
    where TResponse : IMessage<TResponse>
{
    /// <summary>
    /// The response headers, once the server sends them. Faults with <see cref="GrpcException"/> when the call
    /// ends before any response arrived (for example, the server could not be reached).
    /// </summary>
    public abstract Task<GrpcMetadata> ResponseHeadersAsync { get; }

    /// <summary>The response that the last successful <see cref="MoveNext"/> read.</summary>
    public abstract TResponse Current { get; }

    /// <summary>
    /// Sends one request and flushes it, so the server sees it now. Completes when the message is handed to
    /// HTTP/2 flow control, not when the server has read it.
    /// </summary>
    /// <param name="message">The request.</param>
    /// <param name="cancellationToken">Cancels the whole call: a half-written message cannot be taken back.</param>
    /// <exception cref="GrpcException">The call has ended with a status other than OK.</exception>
    /// <exception cref="InvalidOperationException">
    /// Another write is pending, the request stream was completed, or the call has ended with OK.
    /// </exception>
    public abstract Task WriteAsync(TRequest message, CancellationToken cancellationToken = default);

    /// <summary>Half-closes the call: no more requests will be sent, and responses keep coming.</summary>
    public abstract Task CompleteAsync();

    /// <summary>
    /// Reads the next response. Returns false when the server ended the call with OK.
    /// </summary>
    /// <param name="cancellationToken">Cancels the whole call, as in Grpc.Net.Client.</param>
    /// <exception cref="GrpcException">The call ended with a status other than OK.</exception>
    public abstract Task<bool> MoveNext(CancellationToken cancellationToken = default);

    /// <summary>The final status.</summary>
    /// <exception cref="InvalidOperationException">The call has not ended yet.</exception>
    public abstract GrpcStatus GetStatus();

    /// <summary>The trailers the server ended the call with.</summary>
    /// <exception cref="InvalidOperationException">The call has not ended yet.</exception>
    public abstract GrpcMetadata GetTrailers();

    /// <summary>Reads all remaining responses; ends when the server ends the call with OK.</summary>
    /// <param name="cancellationToken">Cancels the whole call.</param>
    /// <exception cref="GrpcException">The call ended with a status other than OK.</exception>
    public async IAsyncEnumerable<TResponse> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (await MoveNext(cancellationToken).ConfigureAwait(false))
        {
            yield return Current;
        }
    }

    /// <summary>Cancels the call if it has not ended, and frees its resources.</summary>
    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Cancels the call if it has not ended, and frees its resources.</summary>
    protected abstract void Dispose(bool disposing);
}
