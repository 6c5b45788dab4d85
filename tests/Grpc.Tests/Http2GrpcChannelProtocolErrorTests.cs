using System.Buffers;
using Istio.AppSwitch.Grpc;
using Istio.AppSwitch.Grpc.Tests.Support;
using Istio.AppSwitch.Testing.V1;
using Istio.AppSwitch.Tests.Common.Grpc;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Istio.AppSwitch.Grpc.Tests;

// In-process: responses a correct gRPC server never sends, from a raw h2c Kestrel server on 127.0.0.1.
public sealed class Http2GrpcChannelProtocolErrorTests
{
    [Theory]
    [InlineData(404, GrpcStatusCode.Unimplemented)]
    [InlineData(503, GrpcStatusCode.Unavailable)]
    [InlineData(429, GrpcStatusCode.Unavailable)]
    [InlineData(401, GrpcStatusCode.Unauthenticated)]
    [InlineData(403, GrpcStatusCode.PermissionDenied)]
    [InlineData(500, GrpcStatusCode.Unknown)]
    public async Task UnaryAsync_HttpErrorWithoutGrpcStatus_MappedFromHttpStatus(int httpStatus, GrpcStatusCode expected)
    {
        var error = await CallAsync(http =>
        {
            http.Response.StatusCode = httpStatus;
            return Task.CompletedTask;
        });

        Assert.Equal(expected, error.StatusCode);
        Assert.Contains($"HTTP status code: {httpStatus}", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnaryAsync_WrongContentType_Unknown()
    {
        var error = await CallAsync(async http =>
        {
            http.Response.ContentType = "text/html";
            await http.Response.WriteAsync("<html>proxy error page</html>");
        });

        Assert.Equal(GrpcStatusCode.Unknown, error.StatusCode);
        Assert.Contains("text/html", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnaryAsync_MessageButNoGrpcStatus_Unknown()
    {
        var error = await CallAsync(http => WriteFramesAsync(http, Frame(new EchoResponse { Message = "m" })));

        Assert.Equal(new GrpcStatus(GrpcStatusCode.Unknown, "No grpc-status found on response."), error.Status);
    }

    [Fact]
    public async Task UnaryAsync_BodyEndsInsideFrame_Internal()
    {
        var frame = Frame(new EchoResponse { Message = "truncated response" });

        var error = await CallAsync(http => WriteFramesAsync(http, frame[..^4], status: "0"));

        Assert.Equal(GrpcStatusCode.Internal, error.StatusCode);
    }

    [Fact]
    public async Task UnaryAsync_CompressedFlagWithoutEncoding_Internal()
    {
        var frame = Frame(new EchoResponse { Message = "z" });
        frame[0] = 1;

        var error = await CallAsync(http => WriteFramesAsync(http, frame, status: "0"));

        Assert.Equal(GrpcStatusCode.Internal, error.StatusCode);
    }

    [Fact]
    public async Task UnaryAsync_MessageThatDoesNotParse_Internal()
    {
        byte[] garbage = [0, 0, 0, 0, 3, 0xff, 0xff, 0xff];

        var error = await CallAsync(http => WriteFramesAsync(http, garbage, status: "0"));

        Assert.Equal(GrpcStatusCode.Internal, error.StatusCode);
    }

    [Fact]
    public async Task UnaryAsync_TwoResponseMessages_Internal()
    {
        var two = Frame(new EchoResponse { Message = "1" }).Concat(Frame(new EchoResponse { Message = "2" })).ToArray();

        var error = await CallAsync(http => WriteFramesAsync(http, two, status: "0"));

        Assert.Equal(GrpcStatusCode.Internal, error.StatusCode);
    }

    [Fact]
    public async Task UnaryAsync_OkWithoutMessage_Internal()
    {
        var error = await CallAsync(http => WriteFramesAsync(http, [], status: "0"));

        Assert.Equal(GrpcStatusCode.Internal, error.StatusCode);
    }

    [Fact]
    public async Task UnaryAsync_UnparsableGrpcStatus_Unknown()
    {
        var error = await CallAsync(http => WriteFramesAsync(http, Frame(new EchoResponse()), status: "bogus"));

        Assert.Equal(GrpcStatusCode.Unknown, error.StatusCode);
    }

    [Theory]
    [InlineData(0x7, GrpcStatusCode.Unavailable)] // REFUSED_STREAM
    [InlineData(0x8, GrpcStatusCode.Cancelled)] // CANCEL
    [InlineData(0x2, GrpcStatusCode.Internal)] // INTERNAL_ERROR
    [InlineData(0xb, GrpcStatusCode.ResourceExhausted)] // ENHANCE_YOUR_CALM
    public async Task UnaryAsync_ServerResetsStream_MappedFromHttp2ErrorCode(int errorCode, GrpcStatusCode expected)
    {
        var error = await CallAsync(async http =>
        {
            http.Response.ContentType = GrpcProtocol.ContentType;
            await http.Response.BodyWriter.FlushAsync();
            http.Features.GetRequiredFeature<IHttpResetFeature>().Reset(errorCode);
        });

        Assert.Equal(expected, error.StatusCode);
    }

    [Fact]
    public async Task UnaryAsync_ServerResetsStreamBeforeHeaders_MappedFromHttp2ErrorCode()
    {
        var error = await CallAsync(http =>
        {
            http.Features.GetRequiredFeature<IHttpResetFeature>().Reset(0x7);
            return Task.CompletedTask;
        });

        Assert.Equal(GrpcStatusCode.Unavailable, error.StatusCode);
    }

    private static async Task<GrpcException> CallAsync(RequestDelegate handler)
    {
        await using var server = await RawHttp2Server.StartAsync(handler);
        using var channel = new Http2GrpcChannel(new GrpcChannelOptions { Address = server.Address });
        return await Assert.ThrowsAsync<GrpcException>(
            () => channel.UnaryAsync(EchoService.Echo, new EchoRequest { Message = "x" })).Within();
    }

    private static async Task WriteFramesAsync(HttpContext http, byte[] body, string? status = null)
    {
        http.Response.ContentType = GrpcProtocol.ContentType;
        await http.Response.Body.WriteAsync(body);
        await http.Response.Body.FlushAsync();
        if (status is not null)
        {
            http.Response.AppendTrailer(GrpcProtocol.StatusHeader, status);
        }
    }

    private static byte[] Frame(EchoResponse message)
    {
        var buffer = new ArrayBufferWriter<byte>();
        GrpcFraming.WriteMessage(buffer, message);
        return buffer.WrittenSpan.ToArray();
    }
}
