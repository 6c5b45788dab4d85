using Istio.AppSwitch.Grpc;
using Istio.AppSwitch.Testing.V1;

namespace Istio.AppSwitch.Tests.Common.Grpc;

/// <summary>
/// The Echo service of <c>proto/ax/testing/v1/echo.proto</c> on the <see cref="GrpcTestServer"/>, the same
/// behaviour as <c>tests/interop/grpc-js/server.js</c>: it waits <c>delay_ms</c> (cut short by the deadline),
/// copies the requested metadata into the response (and, for the first request of a call, into the trailers), and ends the call with
/// <c>fail_with</c> when its code is not zero.
/// </summary>
public static class EchoService
{
    /// <summary>The fully qualified service name.</summary>
    public const string ServiceName = "ax.testing.v1.EchoService";

    /// <summary>The unary method.</summary>
    public static readonly GrpcMethod<EchoRequest, EchoResponse> Echo =
        new(GrpcMethodType.Unary, ServiceName, "Echo", EchoRequest.Parser, EchoResponse.Parser);

    /// <summary>The bidirectional streaming method.</summary>
    public static readonly GrpcMethod<EchoRequest, EchoResponse> EchoStream =
        new(GrpcMethodType.DuplexStreaming, ServiceName, "EchoStream", EchoRequest.Parser, EchoResponse.Parser);

    /// <summary>Serves both methods.</summary>
    public static GrpcHandlerRegistry MapEchoService(this GrpcHandlerRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        return registry
            .MapUnary(Echo, (request, context) => AnswerAsync(request, 1, context))
            .MapDuplexStreaming(EchoStream, EchoStreamAsync);
    }

    private static async Task EchoStreamAsync(
        GrpcServerStreamReader<EchoRequest> requests, GrpcServerStreamWriter<EchoResponse> responses, GrpcServerCallContext context)
    {
        uint sequence = 0;
        await foreach (var request in requests.ReadAllAsync(context.CancellationToken).ConfigureAwait(false))
        {
            var response = await AnswerAsync(request, ++sequence, context).ConfigureAwait(false);
            await responses.WriteAsync(response, context.CancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<EchoResponse> AnswerAsync(EchoRequest request, uint sequence, GrpcServerCallContext context)
    {
        if (request.DelayMs > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(request.DelayMs), context.CancellationToken).ConfigureAwait(false);
        }

        var response = new EchoResponse { Message = request.Message, Sequence = sequence };
        foreach (var key in request.EchoMetadata)
        {
            foreach (var entry in context.RequestHeaders.GetAll(key))
            {
                response.Metadata.Add($"{key}={(entry.IsBinary ? Convert.ToBase64String(entry.ValueBytes) : entry.Value)}");
                // Once per call, so a stream's trailers do not repeat them per message.
                if (sequence == 1 && GrpcMetadata.IsValidKey(key))
                {
                    context.ResponseTrailers.AddRange([entry]);
                }
            }
        }

        if (request.FailWith is { Code: not 0 } failure)
        {
            throw new GrpcException(new GrpcStatus((GrpcStatusCode)failure.Code, failure.Message));
        }

        return response;
    }
}
