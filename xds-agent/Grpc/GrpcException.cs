namespace Istio.AppSwitch.Grpc;

/// <summary>
/// A call that ended with a status other than <see cref="GrpcStatusCode.OK"/>, with the trailers the server sent
/// (Grpc.Core's <c>RpcException</c>).
/// </summary>
public sealed class GrpcException : Exception
{
    /// <summary>Creates the exception for <paramref name="status"/>.</summary>
    public GrpcException(GrpcStatus status, GrpcMetadata? trailers = null, Exception? innerException = null)
        : base(status.ToString(), innerException)
    {
        Status = status;
        Trailers = trailers ?? new GrpcMetadata();
    }

    /// <summary>The status the call ended with.</summary>
    public GrpcStatus Status { get; }

    /// <summary>Shorthand for <c>Status.Code</c>.</summary>
    public GrpcStatusCode StatusCode => Status.Code;

    /// <summary>The trailers of the call; empty when the call failed before the server answered.</summary>
    public GrpcMetadata Trailers { get; }
}
