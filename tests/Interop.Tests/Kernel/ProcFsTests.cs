using Microsoft.Win32.SafeHandles;

namespace Istio.AppSwitch.Interop.Tests.Kernel;

public sealed class ProcFsTests
{
    private static readonly int Pid = CurrentProcess.GetProcessId();

    [Fact]
    public void GetSocketInode_OwnSocket_MatchesFstatInode()
    {
        using SafeFd socket = TestSockets.NewTcpSocket();

        Assert.Equal(Errno.Success, ProcFs.GetSocketInode(Pid, socket.Value, out ulong fromLink));
        Assert.Equal(Errno.Success, ProcFs.GetInode(socket, out ulong fromFstat));
        Assert.Equal(fromFstat, fromLink);
        Assert.NotEqual(0UL, fromLink);
    }

    [Fact]
    public void GetSocketInode_NotASocket_Enotsock()
    {
        using SafeFileHandle file = File.OpenHandle("/proc/self/status");

        Assert.Equal(Errno.ENOTSOCK, ProcFs.GetSocketInode(Pid, (int)file.DangerousGetHandle(), out ulong inode));
        Assert.Equal(0UL, inode);
    }

    [Fact]
    public void GetSocketInode_MissingFdOrProcess_Enoent()
    {
        Assert.Equal(Errno.ENOENT, ProcFs.GetSocketInode(Pid, 1_000_000, out _));
        Assert.Equal(Errno.ENOENT, ProcFs.GetSocketInode(int.MaxValue, 0, out _));
        Assert.Equal(Errno.EINVAL, ProcFs.GetSocketInode(-1, 0, out _));
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(false, false)]
    [InlineData(true, false)]
    public void GetFdInfoFlags_OwnSocket_ReportsNonBlockAndCloseOnExec(bool nonBlocking, bool closeOnExec)
    {
        Assert.Equal(Errno.Success, Sockets.Create(SocketConstants.AF_INET, SocketConstants.SOCK_STREAM, 0, nonBlocking, closeOnExec, out SafeFd? created));
        using SafeFd socket = created!;

        Assert.Equal(Errno.Success, ProcFs.GetFdInfoFlags(Pid, socket.Value, out int statusFlags, out bool cloexec));
        Assert.Equal(nonBlocking, (statusFlags & SocketConstants.O_NONBLOCK) != 0);
        Assert.Equal(closeOnExec, cloexec);
        Assert.Equal(Errno.Success, Sockets.GetStatusFlags(socket, out int fromFcntl));
        Assert.Equal(fromFcntl, statusFlags);
    }

    [Fact]
    public void GetInode_ClosedHandle_ThrowsObjectDisposed()
    {
        SafeFd socket = TestSockets.NewTcpSocket();
        socket.Dispose();

        // The SafeHandle marshaller refuses a closed handle rather than passing a stale fd number.
        Assert.Throws<ObjectDisposedException>(() => ProcFs.GetInode(socket, out _));
    }
}
