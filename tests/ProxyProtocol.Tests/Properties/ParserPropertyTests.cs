using FsCheck;
using FsCheck.Fluent;

namespace Istio.AppSwitch.ProxyProtocol.Tests.Properties;

/// <summary>
/// Properties over generated input (FsCheck): a header from a hostile peer may be anything, so the parser is checked
/// on random, nearly valid and damaged bytes, and the writer against the parser.
/// </summary>
public class ParserPropertyTests
{
    private static readonly Config Many = Config.QuickThrowOnFailure.WithMaxTest(3000);
    private static readonly Config Some = Config.QuickThrowOnFailure.WithMaxTest(1000);

    [Fact]
    public void TryParse_AnyBytes_NeverThrows() =>
        Prop.ForAll(Generators.NearlyHeaders.ToArbitrary(), data => NeverThrows(data)).Check(Many);

    [Fact]
    public void TryParse_DamagedHeaders_NeverThrows() =>
        Prop.ForAll(Generators.Mutated.ToArbitrary(), data => NeverThrows(data)).Check(Many);

    [Fact]
    public void TryParse_StrictPrefixesOfV2Header_Incomplete() =>
        Prop.ForAll(Generators.Header.ToArbitrary(), spec =>
        {
            var data = spec.Write();
            for (var length = 0; length < data.Length; length++)
            {
                var status = ProxyProtocolParser.TryParse(data.AsSpan(0, length), out _, out _, out var error);
                Assert.True(status == ProxyParseStatus.Incomplete, $"{length} of {data.Length} bytes: {status} {error}");
            }
        }).Check(Some);

    [Fact]
    public void TryParse_StrictPrefixesOfV1Line_Incomplete() =>
        Prop.ForAll(Generators.V1Line.ToArbitrary(), line =>
        {
            for (var length = 0; length < line.Length; length++)
            {
                var status = ProxyProtocolParser.TryParse(line.Line.AsSpan(0, length), out _, out _, out var error);
                Assert.True(status == ProxyParseStatus.Incomplete, $"{length} of {line.Length} bytes: {status} {error}");
            }
        }).Check(Some);

    [Fact]
    public void WriteThenParse_V2_Identity() =>
        Prop.ForAll(Generators.Header.ToArbitrary(), spec =>
        {
            byte[] data = [.. spec.Write(), 1, 2, 3];
            var header = ProxyProtocolParser.Parse(data);

            Assert.Equal(data.Length - 3, header.Length);
            Assert.Equal(spec.Crc32c, header.HasChecksum);
            Assert.Equal(spec.Transport, header.Transport);
            Assert.Equal(spec.Kind == "local" ? ProxyCommand.Local : ProxyCommand.Proxy, header.Command);
            Assert.Equal([.. spec.Tlvs], header.Tlvs.Where(t => t.Type != ProxyTlvType.Crc32c));
            switch (spec.Kind)
            {
                case "ipv4":
                case "ipv6":
                    Assert.Equal(spec.SourceAddress, header.Source!.Address.GetAddressBytes());
                    Assert.Equal(spec.DestinationAddress, header.Destination!.Address.GetAddressBytes());
                    Assert.Equal(spec.SourcePort, header.Source.Port);
                    Assert.Equal(spec.DestinationPort, header.Destination.Port);
                    break;
                case "mixed":
                    Assert.Equal(ProxyAddressFamily.InterNetworkV6, header.Family);
                    Assert.True(header.Source!.Address.IsIPv4MappedToIPv6);
                    Assert.Equal(spec.SourceAddress, header.Source.Address.MapToIPv4().GetAddressBytes());
                    Assert.Equal(spec.DestinationAddress, header.Destination!.Address.GetAddressBytes());
                    break;
                case "unix":
                    Assert.Equal(spec.SourceAddress, header.SourceUnixAddress.Span[..spec.SourceAddress.Length].ToArray());
                    Assert.Equal(spec.DestinationAddress, header.DestinationUnixAddress.Span[..spec.DestinationAddress.Length].ToArray());
                    break;
                default:
                    Assert.True(header.IsLocal);
                    break;
            }
        }).Check(Some);

    [Fact]
    public void WriteThenParse_V1_Identity() =>
        Prop.ForAll(Generators.V1Line.ToArbitrary(), line =>
        {
            var header = ProxyProtocolParser.Parse(line.Line);
            Assert.Equal(line.Length, header.Length);
            Assert.Equal(ProxyVersion.V1, header.Version);
        }).Check(Some);

    [Fact]
    public void Parse_DamagedHeaders_ThrowsOnlyProxyProtocolException() =>
        Prop.ForAll(Generators.Mutated.ToArbitrary(), data =>
        {
            try
            {
                ProxyProtocolParser.Parse(data);
            }
            catch (ProxyProtocolException)
            {
                // The only exception allowed.
            }
        }).Check(Many);

    private static void NeverThrows(byte[] data)
    {
        var status = ProxyProtocolParser.TryParse(data, out var header, out var consumed, out var error);
        switch (status)
        {
            case ProxyParseStatus.Success:
                Assert.NotNull(header);
                Assert.InRange(consumed, 15, data.Length);
                Assert.Equal(consumed, header.Length);
                Assert.Equal(ProxyProtocolErrorKind.None, error.Kind);
                break;
            case ProxyParseStatus.Invalid:
                Assert.Null(header);
                Assert.NotEqual(ProxyProtocolErrorKind.None, error.Kind);
                Assert.False(string.IsNullOrEmpty(error.Message));
                break;
            default:
                Assert.Null(header);
                Assert.Equal(0, consumed);
                break;
        }
    }
}
