using System.Net.Sockets;

namespace Istio.AppSwitch.Interop.Tests;

public sealed class ErrnoTests
{
    [Theory]
    [InlineData(Errno.ECONNREFUSED, 111, "ECONNREFUSED")]
    [InlineData(Errno.EINPROGRESS, 115, "EINPROGRESS")]
    [InlineData(Errno.ENOSYS, 38, "ENOSYS")]
    [InlineData((Errno)1234, 1234, "errno 1234")]
    public void GetName_NamedAndUnknownValues_CarryTheRawValue(Errno errno, int raw, string name)
    {
        Assert.Equal(raw, (int)errno);
        Assert.Equal(errno, ErrnoExtensions.FromRaw(raw));
        Assert.Equal(name, errno.GetName());
    }

    [Fact]
    public void GetMessage_KnownValue_IsLibcText() =>
        Assert.Equal("Connection refused", Errno.ECONNREFUSED.GetMessage());

    [Theory]
    [InlineData(Errno.ECONNREFUSED, SocketError.ConnectionRefused)]
    [InlineData(Errno.EINPROGRESS, SocketError.InProgress)]
    [InlineData(Errno.EAGAIN, SocketError.WouldBlock)]
    [InlineData(Errno.Success, SocketError.Success)]
    [InlineData((Errno)1234, SocketError.SocketError)]
    public void ToSocketError_MapsWithFallback(Errno errno, SocketError expected) =>
        Assert.Equal(expected, errno.ToSocketError());

    [Fact]
    public void InteropException_CarriesCallAndErrno()
    {
        var exception = Assert.Throws<InteropException>(() => PidFd.Open(int.MaxValue));

        Assert.Equal(Errno.ESRCH, exception.Errno);
        Assert.Equal("pidfd_open", exception.Call);
        Assert.Contains("ESRCH", exception.Message, StringComparison.Ordinal);
    }
}
