using System.Net;
using System.Net.Sockets;
using Google.Rpc;
using Istio.AppSwitch.Grpc;
using Istio.AppSwitch.Grpc.Tests.Support;
using Istio.AppSwitch.Testing.V1;
using Istio.AppSwitch.Tests.Common.Grpc;

namespace Istio.AppSwitch.Grpc.Tests;

// In-process: bidirectional streaming against the Kestrel test server over h2c on 127.0.0.1.
public sealed class Http2GrpcChannelDuplexTests(EchoServerFixture fixture) : IClassFixture<EchoServerFixture>
{
    [Fact]
    public async Task DuplexStreaming_InterleavedWritesAndReads_EachResponseBeforeNextRequest()
    {
        using var channel = CreateChannel();
        using var call = channel.StartDuplexStreaming(EchoService.EchoStream);

        // The request stream stays open throughout: each answer arriving first proves the call is full duplex.
        for (uint i = 1; i <= 20; i++)
        {
            await call.WriteAsync(new EchoRequest { Message = $"m{i}" }).Within();
            Assert.True(await call.MoveNext().Within());
            Assert.Equal(($"m{i}", i), (call.Current.Message, call.Current.Sequence));
        }

        await call.CompleteAsync();
        Assert.False(await call.MoveNext().Within());
        Assert.Equal(GrpcStatus.Ok, call.GetStatus());
    }

    [Fact]
    public async Task DuplexStreaming_ManyMessagesWrittenWhileReading_AllEchoedInOrder()
    {
        const int Count = 2000;
        using var channel = CreateChannel();
        using var call = channel.StartDuplexStreaming(EchoService.EchoStream);

        var writer = Task.Run(async () =>
        {
            for (var i = 0; i < Count; i++)
            {
                await call.WriteAsync(new EchoRequest { Message = $"message {i} {new string('p', i % 300)}" });
            }

            await call.CompleteAsync();
        });
        var responses = new List<EchoResponse>();
        await foreach (var response in call.ReadAllAsync().WithCancellation(CancellationToken.None))
        {
            responses.Add(response);
        }

        await writer.Within();
        Assert.Equal(Enumerable.Range(1, Count).Select(i => (uint)i), responses.Select(r => r.Sequence));
        Assert.All(responses, r => Assert.StartsWith($"message {r.Sequence - 1} ", r.Message, StringComparison.Ordinal));
        Assert.Equal(GrpcStatusCode.OK, call.GetStatus().Code);
    }

    [Fact]
    public async Task DuplexStreaming_HalfCloseAfterWrites_RemainingResponsesThenOkWithTrailers()
    {
        using var channel = CreateChannel();
        var headers = new GrpcMetadata { { "x-session", "s1" } };
        using var call = channel.StartDuplexStreaming(EchoService.EchoStream, new GrpcCallOptions(headers));

        await call.WriteAsync(new EchoRequest { Message = "a", EchoMetadata = { "x-session" } }).Within();
        await call.WriteAsync(new EchoRequest { Message = "b" }).Within();
        await call.CompleteAsync();
        var responses = await ReadAllAsync(call).Within();

        Assert.Equal(["a", "b"], responses.Select(r => r.Message));
        Assert.Equal(["x-session=s1"], responses[0].Metadata);
        Assert.Equal(GrpcStatus.Ok, call.GetStatus());
        Assert.Equal("s1", call.GetTrailers().GetValue("x-session"));
        await Assert.ThrowsAsync<InvalidOperationException>(() => call.WriteAsync(new EchoRequest()));
    }

    [Fact]
    public async Task DuplexStreaming_HalfCloseWithoutWrites_OkWithNoResponses()
    {
        using var channel = CreateChannel();
        using var call = channel.StartDuplexStreaming(EchoService.EchoStream);

        await call.CompleteAsync();

        Assert.False(await call.MoveNext().Within());
        Assert.Equal(GrpcStatus.Ok, call.GetStatus());
    }

    [Fact]
    public async Task DuplexStreaming_ServerFailsAfterResponses_StatusFromTrailers()
    {
        using var channel = CreateChannel();
        using var call = channel.StartDuplexStreaming(EchoService.EchoStream);

        await call.WriteAsync(new EchoRequest { Message = "fine" }).Within();
        Assert.True(await call.MoveNext().Within());
        var headers = await call.ResponseHeadersAsync.Within();
        await call.WriteAsync(new EchoRequest { FailWith = new Status { Code = (int)GrpcStatusCode.Aborted, Message = "conflict ✗" } }).Within();
        var error = await Assert.ThrowsAsync<GrpcException>(() => call.MoveNext()).Within();

        Assert.NotNull(headers);
        Assert.Equal(new GrpcStatus(GrpcStatusCode.Aborted, "conflict ✗"), error.Status);
        Assert.Equal(error.Status, call.GetStatus());
        var writeError = await Assert.ThrowsAsync<GrpcException>(() => call.WriteAsync(new EchoRequest())).Within();
        Assert.Equal(GrpcStatusCode.Aborted, writeError.StatusCode);
    }

