using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Google.Rpc;
using Istio.AppSwitch.Grpc;
using Istio.AppSwitch.Grpc.Tests.Support;
using Istio.AppSwitch.Testing.V1;
using Istio.AppSwitch.Tests.Common.Grpc;

namespace Istio.AppSwitch.Grpc.Tests;

// In-process: the client against the Kestrel test server over h2c on 127.0.0.1.
public sealed class Http2GrpcChannelUnaryTests(EchoServerFixture fixture) : IClassFixture<EchoServerFixture>
{
    [Fact]
    public async Task UnaryAsync_Echo_ReturnsResponse()
    {
        using var channel = CreateChannel();

        var response = await channel.UnaryAsync(EchoService.Echo, new EchoRequest { Message = "hello" }).Within();

        Assert.Equal("hello", response.Message);
        Assert.Equal(1u, response.Sequence);
    }

    [Fact]
    public async Task UnaryAsync_MetadataWithBearerToken_ServerReceivesAllEntriesInOrder()
    {
        using var channel = CreateChannel(new GrpcMetadata { { "x-default", "from-channel" } });
        var headers = new GrpcMetadata
        {
            { "authorization", "Bearer eyJhbGciOi.payload.signature" },
            { "x-trace-bin", new byte[] { 0, 1, 2, 254, 255 } },
            { "x-repeated", "one" },
            { "x-repeated", "two" },
        };
        var request = new EchoRequest { EchoMetadata = { "x-default", "authorization", "x-trace-bin", "x-repeated" } };

        var response = await channel.UnaryAsync(EchoService.Echo, request, new GrpcCallOptions(headers)).Within();

        Assert.Equal(
            [
                "x-default=from-channel", "authorization=Bearer eyJhbGciOi.payload.signature", "x-trace-bin=AAEC/v8=",
                // SocketsHttpHandler joins repeated headers into one field, as HTTP allows.
                "x-repeated=one, two",
            ],
            response.Metadata);
    }

    [Fact]
    public async Task UnaryAsync_AnyCall_SendsGrpcProtocolHeadersOverHttp2()
    {
        Dictionary<string, string>? seen = null;
        await using var server = await GrpcTestServer.StartAsync(s => s.MapUnary(EchoService.Echo, (_, context) =>
        {
            var request = context.HttpContext.Request;
            seen = request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString());
            seen["protocol"] = request.Protocol;
            seen["method"] = request.Method;
            seen["path"] = request.Path;
            return Task.FromResult(new EchoResponse());
        }));
        using var channel = CreateChannel(server.Address);

        await channel.UnaryAsync(EchoService.Echo, new EchoRequest()).Within();

