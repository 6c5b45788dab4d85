using Google.Protobuf;
using Istio.AppSwitch.Grpc;

namespace Istio.AppSwitch.Tests.Common.Grpc;

/// <summary>Handles a unary call: returns the response, or throws <see cref="GrpcException"/> for a status.</summary>
public delegate Task<TResponse> GrpcUnaryHandler<TRequest, TResponse>(TRequest request, GrpcServerCallContext context)
    where TRequest : IMessage<TRequest>
    where TResponse : IMessage<TResponse>;

/// <summary>
/// Handles a bidirectional streaming call. The call ends when the handler returns (with
/// <see cref="GrpcServerCallContext.Status"/>) or throws (<see cref="GrpcException"/> for a chosen status).
/// </summary>
public delegate Task GrpcDuplexStreamingHandler<TRequest, TResponse>(
    GrpcServerStreamReader<TRequest> requests, GrpcServerStreamWriter<TResponse> responses, GrpcServerCallContext context)
    where TRequest : IMessage<TRequest>
    where TResponse : IMessage<TResponse>;

/// <summary>The methods a <see cref="GrpcTestServer"/> serves, by path.</summary>
public sealed class GrpcHandlerRegistry
{
    private readonly Dictionary<string, Func<GrpcServerCallContext, Task>> _handlers = new(StringComparer.Ordinal);

    internal IReadOnlyDictionary<string, Func<GrpcServerCallContext, Task>> Handlers => _handlers;

    /// <summary>Serves a unary method.</summary>
    public GrpcHandlerRegistry MapUnary<TRequest, TResponse>(
        GrpcMethod<TRequest, TResponse> method, GrpcUnaryHandler<TRequest, TResponse> handler)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(handler);
        _handlers.Add(method.FullName, async context =>
        {
            var requests = new GrpcServerStreamReader<TRequest>(context, method.RequestParser);
            if (!await requests.MoveNext(context.CancellationToken).ConfigureAwait(false))
            {
                throw new GrpcException(new GrpcStatus(GrpcStatusCode.Internal, "No request message for a unary call."));
            }

            var request = requests.Current;
            if (await requests.MoveNext(context.CancellationToken).ConfigureAwait(false))
            {
                throw new GrpcException(new GrpcStatus(GrpcStatusCode.Internal, "More than one request message for a unary call."));
            }

            var response = await handler(request, context).ConfigureAwait(false);
            if (context.Status.Code == GrpcStatusCode.OK)
            {
                await new GrpcServerStreamWriter<TResponse>(context).WriteAsync(response, context.CancellationToken)
                    .ConfigureAwait(false);
            }
        });
        return this;
    }

    /// <summary>Serves a bidirectional streaming method.</summary>
    public GrpcHandlerRegistry MapDuplexStreaming<TRequest, TResponse>(
        GrpcMethod<TRequest, TResponse> method, GrpcDuplexStreamingHandler<TRequest, TResponse> handler)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(handler);
        _handlers.Add(method.FullName, context => handler(
            new GrpcServerStreamReader<TRequest>(context, method.RequestParser),
            new GrpcServerStreamWriter<TResponse>(context),
            context));
        return this;
    }
}
