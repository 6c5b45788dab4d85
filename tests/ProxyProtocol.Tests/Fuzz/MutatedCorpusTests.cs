using FsCheck;
using FsCheck.Fluent;
using Istio.AppSwitch.Tests.Fuzzing;
using static Istio.AppSwitch.ProxyProtocol.Tests.Vectors;

namespace Istio.AppSwitch.ProxyProtocol.Tests.Fuzz;

/// <summary>
/// Real PROXY headers (HAProxy's capture, the specification's examples, the reader tests' headers) damaged by the
/// shared mutator. The properties next door generate headers from a model; these start from bytes real peers sent,
/// which carry what a model leaves out (HAProxy's TLV order, its unique id, a trailing payload).
/// </summary>
public sealed class MutatedCorpusTests
{
    /// <summary>Cases of the FsCheck property over the parser.</summary>
    public const int ParserCases = 5000;

    /// <summary>Cases of the stream reader driver.</summary>
    public const int ReaderCases = 1000;

    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    private static readonly FuzzBudget Budget = new(TimeSpan.FromSeconds(2), 64 * 1024, 16);

    internal static readonly byte[][] Corpus =
    [
        Bytes(HaproxyCapture),
        Bytes(HaproxyCapture + "474554202F20485454502F312E310D0A0D0A"),
        V2(0x21, 0x11, Inet4Block),
        V2(0x21, 0x21, "20010DB8000000000000000000000001 00000000000000000000000000000001 DC04 01BB"),
        V2(0x21, 0x31, Convert.ToHexString(new byte[216])),
        V2(0x20, 0x00, ""),
        V2(0x21, 0x12, Inet4Block + Tlv(0x02, "6578616D706C652E636F6D") + Tlv(0x05, "0102030405")),
        V2(0x21, 0x11, Inet4Block + Tlv(0x20, "07 00000000" + Tlv(0x21, "544C5376312E33") + Tlv(0x22, "636E3D6178"))),
        Ascii("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"),
        Ascii("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ::1 65535 1\r\n"),
        Ascii("PROXY UNKNOWN\r\n"),
        Ascii("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n"),
        Ascii("PROXY TCP4 127.0.0.1 127.0.0.2 1 2\r\nGET / HTTP/1.1\r\n\r\n"),
    ];

    [Fact]
    public void TryParse_MutatedRealHeaders_5000Cases_InvalidOrIncompleteNeverThrows()
    {
        var seed = FuzzDriver.Seed(20261122);
        var cases = FuzzDriver.Cases(ParserCases);
        // FsCheck draws the case seeds (and shrinks a failing one toward 0); the mutator turns a seed into bytes.
        Prop.ForAll(Gen.Choose(0, int.MaxValue).ToArbitrary(), caseSeed =>
        {
            var mutator = new ByteMutator(FuzzDriver.CaseRandom(seed, caseSeed), Corpus);
            var data = mutator.Next();
            FuzzDriver.Run($"PROXY parser ({mutator.LastDescription})", seed, 1, Budget,
                _ => data, d => d.Length, Convert.ToHexString, CheckParse);
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(cases).WithReplay(Replay(seed)));
    }

    [Fact]
    public async Task ReadAsync_MutatedRealHeadersOnAStream_1000Cases_HeaderOrProxyProtocolException()
    {
        var seed = FuzzDriver.Seed(1031);
        var mutators = new Dictionary<int, string>();
        await FuzzDriver.RunAsync("PROXY stream reader", seed, FuzzDriver.Cases(ReaderCases), TimeSpan.FromSeconds(10),
            random =>
            {
                var mutator = new ByteMutator(random, Corpus);
                return (Data: mutator.Next(), What: mutator.LastDescription, Chunk: 1 + random.Next(32));
            },
            input => $"{input.What} chunk={input.Chunk} {Convert.ToHexString(input.Data)}",
            async (input, cancellationToken) =>
            {
                using var stream = new ChunkedStream(input.Data, input.Chunk);
                ProxyHeader header;
                try
                {
                    header = await ProxyProtocolReader.ReadAsync(stream, Generous, cancellationToken);
                }
                catch (ProxyProtocolException ex)
                {
                    Assert.NotEqual(ProxyProtocolErrorKind.None, ex.Kind);
                    return;
                }

                // The reader never takes a byte past the header: what the parser consumed is what the stream gave.
                Assert.Equal(header.Length, stream.Position);
                Assert.Equal(ProxyParseStatus.Success, ProxyProtocolParser.TryParse(input.Data, out _, out var consumed, out _));
                Assert.Equal(header.Length, consumed);
            });
    }

    internal static void CheckParse(byte[] data)
    {
        var status = ProxyProtocolParser.TryParse(data, out var header, out var consumed, out var error);
        switch (status)
        {
            case ProxyParseStatus.Success:
                Assert.NotNull(header);
                Assert.InRange(consumed, 15, data.Length);
                Assert.Equal(consumed, header.Length);
                break;
            case ProxyParseStatus.Invalid:
                Assert.NotEqual(ProxyProtocolErrorKind.None, error.Kind);
                Assert.False(string.IsNullOrEmpty(error.Message));
                var thrown = Assert.Throws<ProxyProtocolException>(() => ProxyProtocolParser.Parse(data));
                Assert.Equal(error.Kind, thrown.Kind);
                break;
            default:
                Assert.Equal(ProxyParseStatus.Incomplete, status);
                Assert.Equal(0, consumed);
                break;
        }
    }

    // A fixed FsCheck seed as well, so the run draws the same case seeds every time.
    private static Microsoft.FSharp.Core.FSharpOption<Replay> Replay(int seed) =>
        new Replay(new Rnd(unchecked((ulong)seed)), Microsoft.FSharp.Core.FSharpOption<int>.None);

    /// <summary>A read-only stream that hands out at most <c>chunk</c> bytes a read, as TCP segments would.</summary>
    private sealed class ChunkedStream(byte[] data, int chunk) : MemoryStream(data, writable: false)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, chunk));

        public override int Read(Span<byte> buffer) => base.Read(buffer[..Math.Min(buffer.Length, chunk)]);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Read(buffer.Span));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            Task.FromResult(Read(buffer, offset, count));
    }
}