    [Fact]
    public async Task DuplexStreaming_ServerFailsFirst_TrailersOnlyStatus()
    {
        using var channel = CreateChannel();
        using var call = channel.StartDuplexStreaming(EchoService.EchoStream);

        await call.WriteAsync(new EchoRequest
        {
            FailWith = new Status { Code = (int)GrpcStatusCode.PermissionDenied, Message = "no" },
            EchoMetadata = { "user-agent" },
        }).Within();
        var error = await Assert.ThrowsAsync<GrpcException>(() => call.MoveNext()).Within();

        Assert.Equal(new GrpcStatus(GrpcStatusCode.PermissionDenied, "no"), error.Status);
        // Trailers-only: the one HEADERS frame is both the response headers and the trailers.
        Assert.NotNull(await call.ResponseHeadersAsync.Within());
    }

    [Fact]
    public async Task DuplexStreaming_ServerWritesBeforeClient_ResponseArrivesWithoutAnyRequest()
    {
        await using var server = await GrpcTestServer.StartAsync(s => s.MapDuplexStreaming(
            EchoService.EchoStream,
            async (requests, responses, context) =>
            {
                await context.WriteResponseHeadersAsync(new GrpcMetadata { { "x-server", "ready" } });
                await responses.WriteAsync(new EchoResponse { Message = "hello first" }, context.CancellationToken);
                while (await requests.MoveNext(context.CancellationToken))
                {
                }
            }));
        using var channel = CreateChannel(server.Address);
        using var call = channel.StartDuplexStreaming(EchoService.EchoStream);

        var headers = await call.ResponseHeadersAsync.Within();
        Assert.True(await call.MoveNext().Within());

        Assert.Equal("ready", headers.GetValue("x-server"));
        Assert.Equal("hello first", call.Current.Message);
    }

    [Fact]
    public async Task DuplexStreaming_CancellationTokenCancelled_CancelledAndServerSeesStreamReset()
    {
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await StartIdleStreamServerAsync(aborted);
        using var channel = CreateChannel(server.Address);
        using var cancellation = new CancellationTokenSource();
        using var call = channel.StartDuplexStreaming(EchoService.EchoStream, new GrpcCallOptions(CancellationToken: cancellation.Token));

        await call.WriteAsync(new EchoRequest { Message = "x" }).Within();
        Assert.True(await call.MoveNext().Within());
        var pendingRead = call.MoveNext();
        await cancellation.CancelAsync();

        var error = await Assert.ThrowsAsync<GrpcException>(() => pendingRead).Within();
        Assert.Equal(GrpcStatusCode.Cancelled, error.StatusCode);
        await aborted.Task.Within();
        var writeError = await Assert.ThrowsAsync<GrpcException>(() => call.WriteAsync(new EchoRequest())).Within();
        Assert.Equal(GrpcStatusCode.Cancelled, writeError.StatusCode);
    }

    [Fact]
    public async Task DuplexStreaming_MoveNextTokenCancelled_CancelsCall()
    {
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await StartIdleStreamServerAsync(aborted, started);
        using var channel = CreateChannel(server.Address);
        using var call = channel.StartDuplexStreaming(EchoService.EchoStream);
        using var cancellation = new CancellationTokenSource();

        // Cancel only once the server runs the call: a token that fires before the stream reached the server (a loaded
        // machine) leaves the server nothing to see reset.
        var read = call.MoveNext(cancellation.Token);
        await started.Task.Within();
        await cancellation.CancelAsync();
        var error = await Assert.ThrowsAsync<GrpcException>(() => read).Within();

        Assert.Equal(GrpcStatusCode.Cancelled, error.StatusCode);
        await aborted.Task.Within();
    }

    [Fact]
    public async Task DuplexStreaming_DisposedWhileOpen_ServerSeesStreamReset()
    {
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await StartIdleStreamServerAsync(aborted);
        using var channel = CreateChannel(server.Address);
        var call = channel.StartDuplexStreaming(EchoService.EchoStream);
        await call.WriteAsync(new EchoRequest { Message = "x" }).Within();
        Assert.True(await call.MoveNext().Within());

        call.Dispose();

        await aborted.Task.Within();
        Assert.Equal(GrpcStatusCode.Cancelled, call.GetStatus().Code);
    }

