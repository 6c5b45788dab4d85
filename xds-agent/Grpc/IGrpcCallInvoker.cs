using Google.Protobuf;

namespace Istio.AppSwitch.Grpc;

/// <summary>
/// Starts gRPC calls: the one seam between ax and its gRPC transport (Grpc.Core's <c>CallInvoker</c>). Everything
/// outside this library depends on this interface only, so an adapter over Grpc.Net.Client can replace
/// <see cref="Http2GrpcChannel"/> the day that package can be restored.
/// </summary>
public interface IGrpcCallInvoker
{
    /// <summary>Makes a unary call.</summary>
    /// <returns>The response.</returns>
    /// <exception cref="GrpcException">The call ended with a status other than OK.</exception>
    Task<TResponse> UnaryAsync<TRequest, TResponse>(
        GrpcMethod<TRequest, TResponse> method, TRequest request, GrpcCallOptions options = default)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>;

    /// <summary>
    /// Starts a bidirectional streaming call. The call is under way when this returns: failures to connect surface
    /// on the first write, read or <see cref="GrpcDuplexCall{TRequest, TResponse}.ResponseHeadersAsync"/>.
    /// </summary>
    /// <returns>The call; the caller disposes it.</returns>
    GrpcDuplexCall<TRequest, TResponse> StartDuplexStreaming<TRequest, TResponse>(
        GrpcMethod<TRequest, TResponse> method, GrpcCallOptions options = default)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>;
}
