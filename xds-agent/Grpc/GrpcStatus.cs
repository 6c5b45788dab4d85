namespace Istio.AppSwitch.Grpc;

/// <summary>The outcome of a call: a code and a human-readable detail (the decoded <c>grpc-message</c>).</summary>
/// <param name="Code">The status code.</param>
/// <param name="Detail">The detail message; empty when the peer sent none.</param>
public readonly record struct GrpcStatus(GrpcStatusCode Code, string Detail)
{
    /// <summary>The status of a successful call.</summary>
    public static readonly GrpcStatus Ok = new(GrpcStatusCode.OK, string.Empty);

    /// <inheritdoc />
    public override string ToString() => $"Status(StatusCode=\"{Code}\", Detail=\"{Detail}\")";
}
