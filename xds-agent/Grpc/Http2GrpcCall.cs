using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;

namespace Istio.AppSwitch.Grpc;

/// <summary>
/// One call on an <see cref="Http2GrpcChannel"/>: one HTTP/2 stream. Unary calls use it too, through
/// <see cref="ReadSingleResponseAsync"/>.
/// </summary>
/// <remarks>
/// Every way a call can end (the server's status, a transport error, the deadline, cancellation, disposal) goes
/// through <see cref="Finish"/>, and the first one wins: later errors are consequences of the first (a read that
/// fails because the deadline reset the stream still reports DEADLINE_EXCEEDED). Finishing with anything but OK
/// cancels the HTTP request and disposes the response, which makes SocketsHttpHandler send RST_STREAM(CANCEL)
/// if the stream is still open; it also disposes the deadline timer and the cancellation registration, so an
/// ended call holds nothing.
/// </remarks>
internal sealed class Http2GrpcCall<TRequest, TResponse> : GrpcDuplexCall<TRequest, TResponse>
    where TRequest : IMessage<TRequest>
    where TResponse : IMessage<TResponse>
{
    private static readonly GrpcStatus DeadlineExceeded = new(GrpcStatusCode.DeadlineExceeded, "Deadline Exceeded");
    private static readonly GrpcStatus CancelledByCaller = new(GrpcStatusCode.Cancelled, "Call canceled by the client.");
    private static readonly GrpcStatus Disposed = new(GrpcStatusCode.Cancelled, "gRPC call disposed.");
    private static readonly GrpcStatus ChannelDisposed = new(GrpcStatusCode.Cancelled, "The channel was disposed.");

    private readonly GrpcMethod<TRequest, TResponse> _method;
    private readonly GrpcChannelOptions _options;
    private readonly DuplexRequestContent? _duplexContent;
    private readonly CancellationTokenSource _callCancellation = new();
    private readonly TaskCompletionSource<GrpcMetadata> _responseHeaders = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _gate = new();

    private Task<bool> _responseReady = Task.FromResult(false);
    private HttpResponseMessage? _response; // guarded by _gate
    private GrpcMessageReader? _reader;
    private ITimer? _deadlineTimer;
    private CancellationTokenRegistration _callerCancellation;
    private CancellationTokenRegistration _channelDisposal;
    private GrpcStatus? _status; // guarded by _gate; set once
    private GrpcMetadata? _trailers; // guarded by _gate; set with _status
    private Exception? _error; // guarded by _gate; set with _status
    private TResponse? _current;
    private int _reading;

    public Http2GrpcCall(GrpcMethod<TRequest, TResponse> method, GrpcChannelOptions options, DuplexRequestContent? duplexContent)
    {
        _method = method;
        _options = options;
        _duplexContent = duplexContent;
        // Nobody may ever look at the headers of a call that failed: keep that from counting as unobserved.
        _responseHeaders.Task.ContinueWith(
            static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted,
            TaskScheduler.Default);
    }

    public override Task<GrpcMetadata> ResponseHeadersAsync => _responseHeaders.Task;

    public override TResponse Current =>
        _current ?? throw new InvalidOperationException("No response has been read yet.");

    private bool IsFinished
    {
        get
        {
            lock (_gate)
            {
                return _status is not null;
            }
        }
    }

    public void Start(HttpMessageInvoker invoker, HttpRequestMessage request, GrpcCallOptions options, CancellationToken channelDisposal)
    {
        _channelDisposal = channelDisposal.UnsafeRegister(
            static state => ((Http2GrpcCall<TRequest, TResponse>)state!).Finish(ChannelDisposed, trailers: null), this);
        if (options.Deadline is { } deadline)
        {
            var remaining = deadline - _options.TimeProvider.GetUtcNow();
            if (remaining <= TimeSpan.Zero)
            {
                Finish(DeadlineExceeded, trailers: null);
                return;
            }

            request.Headers.TryAddWithoutValidation(GrpcProtocol.TimeoutHeader, GrpcProtocol.EncodeTimeout(remaining));
            _deadlineTimer = _options.TimeProvider.CreateTimer(
                static state => ((Http2GrpcCall<TRequest, TResponse>)state!).Finish(DeadlineExceeded, trailers: null),
                this, remaining, Timeout.InfiniteTimeSpan);
        }

        if (options.CancellationToken.CanBeCanceled)
        {
            // Runs at once, and ends the call, if the token is already cancelled.
            _callerCancellation = options.CancellationToken.UnsafeRegister(
                static state => ((Http2GrpcCall<TRequest, TResponse>)state!).Finish(CancelledByCaller, trailers: null),
                this);
        }

        if (IsFinished)
        {
            // Ended while starting (channel disposed, token already cancelled): Finish may have run before the timer
            // or the registration existed, so release them here.
            _deadlineTimer?.Dispose();
            _callerCancellation.Dispose();
            return;
        }

        _responseReady = ReceiveResponseHeadersAsync(invoker, request);
    }

    public override async Task WriteAsync(TRequest message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        var content = _duplexContent ?? throw new InvalidOperationException("A unary call has no request stream.");
        ThrowIfFinished("write the message");
        if (content.IsCompleted)
        {
            throw new InvalidOperationException("Can't write the message because the request stream is complete.");
        }

        using var registration = RegisterCancellation(cancellationToken);
        try
        {
            await content.WriteAsync(message, _callCancellation.Token).ConfigureAwait(false);
        }
        // InvalidOperationException is this API's own "write in progress" error and passes through; but
        // ObjectDisposedException derives from it, and is what HTTP/2 throws when the call ends under a write.
        catch (Exception ex) when (ex is not InvalidOperationException || ex is ObjectDisposedException)
        {
            ThrowIfFinished("write the message");
            // The request side failed while the response side may still be delivering messages and the real
            // status: leave the ending of the call to the reader and report what this write saw.
            throw new GrpcException(StatusFromException(ex), trailers: null, ex);
        }
    }

    public override Task CompleteAsync()
    {
        var content = _duplexContent ?? throw new InvalidOperationException("A unary call has no request stream.");
        if (content.IsWriting)
        {
            throw new InvalidOperationException("Can't complete the request stream while a write is in progress.");
        }

        content.Complete();
        return Task.CompletedTask;
    }

    public override async Task<bool> MoveNext(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _reading, 1) != 0)
        {
            throw new InvalidOperationException("Can't read the next message because the previous read is in progress.");
        }

        try
        {
            using var registration = RegisterCancellation(cancellationToken);
            if (await _responseReady.ConfigureAwait(false) && !IsFinished)
            {
                try
                {
                    var message = await _reader!.ReadMessageAsync(_method.ResponseParser, _callCancellation.Token)
                        .ConfigureAwait(false);
                    if (message is not null)
                    {
                        _current = message;
                        return true;
                    }

                    var trailers = _response!.TrailingHeaders;
                    Finish(ReadStatus(trailers), GrpcMetadata.FromHeaders(trailers));
                }
                catch (Exception ex)
                {
                    Finish(StatusFromException(ex), trailers: null, ex);
                }
            }

            ThrowIfFinished(operation: null);
            return false;
        }
        finally
        {
            Volatile.Write(ref _reading, 0);
        }
    }

    /// <summary>Reads the one response of a unary call and then its status.</summary>
    public async Task<TResponse> ReadSingleResponseAsync()
    {
        if (!await MoveNext().ConfigureAwait(false))
        {
            throw new GrpcException(new GrpcStatus(GrpcStatusCode.Internal, "The server sent no response message."));
        }

        var response = Current;
        if (await MoveNext().ConfigureAwait(false))
        {
            Finish(new GrpcStatus(GrpcStatusCode.Internal, "The server sent more than one response message."), trailers: null);
            ThrowIfFinished(operation: null);
        }

        return response;
    }

    public override GrpcStatus GetStatus()
    {
        lock (_gate)
        {
            return _status ?? throw new InvalidOperationException("Unable to get the status because the call is not complete.");
        }
    }

    public override GrpcMetadata GetTrailers()
    {
        lock (_gate)
        {
            return _trailers ?? throw new InvalidOperationException("Unable to get the trailers because the call is not complete.");
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Finish(Disposed, trailers: null);
        }
    }

    private async Task<bool> ReceiveResponseHeadersAsync(HttpMessageInvoker invoker, HttpRequestMessage request)
    {
        try
        {
            var response = await invoker.SendAsync(request, _callCancellation.Token).ConfigureAwait(false);
            lock (_gate)
            {
                if (_status is not null)
                {
                    response.Dispose();
                    return false;
                }

                _response = response;
            }

            var headers = GrpcMetadata.FromHeaders(response.Headers);
            _responseHeaders.TrySetResult(headers);
            if (CheckResponseHeaders(response) is { } status)
            {
                // Trailers-only (or not gRPC at all): the headers are all there is, so they are the trailers too.
                Finish(status, headers);
                return false;
            }

            var body = await response.Content.ReadAsStreamAsync(_callCancellation.Token).ConfigureAwait(false);
            _reader = new GrpcMessageReader(body, _options.MaxReceiveMessageSize);
            return true;
        }
        catch (Exception ex)
        {
            Finish(StatusFromException(ex), trailers: null, ex);
            return false;
        }
    }

    // The status when the headers already end the call; null when messages may follow.
    private static GrpcStatus? CheckResponseHeaders(HttpResponseMessage response)
    {
        if (response.Headers.Contains(GrpcProtocol.StatusHeader))
        {
            return ReadStatus(response.Headers);
        }

        if (response.StatusCode != HttpStatusCode.OK)
        {
            var httpStatus = (int)response.StatusCode;
            return new GrpcStatus(
                GrpcProtocol.StatusCodeFromHttpStatus(httpStatus),
                $"Bad gRPC response. HTTP status code: {httpStatus}.");
        }

        var contentType = response.Content.Headers.ContentType?.MediaType;
        if (!GrpcProtocol.IsGrpcContentType(contentType))
        {
            return new GrpcStatus(
                GrpcStatusCode.Unknown, $"Bad gRPC response. Invalid content-type value: '{contentType}'.");
        }

        return null;
    }

    private static GrpcStatus ReadStatus(HttpHeaders headers)
    {
        var code = headers.TryGetValues(GrpcProtocol.StatusHeader, out var codes) ? codes.FirstOrDefault() : null;
        if (code is null)
        {
            return new GrpcStatus(GrpcStatusCode.Unknown, "No grpc-status found on response.");
        }

        if (!int.TryParse(code, out var value) || value < 0)
        {
            return new GrpcStatus(GrpcStatusCode.Unknown, $"Unexpected grpc-status value: '{code}'.");
        }

        var message = headers.TryGetValues(GrpcProtocol.MessageHeader, out var messages) ? messages.FirstOrDefault() : null;
        return new GrpcStatus((GrpcStatusCode)value, GrpcProtocol.DecodeStatusMessage(message));
    }

    private static GrpcStatus StatusFromException(Exception exception)
    {
        for (var inner = exception; inner is not null; inner = inner.InnerException)
        {
            if (inner is HttpProtocolException protocol)
            {
                // SocketsHttpHandler raises this both for a RST_STREAM from the server and for a connection it tore
                // down itself (a protocol violation it detected, or a keepalive PING left unanswered). Only the first
                // has gRPC's RST_STREAM mapping; a dead connection is UNAVAILABLE, as in grpc-go. The message is the
                // only public difference (HttpProtocolException.CreateHttp2StreamException); tests pin both cases.
                var isStreamReset = protocol.Message.StartsWith("The HTTP/2 server reset the stream", StringComparison.Ordinal);
                return new GrpcStatus(
                    isStreamReset ? GrpcProtocol.StatusCodeFromHttp2Error(protocol.ErrorCode) : GrpcStatusCode.Unavailable,
                    Describe(exception));
            }
        }

        return exception switch
        {
            GrpcException grpc => grpc.Status,
            InvalidProtocolBufferException => new GrpcStatus(
                GrpcStatusCode.Internal, $"Failed to deserialize the response message: {exception.Message}"),
            // A refused or failed connection, a failed TLS handshake, or a connection lost mid-call.
            HttpRequestException or IOException => new GrpcStatus(GrpcStatusCode.Unavailable, Describe(exception)),
            // The channel was disposed under the call, which is how grpc-go's ClientConn.Close ends its calls.
            OperationCanceledException or ObjectDisposedException => new GrpcStatus(GrpcStatusCode.Cancelled, Describe(exception)),
            _ => new GrpcStatus(GrpcStatusCode.Internal, Describe(exception)),
        };
    }

    private static string Describe(Exception exception)
    {
        var messages = new List<string>();
        for (var inner = exception; inner is not null; inner = inner.InnerException)
        {
            messages.Add($"{inner.GetType().Name}: {inner.Message}");
        }

        return string.Join(" ---> ", messages);
    }

    private CancellationTokenRegistration RegisterCancellation(CancellationToken cancellationToken) =>
        cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(
                static state => ((Http2GrpcCall<TRequest, TResponse>)state!).Finish(CancelledByCaller, trailers: null),
                this)
            : default;

    private void ThrowIfFinished(string? operation)
    {
        GrpcStatus status;
        GrpcMetadata trailers;
        Exception? error;
        lock (_gate)
        {
            if (_status is null)
            {
                return;
            }

            (status, trailers, error) = (_status.Value, _trailers!, _error);
        }

        if (status.Code != GrpcStatusCode.OK)
        {
            throw new GrpcException(status, trailers, error);
        }

        if (operation is not null)
        {
            throw new InvalidOperationException($"Can't {operation} because the call is complete.");
        }
    }

    private void Finish(GrpcStatus status, GrpcMetadata? trailers, Exception? error = null)
    {
        HttpResponseMessage? response;
        lock (_gate)
        {
            if (_status is not null)
            {
                return;
            }

            _status = status;
            _trailers = trailers ?? new GrpcMetadata();
            _error = error;
            response = _response;
        }

        _deadlineTimer?.Dispose();
        _callerCancellation.Dispose();
        _channelDisposal.Dispose();
        if (status.Code == GrpcStatusCode.OK)
        {
            _responseHeaders.TrySetResult(new GrpcMetadata());
        }
        else
        {
            _responseHeaders.TrySetException(new GrpcException(status, _trailers, error));
            // Aborts a SendAsync still waiting for headers and a read still waiting for data.
            _callCancellation.Cancel();
        }

        _duplexContent?.Abort();
        // Resets the stream (RST_STREAM CANCEL) if the server has not ended it; a no-op cleanup otherwise.
        response?.Dispose();
    }
}
