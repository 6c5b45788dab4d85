using System.Text;

namespace Istio.AppSwitch.ProxyProtocol.Tests;

public class Crc32CTests
{
    [Theory]
    // RFC 3720 B.4 and the usual CRC catalogue check value for "123456789".
    [InlineData("", 0x00000000u)]
    [InlineData("123456789", 0xE3069283u)]
    [InlineData("The quick brown fox jumps over the lazy dog", 0x22620404u)]
    public void Compute_KnownText_MatchesCatalogue(string text, uint expected) =>
        Assert.Equal(expected, Crc32C.Compute(Encoding.ASCII.GetBytes(text)));

    [Fact]
    public void Compute_Rfc3720Vectors_Match()
    {
        // RFC 3720 appendix B.4: 32 bytes of zeros, of 0xFF, and ascending 0..31.
        Assert.Equal(0x8A9136AAu, Crc32C.Compute(new byte[32]));
        Assert.Equal(0x62A8AB43u, Crc32C.Compute(Enumerable.Repeat((byte)0xFF, 32).ToArray()));
        Assert.Equal(0x46DD794Eu, Crc32C.Compute(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray()));
    }

    [Fact]
    public void Append_InPiecesWithZeros_EqualsWhole()
    {
        var data = Enumerable.Range(0, 100).Select(i => (byte)(i * 7)).ToArray();
        data[40] = data[41] = data[42] = data[43] = 0;
        var crc = Crc32C.Append(Crc32C.Seed, data.AsSpan(0, 40));
        crc = Crc32C.AppendZeros(crc, 4);
        crc = Crc32C.Finish(Crc32C.Append(crc, data.AsSpan(44)));
        Assert.Equal(Crc32C.Compute(data), crc);
    }
}
