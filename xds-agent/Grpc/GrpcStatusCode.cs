namespace Istio.AppSwitch.Grpc;

/// <summary>
/// The gRPC status codes, with the numbers the wire carries in <c>grpc-status</c>
/// (https://github.com/grpc/grpc/blob/master/doc/statuscodes.md). Names follow Grpc.Core's <c>StatusCode</c>.
/// </summary>
public enum GrpcStatusCode
{
    /// <summary>Not an error: the call succeeded.</summary>
    OK = 0,

    /// <summary>The call was cancelled, typically by the caller.</summary>
    Cancelled = 1,

    /// <summary>An error with no better code, or a status from another error space.</summary>
    Unknown = 2,

    /// <summary>The client sent an argument that is invalid whatever the server's state.</summary>
    InvalidArgument = 3,

    /// <summary>The deadline passed before the call completed.</summary>
    DeadlineExceeded = 4,

    /// <summary>A requested entity was not found.</summary>
    NotFound = 5,

    /// <summary>The entity the client tried to create already exists.</summary>
    AlreadyExists = 6,

    /// <summary>The caller may not perform this operation.</summary>
    PermissionDenied = 7,

    /// <summary>A resource ran out, for example a quota or the maximum message size.</summary>
    ResourceExhausted = 8,

    /// <summary>The system is not in the state the operation needs.</summary>
    FailedPrecondition = 9,

    /// <summary>The operation was aborted, typically by a concurrency conflict.</summary>
    Aborted = 10,

    /// <summary>The operation was attempted past the valid range.</summary>
    OutOfRange = 11,

    /// <summary>The method is not implemented or not supported by the server.</summary>
    Unimplemented = 12,

    /// <summary>An invariant the implementation relies on was broken.</summary>
    Internal = 13,

    /// <summary>The service is unavailable for now; a retry with backoff may succeed.</summary>
    Unavailable = 14,

    /// <summary>Unrecoverable data loss or corruption.</summary>
    DataLoss = 15,

    /// <summary>The request lacks valid authentication credentials.</summary>
    Unauthenticated = 16,
}
