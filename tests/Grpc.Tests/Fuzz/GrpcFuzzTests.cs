using System.Buffers;
using Envoy.Service.Discovery.V3;
using FsCheck;
using FsCheck.Fluent;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Istio.AppSwitch.Grpc.Tests.Support;
using Istio.AppSwitch.Testing.V1;
using Istio.AppSwitch.Tests.Common.Grpc;
using Istio.AppSwitch.Tests.Common.Xds;
using Istio.AppSwitch.Tests.Fuzzing;
using Microsoft.AspNetCore.Http;

namespace Istio.AppSwitch.Grpc.Tests.Fuzz;

/// <summary>
/// Hostile gRPC responses: length-prefixed frames carrying real ADS responses, damaged by the shared mutator and cut
/// into arbitrary segments, through the deframer, the stream reader and the HTTP/2 channel with hostile trailers.
/// </summary>
public sealed class GrpcFuzzTests
{
    /// <summary>Cases of the FsCheck property over <see cref="GrpcFraming.TryReadMessage"/>.</summary>
    public const int DeframerCases = 3000;

    /// <summary>Cases of the stream reader driver.</summary>
    public const int ReaderCases = 2000;

    /// <summary>Cases of the end-to-end driver (one HTTP/2 call each).</summary>
    public const int ChannelCases = 150;

    // Small enough that a corrupted length can be held to it; the reader's buffer is bounded by it.
    private const int MaxMessageSize = 64 * 1024;

    private static readonly byte[][] Corpus = BuildCorpus();

    private static readonly FuzzBudget Budget = new(TimeSpan.FromSeconds(2), MaxMessageSize + (128 * 1024), 64);

    [Fact]
    public void TryReadMessage_MutatedFramesInAnySegments_3000Cases_MessagesOrGrpcException()
    {
        var seed = FuzzDriver.Seed(7);
        var segmentCuts = Gen.ListOf(Gen.Choose(0, 4096)).Select(l => l.ToArray());
        Prop.ForAll(Gen.Choose(0, int.MaxValue).ToArbitrary(), segmentCuts.ToArbitrary(), (caseSeed, cuts) =>
        {
            var mutator = new ByteMutator(FuzzDriver.CaseRandom(seed, caseSeed), Corpus);
            var data = mutator.Next();
            FuzzDriver.Run($"gRPC deframer ({mutator.LastDescription})", seed, 1, Budget, _ => data, d => d.Length,
                Convert.ToHexString, d => Deframe(Segmented(d, cuts)));
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(FuzzDriver.Cases(DeframerCases)));
    }

    [Fact]
    public async Task ReadMessageAsync_MutatedStream_2000Cases_ResponsesOrDocumentedExceptions()
    {
        await FuzzDriver.RunAsync("gRPC message reader", FuzzDriver.Seed(11), FuzzDriver.Cases(ReaderCases), TimeSpan.FromSeconds(10),
            random =>
            {
                var mutator = new ByteMutator(random, Corpus);
                return (Data: mutator.Next(), What: mutator.LastDescription, Chunk: 1 + random.Next(4096));
            },
            input => $"{input.What} chunk={input.Chunk} {Convert.ToHexString(input.Data)}",
            async (input, cancellationToken) =>
            {
                using var stream = new ChunkedStream(input.Data, input.Chunk);
                var reader = new GrpcMessageReader(stream, MaxMessageSize);
                var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
                try
                {
                    while (await reader.ReadMessageAsync(DiscoveryResponse.Parser, cancellationToken) is { } response)
                    {
                        Assert.True(response.CalculateSize() <= MaxMessageSize);
                    }

                    Assert.Equal(input.Data.Length, stream.Position);
                }
                catch (GrpcException ex)
                {
                    Assert.Contains(ex.StatusCode, new[] { GrpcStatusCode.Internal, GrpcStatusCode.ResourceExhausted });
                }
                catch (InvalidProtocolBufferException)
                {
                    // A frame whose bytes are not a DiscoveryResponse: the documented parse failure.
                }

                // The reader's buffer grows to the declared frame, never past the maximum message size.
                Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - allocatedBefore, 0, Budget.BytesFor(input.Data.Length));
            });
    }