        Assert.NotNull(seen);
        Assert.Equal("HTTP/2", seen["protocol"]);
        Assert.Equal("POST", seen["method"]);
        Assert.Equal("/ax.testing.v1.EchoService/Echo", seen["path"]);
        Assert.Equal("application/grpc", seen["content-type"]);
        Assert.Equal("trailers", seen["te"]);
        Assert.Equal("identity", seen["grpc-accept-encoding"]);
        Assert.Matches(@"^ax-grpc/\d+\.\d+\.\d+$", seen["user-agent"]);
        Assert.False(seen.ContainsKey("grpc-timeout"));
    }

    [Fact]
    public async Task UnaryAsync_ServerFailsBeforeResponse_TrailersOnlyStatusWithTrailers()
    {
        using var channel = CreateChannel();
        const string Detail = "nicht gefunden: café ☕ 100% /path?x=1";
        var request = new EchoRequest
        {
            FailWith = new Status { Code = (int)GrpcStatusCode.NotFound, Message = Detail },
            EchoMetadata = { "x-request-id", "x-trace-bin" },
        };
        var headers = new GrpcMetadata { { "x-request-id", "42" }, { "x-trace-bin", new byte[] { 9, 8, 7 } } };

        var error = await Assert.ThrowsAsync<GrpcException>(
            () => channel.UnaryAsync(EchoService.Echo, request, new GrpcCallOptions(headers))).Within();

        Assert.Equal(new GrpcStatus(GrpcStatusCode.NotFound, Detail), error.Status);
        Assert.Equal("42", error.Trailers.GetValue("x-request-id"));
        Assert.Equal(new byte[] { 9, 8, 7 }, error.Trailers.GetValueBytes("x-trace-bin"));
    }

    [Fact]
    public async Task UnaryAsync_UnknownMethod_Unimplemented()
    {
        using var channel = CreateChannel();
        var missing = new GrpcMethod<EchoRequest, EchoResponse>(
            GrpcMethodType.Unary, EchoService.ServiceName, "Missing", EchoRequest.Parser, EchoResponse.Parser);

        var error = await Assert.ThrowsAsync<GrpcException>(() => channel.UnaryAsync(missing, new EchoRequest())).Within();

        Assert.Equal(GrpcStatusCode.Unimplemented, error.StatusCode);
        Assert.Contains("/ax.testing.v1.EchoService/Missing", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnaryAsync_DeadlineBeforeServerAnswers_DeadlineExceededQuickly()
    {
        using var channel = CreateChannel();
        var stopwatch = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<GrpcException>(() => channel.UnaryAsync(
            EchoService.Echo,
            new EchoRequest { DelayMs = 10_000 },
            new GrpcCallOptions(Deadline: DateTimeOffset.UtcNow.AddMilliseconds(200)))).Within();

        Assert.Equal(GrpcStatusCode.DeadlineExceeded, error.StatusCode);
        Assert.InRange(stopwatch.Elapsed, TimeSpan.FromMilliseconds(150), TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task UnaryAsync_DeadlineAlreadyPassed_DeadlineExceededWithoutCallingServer()
    {
        var called = false;
        await using var server = await GrpcTestServer.StartAsync(s => s.MapUnary(EchoService.Echo, (_, _) =>
        {
            called = true;
            return Task.FromResult(new EchoResponse());
        }));
        using var channel = CreateChannel(server.Address);

        var error = await Assert.ThrowsAsync<GrpcException>(() => channel.UnaryAsync(
            EchoService.Echo, new EchoRequest(), new GrpcCallOptions(Deadline: DateTimeOffset.UtcNow.AddSeconds(-1)))).Within();

        Assert.Equal(GrpcStatusCode.DeadlineExceeded, error.StatusCode);
        Assert.False(called);
    }

    [Fact]
    public async Task UnaryAsync_WithDeadline_ServerReceivesGrpcTimeout()
    {
        DateTimeOffset? serverDeadline = null;
        await using var server = await GrpcTestServer.StartAsync(s => s.MapUnary(EchoService.Echo, (_, context) =>
        {
            serverDeadline = context.Deadline;
            return Task.FromResult(new EchoResponse());
        }));
        using var channel = CreateChannel(server.Address);
        var deadline = DateTimeOffset.UtcNow.AddSeconds(30);

        await channel.UnaryAsync(EchoService.Echo, new EchoRequest(), new GrpcCallOptions(Deadline: deadline)).Within();

        Assert.NotNull(serverDeadline);
        Assert.InRange(serverDeadline.Value, deadline.AddSeconds(-2), deadline.AddSeconds(1));
    }

    [Fact]
    public async Task UnaryAsync_DeadlineExceeded_ServerSeesStreamReset()
    {
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await GrpcTestServer.StartAsync(s => s.MapUnary(EchoService.Echo, async (_, context) =>
        {
            // RequestAborted, not the call's token: only the client's RST_STREAM fires it, not the server's own timer.
            await WaitForAbortAsync(context, aborted);
            return new EchoResponse();
        }));
        using var channel = CreateChannel(server.Address);

        var error = await Assert.ThrowsAsync<GrpcException>(() => channel.UnaryAsync(
            EchoService.Echo, new EchoRequest(), new GrpcCallOptions(Deadline: DateTimeOffset.UtcNow.AddMilliseconds(300)))).Within();

        Assert.Equal(GrpcStatusCode.DeadlineExceeded, error.StatusCode);
        await aborted.Task.Within();
    }

    [Fact]
    public async Task UnaryAsync_CancellationTokenCancelled_CancelledAndServerSeesStreamReset()
    {
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await GrpcTestServer.StartAsync(s => s.MapUnary(EchoService.Echo, async (_, context) =>
        {
            started.SetResult();
            await WaitForAbortAsync(context, aborted);
            return new EchoResponse();
        }));
        using var channel = CreateChannel(server.Address);
        using var cancellation = new CancellationTokenSource();

        var call = channel.UnaryAsync(EchoService.Echo, new EchoRequest(), new GrpcCallOptions(CancellationToken: cancellation.Token));
        await started.Task.Within();
        await cancellation.CancelAsync();
        var error = await Assert.ThrowsAsync<GrpcException>(() => call).Within();

        Assert.Equal(GrpcStatusCode.Cancelled, error.StatusCode);
        await aborted.Task.Within();
    }

    [Fact]
    public async Task UnaryAsync_TokenAlreadyCancelled_CancelledAtOnce()
    {
        using var channel = CreateChannel();

        var error = await Assert.ThrowsAsync<GrpcException>(() => channel.UnaryAsync(
            EchoService.Echo, new EchoRequest(), new GrpcCallOptions(CancellationToken: new CancellationToken(true)))).Within();

        Assert.Equal(GrpcStatusCode.Cancelled, error.StatusCode);
    }

    [Fact]
    public async Task UnaryAsync_ResponseOverMaxReceiveMessageSize_ResourceExhausted()
    {
        using var channel = new Http2GrpcChannel(new GrpcChannelOptions { Address = fixture.Server.Address, MaxReceiveMessageSize = 1024 });

        var small = await channel.UnaryAsync(EchoService.Echo, new EchoRequest { Message = new string('s', 1000) }).Within();
        var error = await Assert.ThrowsAsync<GrpcException>(
            () => channel.UnaryAsync(EchoService.Echo, new EchoRequest { Message = new string('L', 2000) })).Within();

        Assert.Equal(1000, small.Message.Length);
        Assert.Equal(GrpcStatusCode.ResourceExhausted, error.StatusCode);
    }

    [Fact]
    public async Task UnaryAsync_RequestOverServerMaxReceiveMessageSize_ResourceExhausted()
    {
        await using var server = await GrpcTestServer.StartAsync(
            s => s.MapEchoService(), new GrpcTestServerOptions { MaxReceiveMessageSize = 1024 });
        using var channel = CreateChannel(server.Address);

        var error = await Assert.ThrowsAsync<GrpcException>(
            () => channel.UnaryAsync(EchoService.Echo, new EchoRequest { Message = new string('L', 2000) })).Within();

        Assert.Equal(GrpcStatusCode.ResourceExhausted, error.StatusCode);
    }

    [Fact]
    public async Task UnaryAsync_ManyConcurrentCalls_AllMultiplexed()
    {
        using var channel = CreateChannel();

        var responses = await Task.WhenAll(Enumerable.Range(0, 200).Select(
            i => channel.UnaryAsync(EchoService.Echo, new EchoRequest { Message = $"m{i}" }))).Within();

        Assert.Equal(Enumerable.Range(0, 200).Select(i => $"m{i}"), responses.Select(r => r.Message));
    }

    [Fact]
    public async Task UnaryAsync_NothingListening_Unavailable()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var channel = CreateChannel(new Uri($"http://127.0.0.1:{port}"));

        var error = await Assert.ThrowsAsync<GrpcException>(() => channel.UnaryAsync(EchoService.Echo, new EchoRequest())).Within();

        Assert.Equal(GrpcStatusCode.Unavailable, error.StatusCode);
        Assert.IsType<HttpRequestException>(error.InnerException);
    }

    [Fact]
    public async Task UnaryAsync_HandlerSetsStatusWithoutThrowing_StatusAndNoMessage()
    {
        await using var server = await GrpcTestServer.StartAsync(s => s.MapUnary(EchoService.Echo, (_, context) =>
        {
            context.Status = new GrpcStatus(GrpcStatusCode.FailedPrecondition, "not yet");
            return Task.FromResult(new EchoResponse());
        }));
        using var channel = CreateChannel(server.Address);

        var error = await Assert.ThrowsAsync<GrpcException>(() => channel.UnaryAsync(EchoService.Echo, new EchoRequest())).Within();

        Assert.Equal(new GrpcStatus(GrpcStatusCode.FailedPrecondition, "not yet"), error.Status);
    }

    [Fact]
    public async Task UnaryAsync_AfterChannelDisposed_ObjectDisposedException()
    {
        var channel = CreateChannel();
        channel.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => channel.UnaryAsync(EchoService.Echo, new EchoRequest())).Within();
        Assert.Throws<ObjectDisposedException>(() => channel.StartDuplexStreaming(EchoService.EchoStream));
    }

    internal static async Task WaitForAbortAsync(GrpcServerCallContext context, TaskCompletionSource aborted)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, context.HttpContext.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            aborted.TrySetResult();
            throw;
        }
    }

    private Http2GrpcChannel CreateChannel(GrpcMetadata? defaultMetadata = null) =>
        new(new GrpcChannelOptions { Address = fixture.Server.Address, DefaultMetadata = defaultMetadata });

    private static Http2GrpcChannel CreateChannel(Uri address) => new(new GrpcChannelOptions { Address = address });
}
