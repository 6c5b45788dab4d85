using Istio.AppSwitch.Grpc;

namespace Istio.AppSwitch.Grpc.Tests;

public class GrpcProtocolTests
{
    public static TheoryData<TimeSpan, string> Timeouts => new()
    {
        { TimeSpan.FromTicks(1), "100n" },
        { TimeSpan.FromMilliseconds(100), "100000u" },
        { TimeSpan.FromSeconds(1), "1000000u" },
        { TimeSpan.FromSeconds(99), "99000000u" },
        { TimeSpan.FromSeconds(100), "100000m" },
        { TimeSpan.FromDays(1), "86400000m" },
        { TimeSpan.FromDays(2), "172800S" },
        { TimeSpan.FromDays(3650), "5256000M" },
        { TimeSpan.FromDays(365_000), "8760000H" },
        { TimeSpan.MaxValue, "99999999H" },
        // Rounded up: the server must never see a shorter deadline than the client's.
        { TimeSpan.FromSeconds(100) + TimeSpan.FromTicks(1), "100001m" },
    };

    [Theory]
    [MemberData(nameof(Timeouts))]
    public void EncodeTimeout_Duration_FinestUnitWithinEightDigits(TimeSpan timeout, string expected) =>
        Assert.Equal(expected, GrpcProtocol.EncodeTimeout(timeout));

    [Fact]
    public void EncodeTimeout_NotPositive_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => GrpcProtocol.EncodeTimeout(TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => GrpcProtocol.EncodeTimeout(TimeSpan.FromSeconds(-1)));
    }

    [Theory]
    [InlineData("1H", 36_000_000_000)]
    [InlineData("2M", 1_200_000_000)]
    [InlineData("3S", 30_000_000)]
    [InlineData("100m", 1_000_000)]
    [InlineData("2500u", 25_000)]
    [InlineData("1000n", 10)]
    [InlineData("150n", 2)] // rounded up to whole 100 ns ticks
    public void TryParseTimeout_ValidValue_Parses(string value, long ticks)
    {
        Assert.True(GrpcProtocol.TryParseTimeout(value, out var timeout));
        Assert.Equal(TimeSpan.FromTicks(ticks), timeout);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("m")]
    [InlineData("10")]
    [InlineData("123456789m")]
    [InlineData("10x")]
    [InlineData("-1S")]
    [InlineData("1.5S")]
    public void TryParseTimeout_InvalidValue_False(string? value) =>
        Assert.False(GrpcProtocol.TryParseTimeout(value, out _));

    [Fact]
    public void EncodeTimeout_ThenTryParseTimeout_NeverShorter()
    {
        foreach (var ticks in new long[] { 1, 9_999, 12_345_678, 987_654_321_012, TimeSpan.FromDays(400).Ticks })
        {
            var timeout = TimeSpan.FromTicks(ticks);
            Assert.True(GrpcProtocol.TryParseTimeout(GrpcProtocol.EncodeTimeout(timeout), out var parsed));
            Assert.True(parsed >= timeout, $"{timeout} came back as {parsed}");
        }
    }

    [Theory]
    [InlineData("plain message", "plain message")]
    [InlineData("100%", "100%25")]
    [InlineData("café", "caf%C3%A9")]
    [InlineData("line\nbreak", "line%0Abreak")]
    [InlineData("☕", "%E2%98%95")]
    public void EncodeStatusMessage_Text_PercentEncodesOutsidePrintableAscii(string message, string expected) =>
        Assert.Equal(expected, GrpcProtocol.EncodeStatusMessage(message));

    [Theory]
    [InlineData("plain message", "plain message")]
    [InlineData("100%25", "100%")]
    [InlineData("caf%C3%A9 %e2%98%95", "café ☕")]
    [InlineData("%0A", "\n")]
    [InlineData("", "")]
    [InlineData(null, "")]
    public void DecodeStatusMessage_PercentEncoded_Decodes(string? value, string expected) =>
        Assert.Equal(expected, GrpcProtocol.DecodeStatusMessage(value));

    [Theory]
    [InlineData("50%", "50%")]
    [InlineData("%zz ok", "%zz ok")]
    [InlineData("%4", "%4")]
    [InlineData("a%C3", "a\uFFFD")]
    public void DecodeStatusMessage_Malformed_KeepsWhatItCannotDecode(string value, string expected) =>
        Assert.Equal(expected, GrpcProtocol.DecodeStatusMessage(value));

    [Fact]
    public void EncodeStatusMessage_ThenDecode_RoundTrips()
    {
        const string Message = "nicht gefunden: café ☕ 100% /path?x=1 \u0001 𝄞";

        Assert.Equal(Message, GrpcProtocol.DecodeStatusMessage(GrpcProtocol.EncodeStatusMessage(Message)));
    }

    [Theory]
    [InlineData(400, GrpcStatusCode.Internal)]
    [InlineData(401, GrpcStatusCode.Unauthenticated)]
    [InlineData(403, GrpcStatusCode.PermissionDenied)]
    [InlineData(404, GrpcStatusCode.Unimplemented)]
    [InlineData(429, GrpcStatusCode.Unavailable)]
    [InlineData(502, GrpcStatusCode.Unavailable)]
    [InlineData(503, GrpcStatusCode.Unavailable)]
    [InlineData(504, GrpcStatusCode.Unavailable)]
    [InlineData(500, GrpcStatusCode.Unknown)]
    [InlineData(302, GrpcStatusCode.Unknown)]
    public void StatusCodeFromHttpStatus_HttpStatus_MapsPerSpec(int httpStatus, GrpcStatusCode expected) =>
        Assert.Equal(expected, GrpcProtocol.StatusCodeFromHttpStatus(httpStatus));

    [Theory]
    [InlineData(0x0, GrpcStatusCode.Internal)]
    [InlineData(0x1, GrpcStatusCode.Internal)]
    [InlineData(0x2, GrpcStatusCode.Internal)]
    [InlineData(0x7, GrpcStatusCode.Unavailable)]
    [InlineData(0x8, GrpcStatusCode.Cancelled)]
    [InlineData(0xb, GrpcStatusCode.ResourceExhausted)]
    [InlineData(0xc, GrpcStatusCode.PermissionDenied)]
    public void StatusCodeFromHttp2Error_ErrorCode_MapsPerSpec(long errorCode, GrpcStatusCode expected) =>
        Assert.Equal(expected, GrpcProtocol.StatusCodeFromHttp2Error(errorCode));

    [Theory]
    [InlineData("application/grpc", true)]
    [InlineData("application/grpc+proto", true)]
    [InlineData("application/grpc; charset=utf-8", true)]
    [InlineData("Application/GRPC", true)]
    [InlineData("application/grpc-web", false)]
    [InlineData("application/json", false)]
    [InlineData(null, false)]
    public void IsGrpcContentType_Value_Recognized(string? contentType, bool expected) =>
        Assert.Equal(expected, GrpcProtocol.IsGrpcContentType(contentType));

    [Fact]
    public void GrpcStatusCode_AllSeventeenCodes_HaveWireValues()
    {
        var values = Enum.GetValues<GrpcStatusCode>().Select(c => (int)c).ToArray();

        Assert.Equal(Enumerable.Range(0, 17), values);
    }
}
