using System.Text;

namespace Istio.AppSwitch.Interop.Tests;

public sealed class ProcFsParsingTests
{
    [Theory]
    [InlineData("pos:\t0\nflags:\t02004002\nmnt_id:\t9\nino:\t12345\n", 0x80802)]
    [InlineData("pos:\t0\nflags:\t02\nmnt_id:\t9\n", 2)]
    [InlineData("flags:\t0", 0)]
    public void TryParseFdInfoFlags_KernelFormat_ReadsOctal(string fdinfo, int expected)
    {
        Assert.True(ProcFs.TryParseFdInfoFlags(Encoding.ASCII.GetBytes(fdinfo), out int flags));
        Assert.Equal(expected, flags);
    }

    [Theory]
    [InlineData("")]
    [InlineData("pos:\t0\n")]
    [InlineData("flags:\t\n")]
    [InlineData("flags:\t08\n")]
    [InlineData("flags:\t777777777777\n")]
    public void TryParseFdInfoFlags_Malformed_False(string fdinfo) =>
        Assert.False(ProcFs.TryParseFdInfoFlags(Encoding.ASCII.GetBytes(fdinfo), out _));
}
