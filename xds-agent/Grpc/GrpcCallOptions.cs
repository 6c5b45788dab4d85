namespace Istio.AppSwitch.Grpc;

/// <summary>Per-call options (Grpc.Core's <c>CallOptions</c>).</summary>
/// <param name="Headers">Request metadata, sent after the channel's default metadata.</param>
/// <param name="Deadline">
/// The UTC instant by which the call must complete, measured with the channel's <see cref="TimeProvider"/>. It is
/// sent as <c>grpc-timeout</c> and enforced locally: past it the call ends with
/// <see cref="GrpcStatusCode.DeadlineExceeded"/> and its HTTP/2 stream is reset. Null means no deadline.
/// </param>
/// <param name="CancellationToken">Cancels the call (<see cref="GrpcStatusCode.Cancelled"/>) and resets its stream.</param>
public readonly record struct GrpcCallOptions(
    GrpcMetadata? Headers = null,
    DateTimeOffset? Deadline = null,
    CancellationToken CancellationToken = default);
