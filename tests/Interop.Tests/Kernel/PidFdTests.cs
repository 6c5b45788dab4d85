namespace Istio.AppSwitch.Interop.Tests.Kernel;

public sealed class PidFdTests
{
    [Fact]
    public void GetFd_OwnProcessSocket_SameOpenFileDescription()
    {
        using SafePidFdHandle pidFd = PidFd.Open(CurrentProcess.GetProcessId());
        using SafeFd socket = TestSockets.NewTcpSocket();

        Assert.Equal(Errno.Success, PidFd.GetFd(pidFd, socket.Value, out SafeFd? copy));
        using (copy)
        {
            Assert.NotEqual(socket.Value, copy!.Value);
            Assert.Equal(Errno.Success, ProcFs.GetInode(socket, out ulong original));
            Assert.Equal(Errno.Success, ProcFs.GetInode(copy, out ulong duplicate));
            Assert.Equal(original, duplicate);

            // File status flags live in the shared open file description; FD_CLOEXEC is the new fd's own, and
            // pidfd_getfd always sets it.
            Assert.Equal(Errno.Success, Sockets.GetStatusFlags(socket, out int flags));
            Assert.Equal(Errno.Success, Sockets.SetStatusFlags(copy, flags | SocketConstants.O_NONBLOCK));
            Assert.Equal(Errno.Success, Sockets.GetStatusFlags(socket, out int shared));
            Assert.NotEqual(0, shared & SocketConstants.O_NONBLOCK);
            Assert.Equal(Errno.Success, Sockets.GetDescriptorFlags(copy, out int descriptorFlags));
            Assert.Equal(SocketConstants.FD_CLOEXEC, descriptorFlags);
        }
    }

    [Fact]
    public void GetFd_NoSuchFd_Ebadf()
    {
        using SafePidFdHandle pidFd = PidFd.Open(CurrentProcess.GetProcessId());

        Assert.Equal(Errno.EBADF, PidFd.GetFd(pidFd, 1_000_000, out SafeFd? fd));
        Assert.Null(fd);
    }

    [Fact]
    public void CheckAccess_OwnProcess_Success()
    {
        // The probe is fd -1, which no process has: EBADF, the answer past the access check, reads as access.
        using SafePidFdHandle pidFd = PidFd.Open(CurrentProcess.GetProcessId());

        Assert.Equal(Errno.Success, PidFd.CheckAccess(pidFd));
        Assert.Equal(Errno.EBADF, PidFd.GetFd(pidFd, -1, out SafeFd? none));
        Assert.Null(none);
    }

    [Fact]
    public void TryOpen_NoSuchProcess_Esrch()
    {
        Assert.Equal(Errno.ESRCH, PidFd.TryOpen(int.MaxValue, out SafePidFdHandle? handle));
        Assert.Null(handle);
    }

    [KernelFact(KernelRequirement.ThreadPidFd)]
    public async Task TryOpenThread_NonLeaderThread_WorksWhereTryOpenFailsAndSignalsExit()
    {
        using var reactor = new EpollReactor("pidfd-tests");
        using var release = new ManualResetEventSlim();
        int tid = 0;
        using var started = new ManualResetEventSlim();
        var thread = new Thread(() =>
        {
            tid = CurrentProcess.GetThreadId();
            started.Set();
            release.Wait();
        });
        thread.Start();
        started.Wait();

        // Seccomp reports thread ids: plain pidfd_open refuses a thread that is not its process's leader
        // (ENOENT on 6.18; EINVAL on kernels before PIDFD_THREAD).
        Assert.Contains(PidFd.TryOpen(tid, out _), new[] { Errno.ENOENT, Errno.EINVAL });
        Assert.Equal(Errno.Success, PidFd.TryOpenThread(tid, out SafePidFdHandle? threadPidFd));
        using SafePidFdHandle pidFd = threadPidFd!;
        using SafeFd socket = TestSockets.NewTcpSocket();
        Assert.Equal(Errno.Success, PidFd.GetFd(pidFd, socket.Value, out SafeFd? copy));
        copy!.Dispose();

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        ValueTask<EpollEvents> exited = reactor.WaitAsync(pidFd, EpollEvents.In, timeout.Token);
        release.Set();
        thread.Join();
        Assert.Equal(EpollEvents.In, await exited & EpollEvents.In);
    }
}
