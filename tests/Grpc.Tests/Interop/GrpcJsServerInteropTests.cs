using Google.Rpc;
using Istio.AppSwitch.Grpc;
using Istio.AppSwitch.Grpc.Tests.Support;
using Istio.AppSwitch.Testing.V1;
using Istio.AppSwitch.Tests.Common.Grpc;

namespace Istio.AppSwitch.Grpc.Tests.Interop;

// Interop: the C# client against @grpc/grpc-js's server (node tests/interop/grpc-js/server.js on 127.0.0.1).
public sealed class GrpcJsServerInteropTests(GrpcJsServerFixture server) : IClassFixture<GrpcJsServerFixture>
{
    [Fact]
    public async Task UnaryAsync_GrpcJsServer_ReturnsResponse()
    {
        using var channel = CreateChannel();

        var response = await channel.UnaryAsync(EchoService.Echo, new EchoRequest { Message = "hello grpc-js" }).Within();

        Assert.Equal(("hello grpc-js", 1u), (response.Message, response.Sequence));
    }

    [Fact]
    public async Task UnaryAsync_MetadataToGrpcJsServer_Echoed()
    {
        using var channel = CreateChannel();
        var headers = new GrpcMetadata
        {
            { "authorization", "Bearer interop-token" },
            { "x-trace-bin", new byte[] { 0, 1, 2, 254, 255 } },
        };

        var response = await channel.UnaryAsync(
            EchoService.Echo,
            new EchoRequest { EchoMetadata = { "authorization", "x-trace-bin" } },
            new GrpcCallOptions(headers)).Within();

        Assert.Equal(["authorization=Bearer interop-token", "x-trace-bin=AAEC/v8="], response.Metadata);
    }

    [Fact]
    public async Task UnaryAsync_GrpcJsServerFailsWithNotFound_StatusWithDecodedMessage()
    {
        using var channel = CreateChannel();
        const string Detail = "nicht gefunden: café ☕ 100% /path?x=1";

        var error = await Assert.ThrowsAsync<GrpcException>(() => channel.UnaryAsync(
            EchoService.Echo,
            new EchoRequest { FailWith = new Status { Code = (int)GrpcStatusCode.NotFound, Message = Detail } })).Within();

        Assert.Equal(new GrpcStatus(GrpcStatusCode.NotFound, Detail), error.Status);
    }

    [Fact]
    public async Task UnaryAsync_DeadlineBeforeGrpcJsServerAnswers_DeadlineExceeded()
    {
        using var channel = CreateChannel();

        var error = await Assert.ThrowsAsync<GrpcException>(() => channel.UnaryAsync(
            EchoService.Echo,
            new EchoRequest { DelayMs = 5000 },
            new GrpcCallOptions(Deadline: DateTimeOffset.UtcNow.AddMilliseconds(200)))).Within();

        Assert.Equal(GrpcStatusCode.DeadlineExceeded, error.StatusCode);
    }

    [Fact]
    public async Task UnaryAsync_UnknownMethodOnGrpcJsServer_Unimplemented()
    {
        using var channel = CreateChannel();
        var missing = new GrpcMethod<EchoRequest, EchoResponse>(
            GrpcMethodType.Unary, EchoService.ServiceName, "Missing", EchoRequest.Parser, EchoResponse.Parser);

        var error = await Assert.ThrowsAsync<GrpcException>(() => channel.UnaryAsync(missing, new EchoRequest())).Within();

        Assert.Equal(GrpcStatusCode.Unimplemented, error.StatusCode);
    }

    [Fact]
    public async Task DuplexStreaming_GrpcJsServer_InterleavedThenHalfClose()
    {
        using var channel = CreateChannel();
        using var call = channel.StartDuplexStreaming(EchoService.EchoStream);

        for (uint i = 1; i <= 10; i++)
        {
            await call.WriteAsync(new EchoRequest { Message = $"m{i}" }).Within();
            Assert.True(await call.MoveNext().Within());
            Assert.Equal(($"m{i}", i), (call.Current.Message, call.Current.Sequence));
        }

        await call.CompleteAsync();
        Assert.False(await call.MoveNext().Within());
        Assert.Equal(GrpcStatusCode.OK, call.GetStatus().Code);
    }

    [Fact]
    public async Task DuplexStreaming_ManyMessagesToGrpcJsServer_AllEchoedInOrder()
    {
        const int Count = 500;
        using var channel = CreateChannel();
        using var call = channel.StartDuplexStreaming(EchoService.EchoStream);

        var writer = Task.Run(async () =>
        {
            for (var i = 0; i < Count; i++)
            {
                await call.WriteAsync(new EchoRequest { Message = $"m{i}" });
            }

            await call.CompleteAsync();
        });
        var sequences = new List<uint>();
        while (await call.MoveNext().Within())
        {
            sequences.Add(call.Current.Sequence);
        }

        await writer.Within();
        Assert.Equal(Enumerable.Range(1, Count).Select(i => (uint)i), sequences);
    }

    [Fact]
    public async Task DuplexStreaming_GrpcJsServerFailsMidStream_StatusAfterResponses()
    {
        using var channel = CreateChannel();
        using var call = channel.StartDuplexStreaming(EchoService.EchoStream);

        await call.WriteAsync(new EchoRequest { Message = "ok" }).Within();
        Assert.True(await call.MoveNext().Within());
        await call.WriteAsync(new EchoRequest { FailWith = new Status { Code = (int)GrpcStatusCode.FailedPrecondition, Message = "stop here" } }).Within();
        var error = await Assert.ThrowsAsync<GrpcException>(() => call.MoveNext()).Within();

        Assert.Equal(new GrpcStatus(GrpcStatusCode.FailedPrecondition, "stop here"), error.Status);
    }

    private Http2GrpcChannel CreateChannel() => new(new GrpcChannelOptions { Address = server.Address });
}