    [Fact]
    public async Task UnaryAsync_HostileBodyAndTrailers_150Cases_ResponseOrGrpcException()
    {
        Func<HttpContext, Task> respond = _ => Task.CompletedTask;
        await using var server = await RawHttp2Server.StartAsync(http => respond(http));
        using var channel = new Http2GrpcChannel(new GrpcChannelOptions { Address = server.Address, MaxReceiveMessageSize = MaxMessageSize });
        var echoFrames = new[] { Frame(new EchoResponse { Message = "m" }), Frame(new EchoResponse { Message = new string('x', 3000) }) };
        string[] statuses = ["0", "1", "13", "16", "17", "255", "-1", "2147483647", "2147483648", "", " 0", "+0", "0x0", "zero", "0,1", "٣"];
        string[] messages = ["", "ok", "%", "%4", "%E2%82", "%E2%82%AC", "%%%", "%FF%FE", "a%20b", new string('%', 500), "\u00e9"];

        await FuzzDriver.RunAsync("gRPC channel", FuzzDriver.Seed(13), FuzzDriver.Cases(ChannelCases), TimeSpan.FromSeconds(20),
            random =>
            {
                var mutator = new ByteMutator(random, echoFrames);
                var body = random.Next(4) == 0 ? echoFrames[0] : mutator.Next();
                var status = random.Next(6) == 0 ? null : statuses[random.Next(statuses.Length)];
                var message = messages[random.Next(messages.Length)];
                var contentType = random.Next(8) switch
                {
                    0 => "application/grpc+proto",
                    1 => "text/plain",
                    2 => "application/grpcx",
                    _ => GrpcProtocol.ContentType,
                };
                var httpStatus = random.Next(10) == 0 ? 503 : 200;
                return (Body: body, Status: status, Message: message, ContentType: contentType, HttpStatus: httpStatus,
                    What: mutator.LastDescription);
            },
            input => $"{input.What} http={input.HttpStatus} content-type={input.ContentType} grpc-status={input.Status} grpc-message={input.Message} body={Convert.ToHexString(input.Body)}",
            async (input, cancellationToken) =>
            {
                respond = async http =>
                {
                    http.Response.StatusCode = input.HttpStatus;
                    http.Response.ContentType = input.ContentType;
                    await http.Response.Body.WriteAsync(input.Body);
                    if (input.Status is not null)
                    {
                        http.Response.AppendTrailer(GrpcProtocol.StatusHeader, input.Status);
                        http.Response.AppendTrailer(GrpcProtocol.MessageHeader, input.Message);
                    }
                };
                try
                {
                    var response = await channel.UnaryAsync(EchoService.Echo, new EchoRequest { Message = "x" }, new GrpcCallOptions { CancellationToken = cancellationToken });
                    Assert.NotNull(response);
                    // Only a 200 with a gRPC content type and a status that reads as OK yields a response.
                    Assert.Equal(200, input.HttpStatus);
                    Assert.True(int.TryParse(input.Status, out var code) && code == 0, $"grpc-status '{input.Status}'");
                }
                catch (GrpcException ex)
                {
                    Assert.NotNull(ex.Status.Detail);
                }
            });
    }

    private static void Deframe(ReadOnlySequence<byte> buffer)
    {
        var total = buffer.Length;
        long consumed = 0;
        try
        {
            while (GrpcFraming.TryReadMessage(ref buffer, MaxMessageSize, out var message))
            {
                Assert.InRange(message.Length, 0, MaxMessageSize);
                consumed += GrpcFraming.HeaderLength + message.Length;
                try
                {
                    DiscoveryResponse.Parser.ParseFrom(message);
                }
                catch (InvalidProtocolBufferException)
                {
                    // Bytes that are not a DiscoveryResponse: the documented parse failure.
                }
            }

            // What is left is a frame not yet complete, never a frame the deframer skipped.
            Assert.Equal(total - consumed, buffer.Length);
            Assert.True(buffer.Length < GrpcFraming.HeaderLength || GrpcFraming.HeaderLength + (long)ReadLength(buffer) > buffer.Length);
        }
        catch (GrpcException ex)
        {
            Assert.Contains(ex.StatusCode, new[] { GrpcStatusCode.Internal, GrpcStatusCode.ResourceExhausted });
        }
    }

    private static uint ReadLength(ReadOnlySequence<byte> buffer)
    {
        Span<byte> header = stackalloc byte[GrpcFraming.HeaderLength];
        buffer.Slice(0, GrpcFraming.HeaderLength).CopyTo(header);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
    }

    /// <summary>The bytes as a sequence of segments cut at the given offsets, as HTTP/2 DATA frames would cut them.</summary>
    private static ReadOnlySequence<byte> Segmented(byte[] data, int[] cuts)
    {
        var offsets = cuts.Where(c => c > 0 && c < data.Length).Distinct().Order().Append(data.Length).ToArray();
        if (offsets.Length == 1)
        {
            return new ReadOnlySequence<byte>(data);
        }

        Segment? first = null;
        Segment? last = null;
        var start = 0;
        foreach (var end in offsets)
        {
            var segment = new Segment(data.AsMemory(start, end - start), last?.RunningIndex + last?.Memory.Length ?? 0);
            last?.SetNext(segment);
            first ??= segment;
            last = segment;
            start = end;
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private static byte[][] BuildCorpus()
    {
        var cluster = XdsTestResources.EdsCluster(XdsTestResources.Outbound("reviews", 9080));
        var endpoints = XdsTestResources.Endpoints(cluster.Name, 9080, "10.1.0.1", "10.1.0.2");
        var listener = XdsTestResources.HttpListener("0.0.0.0_9080", 9080, "9080");
        var routes = XdsTestResources.Routes("9080", cluster.Name);
        DiscoveryResponse Response(string type, params IMessage[] resources)
        {
            var response = new DiscoveryResponse { TypeUrl = type, VersionInfo = "2026-11-22T16:00:00Z/7", Nonce = "n-1" };
            response.Resources.AddRange(resources.Select(Any.Pack));
            return response;
        }

        var cds = Frame(Response(XdsTestResources.ClusterType, cluster));
        var eds = Frame(Response(XdsTestResources.EndpointType, endpoints));
        var lds = Frame(Response(XdsTestResources.ListenerType, listener));
        var rds = Frame(Response(XdsTestResources.RouteType, routes));
        return [cds, eds, lds, rds, [.. cds, .. eds, .. lds, .. rds], Frame(new DiscoveryResponse()), [.. eds, .. eds[..7]]];
    }

    private static byte[] Frame(IMessage message)
    {
        var buffer = new ArrayBufferWriter<byte>();
        GrpcFraming.WriteMessage(buffer, message);
        return buffer.WrittenSpan.ToArray();
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public void SetNext(Segment next) => Next = next;
    }

    private sealed class ChunkedStream(byte[] data, int chunk) : MemoryStream(data, writable: false)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Read(buffer.Span[..Math.Min(buffer.Length, chunk)]));
    }
}
