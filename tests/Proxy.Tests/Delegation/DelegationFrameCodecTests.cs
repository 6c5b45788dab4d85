using System.Buffers.Binary;
using System.Net;
using Istio.AppSwitch.Delegation;
using Istio.AppSwitch.ProxyProtocol;

namespace Istio.AppSwitch.Proxy.Tests.Delegation;

public sealed class DelegationFrameCodecTests
{
    private static readonly byte[] Metadata = TestSupport.Header("10.1.2.3:40000", "10.9.8.7:6379",
        AxTlvs.Labels([new("app", "web")]), AxTlvs.Protocol("redis"));

    [Theory]
    [InlineData(DelegationKind.Outbound, 1)]
    [InlineData(DelegationKind.Inbound, 2)]
    public void EncodeDecode_RoundTrip_SameFieldsAndHeader(DelegationKind kind, int fds)
    {
        var frame = new byte[DelegationFrameCodec.FixedLength + Metadata.Length];

        var length = DelegationFrameCodec.Encode(frame, kind, 0x0102030405060708, Metadata);
        var fixedPart = DelegationFrameCodec.DecodeFixed(frame);
        var header = DelegationFrameCodec.DecodeMetadata(frame.AsSpan(DelegationFrameCodec.FixedLength, fixedPart.MetadataLength));

        Assert.Equal(frame.Length, length);
        Assert.Equal("AXD1"u8.ToArray(), frame[..4]);
        Assert.Equal(new DelegationFrameHeader(kind, fds, 0x0102030405060708, Metadata.Length), fixedPart);
        Assert.Equal(IPEndPoint.Parse("10.1.2.3:40000"), header.Source);
        Assert.Equal(IPEndPoint.Parse("10.9.8.7:6379"), header.Destination);
        Assert.Equal("redis", header.AxProtocol);
        Assert.Equal([new("app", "web")], header.AxLabels!);
    }

    [Theory]
    [InlineData(0, 0x58, DelegationErrorKind.BadMagic)]
    [InlineData(4, 3, DelegationErrorKind.BadKind)]
    [InlineData(4, 0, DelegationErrorKind.BadKind)]
    [InlineData(5, 2, DelegationErrorKind.BadFdCount)]
    [InlineData(5, 0, DelegationErrorKind.BadFdCount)]
    [InlineData(7, 1, DelegationErrorKind.BadFlags)]
    public void DecodeFixed_OneByteWrong_ErrorOfThatKind(int offset, byte value, DelegationErrorKind expected)
    {
        var frame = new byte[DelegationFrameCodec.FixedLength + Metadata.Length];
        DelegationFrameCodec.Encode(frame, DelegationKind.Outbound, 1, Metadata);
        frame[offset] = value;

        var error = Assert.Throws<DelegationProtocolException>(() => DelegationFrameCodec.DecodeFixed(frame));

        Assert.Equal(expected, error.Kind);
    }

    [Fact]
    public void DecodeFixed_LengthOverLimit_TooLong()
    {
        var frame = new byte[DelegationFrameCodec.FixedLength + Metadata.Length];
        DelegationFrameCodec.Encode(frame, DelegationKind.Outbound, 1, Metadata);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(16), DelegationFrameCodec.MaxMetadataLength + 1);

        Assert.Equal(DelegationErrorKind.TooLong, Assert.Throws<DelegationProtocolException>(() => DelegationFrameCodec.DecodeFixed(frame)).Kind);
        Assert.Equal(DelegationErrorKind.Truncated, Assert.Throws<DelegationProtocolException>(() => DelegationFrameCodec.DecodeFixed(frame.AsSpan(0, 19))).Kind);
    }

    [Fact]
    public void DecodeMetadata_NotOneV2Header_BadMetadata()
    {
        var trailing = (byte[])[.. Metadata, 0];
        var truncated = Metadata[..^1];
        var v1 = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"u8.ToArray();

        foreach (var metadata in (byte[][])[trailing, truncated, v1, []])
        {
            Assert.Equal(DelegationErrorKind.BadMetadata, Assert.Throws<DelegationProtocolException>(() => DelegationFrameCodec.DecodeMetadata(metadata)).Kind);
        }
    }

    [Fact]
    public void Encode_MetadataNotAHeader_ArgumentException()
    {
        var frame = new byte[256];

        Assert.Throws<ArgumentException>(() => DelegationFrameCodec.Encode(frame, DelegationKind.Outbound, 1, "not a header"u8));
        Assert.Throws<ArgumentException>(() => DelegationFrameCodec.Encode(frame, DelegationKind.Outbound, 1, Metadata[..^1]));
        Assert.Throws<ArgumentException>(() => DelegationFrameCodec.Encode(frame, (DelegationKind)7, 1, Metadata));
    }
}
