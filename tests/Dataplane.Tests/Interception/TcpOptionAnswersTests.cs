using System.Buffers.Binary;
using Istio.AppSwitch.Dataplane.Interception;
using Istio.AppSwitch.Interop;
using static Istio.AppSwitch.Interop.SocketConstants;

namespace Istio.AppSwitch.Dataplane.Tests.Interception;

public sealed class TcpOptionAnswersTests
{
    [Theory]
    [InlineData(TCP_NODELAY, 0)]
    [InlineData(TCP_KEEPIDLE, 7200)]
    [InlineData(TCP_KEEPINTVL, 75)]
    [InlineData(TCP_KEEPCNT, 9)]
    [InlineData(TCP_QUICKACK, 1)]
    [InlineData(TCP_MAXSEG, 65483)]
    [InlineData(TCP_USER_TIMEOUT, 0)]
    public void Answer_NothingSet_TheKernelsDefault(int name, int expected)
    {
        Span<byte> output = stackalloc byte[TcpOptionAnswers.TcpInfoSize];

        Assert.Equal(Errno.Success, TcpOptionAnswers.Answer(name, default, 4, output, out var length));

        Assert.Equal(4, length);
        Assert.Equal(expected, BinaryPrimitives.ReadInt32LittleEndian(output));
    }

    [Fact]
    public void SetThenAnswer_ReadsBackTheValue_BooleansAsZeroOrOne()
    {
        Assert.Equal(Errno.Success, TcpOptionAnswers.CheckSet(TCP_KEEPIDLE, 4, out var keep));
        Assert.Equal(4, keep);
        Span<byte> output = stackalloc byte[TcpOptionAnswers.TcpInfoSize];

        TcpOptionAnswers.Answer(TCP_KEEPIDLE, BitConverter.GetBytes(42), 4, output, out _);
        Assert.Equal(42, BinaryPrimitives.ReadInt32LittleEndian(output));
        TcpOptionAnswers.Answer(TCP_NODELAY, BitConverter.GetBytes(5), 4, output, out _);
        Assert.Equal(1, BinaryPrimitives.ReadInt32LittleEndian(output));
    }

    [Theory]
    [InlineData(TCP_NODELAY, 3, Errno.EINVAL)]
    [InlineData(TCP_NODELAY, -1, Errno.EINVAL)]
    [InlineData(TCP_INFO, 4, Errno.ENOPROTOOPT)]
    [InlineData(14, 4, Errno.ENOPROTOOPT)] // TCP_MD5SIG: not answered
    [InlineData(TCP_CONGESTION, 0, Errno.EINVAL)]
    public void CheckSet_WhatTheKernelRefuses(int name, long optlen, Errno expected) =>
        Assert.Equal(expected, TcpOptionAnswers.CheckSet(name, optlen, out _));

    [Fact]
    public void Answer_ShortBuffer_CutAsTheKernelCuts_NegativeLengthIsEinval()
    {
        Span<byte> output = stackalloc byte[TcpOptionAnswers.TcpInfoSize];

        Assert.Equal(Errno.Success, TcpOptionAnswers.Answer(TCP_KEEPCNT, default, 1, output, out var length));
        Assert.Equal(1, length);
        Assert.Equal(9, output[0]);
        Assert.Equal(Errno.EINVAL, TcpOptionAnswers.Answer(TCP_KEEPCNT, default, -1, output, out _));
        Assert.Equal(Errno.ENOPROTOOPT, TcpOptionAnswers.Answer(99, default, 4, output, out _));
    }

    [Fact]
    public void Answer_TcpInfo_EstablishedAndZero_CongestionIsCubicOrTheNameSet()
    {
        Span<byte> output = stackalloc byte[TcpOptionAnswers.TcpInfoSize];

        TcpOptionAnswers.Answer(TCP_INFO, default, 500, output, out var length);
        Assert.Equal(TcpOptionAnswers.TcpInfoSize, length);
        Assert.Equal(1, output[0]);
        Assert.True(output[1..length].IndexOfAnyExcept((byte)0) < 0);

        TcpOptionAnswers.Answer(TCP_CONGESTION, default, 16, output, out length);
        Assert.Equal(16, length);
        Assert.Equal("cubic", System.Text.Encoding.ASCII.GetString(output[..length]).TrimEnd('\0'));
        TcpOptionAnswers.Answer(TCP_CONGESTION, "bbr"u8, 16, output, out _);
        Assert.Equal("bbr", System.Text.Encoding.ASCII.GetString(output[..16]).TrimEnd('\0'));
    }
}
