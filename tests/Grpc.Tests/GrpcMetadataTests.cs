using Istio.AppSwitch.Grpc;

namespace Istio.AppSwitch.Grpc.Tests;

public class GrpcMetadataTests
{
    [Fact]
    public void Add_AsciiAndBinaryEntries_KeepsOrderAndRepeats()
    {
        var metadata = new GrpcMetadata
        {
            { "authorization", "Bearer token" },
            { "x-id", "1" },
            { "x-trace-bin", new byte[] { 1, 2, 3 } },
            { "x-id", "2" },
        };

        Assert.Equal(["authorization", "x-id", "x-trace-bin", "x-id"], metadata.Select(e => e.Key));
        Assert.Equal("2", metadata.GetValue("x-id"));
        Assert.Equal(["1", "2"], metadata.GetAll("x-id").Select(e => e.Value));
        Assert.Equal(new byte[] { 1, 2, 3 }, metadata.GetValueBytes("x-trace-bin"));
        Assert.Null(metadata.Get("missing"));
    }

    [Theory]
    [InlineData("X-Upper")]
    [InlineData(":path")]
    [InlineData(":authority")]
    [InlineData("grpc-timeout")]
    [InlineData("grpc-status")]
    [InlineData("content-type")]
    [InlineData("te")]
    [InlineData("user-agent")]
    [InlineData("has space")]
    [InlineData("ünïcode")]
    [InlineData("")]
    public void Add_InvalidOrReservedKey_Throws(string key) =>
        Assert.ThrowsAny<ArgumentException>(() => new GrpcMetadata { { key, "value" } });

    [Theory]
    [InlineData("a")]
    [InlineData("x-custom_key.v1")]
    [InlineData("authorization")]
    [InlineData("0-9")]
    public void IsValidKey_AllowedCharacters_True(string key) => Assert.True(GrpcMetadata.IsValidKey(key));

    [Theory]
    [InlineData("line\nbreak")]
    [InlineData("tab\t")]
    [InlineData("café")]
    public void Add_NonPrintableAsciiValue_Throws(string value) =>
        Assert.Throws<ArgumentException>(() => new GrpcMetadata { { "x-key", value } });

    [Fact]
    public void Add_BinaryValueWithoutBinSuffix_Throws() =>
        Assert.Throws<ArgumentException>(() => new GrpcMetadata { { "x-key", new byte[] { 1 } } });

    [Fact]
    public void Add_AsciiValueWithBinSuffix_Throws() =>
        Assert.Throws<ArgumentException>(() => new GrpcMetadata { { "x-key-bin", "text" } });

    [Fact]
    public void ToHeaderValue_BinaryEntry_UnpaddedBase64()
    {
        var metadata = new GrpcMetadata { { "x-bin", new byte[] { 0, 1, 2, 254 } } };

        Assert.Equal("AAEC/g", metadata[0].ToHeaderValue());
    }

    [Fact]
    public void FromHeaders_ProtocolHeaders_SkippedAndBinaryDecoded()
    {
        var headers = new Dictionary<string, IEnumerable<string>>
        {
            [":status"] = ["200"],
            ["content-type"] = ["application/grpc"],
            ["grpc-status"] = ["0"],
            ["grpc-message"] = ["ok"],
            ["grpc-encoding"] = ["identity"],
            ["X-Custom"] = ["a", "b"],
            ["x-padded-bin"] = ["AAEC/g=="],
            ["x-joined-bin"] = ["AQ, Ag"],
            ["x-broken-bin"] = ["!!!"],
            ["grpc-status-details-bin"] = ["CAU"],
        };

        var metadata = GrpcMetadata.FromHeaders(headers);

        Assert.Equal(
            ["x-custom=a", "x-custom=b", "x-padded-bin=AAEC/g", "x-joined-bin=AQ", "x-joined-bin=Ag", "grpc-status-details-bin=CAU"],
            metadata.Select(e => e.ToString()));
        Assert.Equal(new byte[] { 8, 5 }, metadata.GetValueBytes("grpc-status-details-bin"));
    }
}
