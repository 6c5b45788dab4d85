using FsCheck;
using FsCheck.Fluent;
using Istio.AppSwitch.Sniffing.Tests.Tools;
using Microsoft.FSharp.Core;

namespace Istio.AppSwitch.Sniffing.Tests.Properties;

/// <summary>
/// Properties over generated input (FsCheck, with a fixed seed so that a failure replays): the first bytes come from
/// any peer, so the sniffer is checked on random, nearly valid and damaged bytes, and on generated valid samples whose
/// values it must find, from every prefix.
/// </summary>
public class SnifferPropertyTests
{
    private static readonly Config Many = Seeded(5000);
    private static readonly Config Several = Seeded(2000);
    private static readonly Config Some = Seeded(300);

    private static Config Seeded(int count) => Config.QuickThrowOnFailure.WithMaxTest(count)
        .WithReplay(FSharpOption<Replay>.Some(new Replay(new Rnd(20261122, 0x9E3779B97F4A7C15), FSharpOption<int>.None)));

    [Fact]
    public void Sniff_AnyBytes_NeverThrows() =>
        Prop.ForAll(Generators.NearlyValid.ToArbitrary(), data => Sniffs(data)).Check(Many);

    [Fact]
    public void Sniff_DamagedSamples_NeverThrows() =>
        Prop.ForAll(Generators.Damaged.ToArbitrary(), data => Sniffs(data)).Check(Several);

    [Fact]
    public void Sniff_ValidSamples_EveryPrefixConsistent() =>
        Prop.ForAll(Generators.Valid.ToArbitrary(), data =>
        {
            var (status, _) = Prefixes.CheckConsistent(data);
            Assert.Equal(SniffStatus.Complete, status);
        }).Check(Some);

    [Fact]
    public void Sniff_GeneratedHttpRequest_FindsWhatWasWritten() =>
        Prop.ForAll(Generators.Http.ToArbitrary(), sample =>
        {
            var status = ProtocolSniffer.Sniff(sample.Bytes, out var result);

            Assert.Equal(SniffStatus.Complete, status);
            Assert.Equal(SniffedProtocol.Http1, result.Protocol);
            Assert.Equal(sample.Token, result.ProtocolToken);
            Assert.Equal(sample.Method, result.Method);
            Assert.Equal(sample.Path, result.Path);
            Assert.Equal(sample.Host, result.Host);
            Assert.True(result.HeadersComplete);
            Assert.Equal(sample.Headers, result.Headers);
        }).Check(Some);

    [Fact]
    public void Sniff_GeneratedClientHello_FindsWhatWasWritten() =>
        Prop.ForAll(Generators.Tls.ToArbitrary(), sample =>
        {
            var status = ProtocolSniffer.Sniff(sample.Bytes, out var result);

            Assert.Equal(SniffStatus.Complete, status);
            Assert.Equal(SniffedProtocol.Tls, result.Protocol);
            Assert.Equal(sample.Sni, result.Sni);
            Assert.Equal(sample.Alpn, result.Alpn.AsEnumerable());
            Assert.Equal(0x0304, result.TlsHighestVersion);
        }).Check(Some);

    [Fact]
    public void Sniff_GeneratedRespArray_FindsCommand() =>
        Prop.ForAll(Generators.Resp.ToArbitrary(), sample =>
        {
            var status = ProtocolSniffer.Sniff(sample.Bytes, out var result);

            Assert.Equal(SniffStatus.Complete, status);
            Assert.Equal(SniffedProtocol.Redis, result.Protocol);
            Assert.Equal(sample.Command, result.Command);
        }).Check(Some);

    /// <summary>Sniffing returns a status in range and a result whose protocol agrees with it.</summary>
    private static void Sniffs(byte[] data)
    {
        var status = ProtocolSniffer.Sniff(data, out var result);

        Assert.True(Enum.IsDefined(status));
        Assert.NotNull(result);
        if (status == SniffStatus.Unrecognized)
        {
            Assert.Equal(SniffedProtocol.Unknown, result.Protocol);
        }
    }
}