    [Fact]
    public async Task DuplexStreaming_DeadlineWhileIdle_DeadlineExceededAndServerSeesStreamReset()
    {
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await StartIdleStreamServerAsync(aborted);
        using var channel = CreateChannel(server.Address);
        using var call = channel.StartDuplexStreaming(
            EchoService.EchoStream, new GrpcCallOptions(Deadline: DateTimeOffset.UtcNow.AddSeconds(2)));

        await call.WriteAsync(new EchoRequest { Message = "x" }).Within();
        Assert.True(await call.MoveNext().Within());
        var error = await Assert.ThrowsAsync<GrpcException>(() => call.MoveNext()).Within();

        Assert.Equal(GrpcStatusCode.DeadlineExceeded, error.StatusCode);
        await aborted.Task.Within();
    }

    [Fact]
    public async Task DuplexStreaming_NothingListening_UnavailableOnWriteReadAndHeaders()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var channel = CreateChannel(new Uri($"http://127.0.0.1:{port}"));
        using var call = channel.StartDuplexStreaming(EchoService.EchoStream);

        var writeError = await Assert.ThrowsAsync<GrpcException>(() => call.WriteAsync(new EchoRequest())).Within();
        var readError = await Assert.ThrowsAsync<GrpcException>(() => call.MoveNext()).Within();
        var headersError = await Assert.ThrowsAsync<GrpcException>(() => call.ResponseHeadersAsync).Within();

        Assert.Equal(GrpcStatusCode.Unavailable, writeError.StatusCode);
        Assert.Equal(GrpcStatusCode.Unavailable, readError.StatusCode);
        Assert.Equal(GrpcStatusCode.Unavailable, headersError.StatusCode);
    }

    [Fact]
    public async Task DuplexStreaming_ChannelDisposedDuringCall_Cancelled()
    {
        var channel = CreateChannel();
        using var call = channel.StartDuplexStreaming(EchoService.EchoStream);
        await call.WriteAsync(new EchoRequest { Message = "x" }).Within();
        Assert.True(await call.MoveNext().Within());

        channel.Dispose();
        var error = await Assert.ThrowsAsync<GrpcException>(() => call.MoveNext()).Within();

        Assert.Equal(new GrpcStatus(GrpcStatusCode.Cancelled, "The channel was disposed."), error.Status);
    }

    [Fact]
    public async Task DuplexStreaming_ConcurrentWrites_SecondThrows()
    {
        await using var server = await GrpcTestServer.StartAsync(s => s.MapDuplexStreaming(
            EchoService.EchoStream,
            // Never reads: HTTP/2 flow control soon holds the client's writes.
            (_, _, context) => Task.Delay(Timeout.Infinite, context.CancellationToken)));
        using var channel = CreateChannel(server.Address);
        using var call = channel.StartDuplexStreaming(EchoService.EchoStream);
        var large = new EchoRequest { Message = new string('x', 1024 * 1024) };

        var first = call.WriteAsync(large);
        var second = call.WriteAsync(large);

        await Assert.ThrowsAsync<InvalidOperationException>(() => second).Within();
        call.Dispose();
        await Assert.ThrowsAsync<GrpcException>(() => first).Within();
    }

    [Fact]
    public async Task GetStatus_CallStillRunning_Throws()
    {
        using var channel = CreateChannel();
        using var call = channel.StartDuplexStreaming(EchoService.EchoStream);

        Assert.Throws<InvalidOperationException>(() => call.GetStatus());
        Assert.Throws<InvalidOperationException>(() => call.GetTrailers());
    }

    private static async Task<List<EchoResponse>> ReadAllAsync(GrpcDuplexCall<EchoRequest, EchoResponse> call)
    {
        var responses = new List<EchoResponse>();
        await foreach (var response in call.ReadAllAsync())
        {
            responses.Add(response);
        }

        return responses;
    }

    // Answers the first request, then waits until the client resets the stream, and reports that.
    private static Task<GrpcTestServer> StartIdleStreamServerAsync(TaskCompletionSource aborted, TaskCompletionSource? started = null) =>
        GrpcTestServer.StartAsync(s => s.MapDuplexStreaming(
            EchoService.EchoStream,
            async (requests, responses, context) =>
            {
                var clientGone = context.HttpContext.RequestAborted;
                started?.TrySetResult();
                try
                {
                    if (await requests.MoveNext(clientGone))
                    {
                        await responses.WriteAsync(new EchoResponse { Message = requests.Current.Message, Sequence = 1 }, clientGone);
                    }

                    await Task.Delay(Timeout.Infinite, clientGone);
                }
                finally
                {
                    if (clientGone.IsCancellationRequested)
                    {
                        aborted.TrySetResult();
                    }
                }
            }));

    private Http2GrpcChannel CreateChannel() => CreateChannel(fixture.Server.Address);

    private static Http2GrpcChannel CreateChannel(Uri address) => new(new GrpcChannelOptions { Address = address });
}
