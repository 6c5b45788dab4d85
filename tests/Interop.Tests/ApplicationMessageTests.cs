using System.Buffers.Binary;

namespace Istio.AppSwitch.Interop.Tests;

public sealed class ApplicationMessageTests
{
    [Fact]
    public void TryParse_X86_64Msghdr_ReadsEveryFieldAtItsOffset()
    {
        var bytes = new byte[ApplicationMessage.Size];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 0x1000);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), 16);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(16), 0x2000);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(24), 3);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(32), 0x3000);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(40), 48);

        Assert.True(ApplicationMessage.TryParse(bytes, out var message));
        Assert.Equal(new ApplicationMessage(0x1000, 16, 0x2000, 3, 0x3000, 48), message);
        Assert.False(ApplicationMessage.TryParse(bytes.AsSpan(0, 55), out _));
    }

    [Fact]
    public void TryGetTotalLength_SumsAndSaturates_RejectsPartialVectorsAndNegativeLengths()
    {
        Assert.True(ApplicationMessage.TryGetTotalLength(Vectors(3, 0, 65535), out var total));
        Assert.Equal(65538, total);
        Assert.True(ApplicationMessage.TryGetTotalLength(Vectors(int.MaxValue, int.MaxValue), out total));
        Assert.Equal(int.MaxValue, total);
        Assert.True(ApplicationMessage.TryGetTotalLength([], out total));
        Assert.Equal(0, total);

        Assert.False(ApplicationMessage.TryGetTotalLength(new byte[17], out _));
        var negative = Vectors(1);
        BinaryPrimitives.WriteUInt64LittleEndian(negative.AsSpan(8), ulong.MaxValue);
        Assert.False(ApplicationMessage.TryGetTotalLength(negative, out _));
    }

    [Fact]
    public void ControlMessageReader_TwoMessages_ReadsLevelTypeAndDataWithAlignment()
    {
        var control = new byte[16 + 8 + 16 + 8];
        WriteHeader(control, 0, 16 + 4, level: 0, type: 1);
        control[16] = 0x10;
        WriteHeader(control, 24, 16 + 2, level: 17, type: 103);
        BinaryPrimitives.WriteUInt16LittleEndian(control.AsSpan(40), 1200);

        var reader = new ControlMessageReader(control);
        Assert.True(reader.TryRead(out var level, out var type, out var data));
        Assert.Equal((0, 1, 4, (byte)0x10), (level, type, data.Length, data[0]));
        Assert.True(reader.TryRead(out level, out type, out data));
        Assert.Equal((17, 103, 1200), (level, type, (int)BinaryPrimitives.ReadUInt16LittleEndian(data)));
        Assert.False(reader.TryRead(out _, out _, out _));
        Assert.False(reader.Malformed);
    }

    [Theory]
    [InlineData(8)] // shorter than its own header
    [InlineData(64)] // past the buffer
    public void ControlMessageReader_BadLength_StopsAndSaysMalformed(int length)
    {
        var control = new byte[32];
        WriteHeader(control, 0, length, level: 0, type: 1);

        var reader = new ControlMessageReader(control);

        Assert.False(reader.TryRead(out _, out _, out _));
        Assert.True(reader.Malformed);
    }

    private static byte[] Vectors(params long[] lengths)
    {
        var bytes = new byte[lengths.Length * ApplicationMessage.IoVectorSize];
        for (var i = 0; i < lengths.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(i * 16), 0x1000 + (ulong)i);
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(i * 16 + 8), (ulong)lengths[i]);
        }
        return bytes;
    }

    private static void WriteHeader(byte[] control, int offset, int length, int level, int type)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(control.AsSpan(offset), (ulong)length);
        BinaryPrimitives.WriteInt32LittleEndian(control.AsSpan(offset + 8), level);
        BinaryPrimitives.WriteInt32LittleEndian(control.AsSpan(offset + 12), type);
    }
}
