using System.Diagnostics;
using System.Net.Sockets;
using static Istio.AppSwitch.Interop.Tests.Kernel.SeccompTestSupport;

namespace Istio.AppSwitch.Interop.Tests.Kernel;

/// <summary>
/// A child process started by a trapped thread inherits its filter across fork and execve, as an application
/// launched by `ax run` does. bash's /dev/tcp makes a plain libc connect. These tests also cover a target that
/// dies while its notification is pending, which a thread of this process cannot do (a thread blocked in a
/// trapped call can only be ended by a fatal signal, which ends the whole process).
/// </summary>
public sealed class SeccompChildProcessTests : IDisposable
{
    private static readonly int[] Trapped = [SyscallNumbers.Connect];

    private readonly EpollReactor _reactor = new("seccomp-child");

    public SeccompChildProcessTests()
    {
        // Start a process from an ordinary thread first: the runtime's SIGCHLD machinery (a native signal thread
        // that later completes tasks and may create thread-pool workers) is created on first use, and must not be
        // created by the trapped thread, whose filter it would inherit.
        using Process warmUp = Process.Start(new ProcessStartInfo("/bin/true") { UseShellExecute = false })!;
        warmUp.WaitForExit();
    }

    public void Dispose() => _reactor.Dispose();

    [KernelFact(KernelRequirement.SeccompUserNotification)]
    public async Task ChildProcess_InheritsFilter_ItsConnectIsRedirectedToRealServer()
    {
        using TcpListener server = TestSockets.StartListener();
        using TrappedProcess child = TrappedProcess.Start("exec 3<>/dev/tcp/127.96.0.1/9 && printf hello >&3");

        SeccompNotification connect = await ReceiveInetConnectAsync(child);
        Assert.Equal((uint)child.Process.Id, connect.Pid);
        Assert.Equal(TestSockets.Vip, ReadConnectAddress(connect));
        Assert.True(Seccomp.IsIdValid(child.Listener, connect.Id));

        // O_NONBLOCK and FD_CLOEXEC of the application's socket, read without touching it.
        Assert.Equal(Errno.Success, ProcFs.GetFdInfoFlags((int)connect.Pid, (int)connect.Arg0, out int statusFlags, out bool closeOnExec));
        Assert.Equal(0, statusFlags & SocketConstants.O_NONBLOCK);
        Assert.False(closeOnExec);
        Assert.Equal(Errno.Success, ProcFs.GetSocketInode((int)connect.Pid, (int)connect.Arg0, out ulong appInode));
        Assert.NotEqual(0UL, appInode);

        using (SafeFd upstream = TestSockets.ConnectTcp(TestSockets.EndpointOf(server)))
        {
            Assert.Equal(Errno.Success, Seccomp.AddFd(child.Listener, connect.Id, upstream, (int)connect.Arg0, setFd: true, send: false, closeOnExec: closeOnExec, out _));
            Assert.Equal(Errno.Success, ProcFs.GetSocketInode((int)connect.Pid, (int)connect.Arg0, out ulong replacedInode));
            Assert.Equal(Errno.Success, ProcFs.GetInode(upstream, out ulong upstreamInode));
            Assert.Equal(upstreamInode, replacedInode);
        }

        Assert.Equal(Errno.Success, Seccomp.Respond(child.Listener, connect.Id, 0, Errno.Success));

        using Socket accepted = await server.AcceptSocketAsync();
        Assert.Equal("hello"u8.ToArray(), await TestSockets.ReadExactlyAsync(accepted, 5));
        Assert.Equal(0, await child.WaitForExitAsync());
    }

    [KernelFact(KernelRequirement.SeccompUserNotification)]
    public async Task TargetKilled_WhileNotificationPending_IdInvalidAndRespondReturnsEnoent()
    {
        using TrappedProcess child = TrappedProcess.Start("exec 3<>/dev/tcp/127.96.0.1/9");
        SeccompNotification connect = await ReceiveInetConnectAsync(child);
        Assert.True(Seccomp.IsIdValid(child.Listener, connect.Id));

        child.Process.Kill();
        await child.WaitForExitAsync();

        Assert.False(Seccomp.IsIdValid(child.Listener, connect.Id));
        Assert.Equal(Errno.ENOENT, Seccomp.Respond(child.Listener, connect.Id, 0, Errno.Success));
        using (SafeFd socket = TestSockets.NewTcpSocket())
        {
            Assert.Equal(Errno.ENOENT, Seccomp.AddFd(child.Listener, connect.Id, socket, (int)connect.Arg0, setFd: true, send: true, closeOnExec: false, out _));
        }

        // Its memory is gone too: a late read fails instead of reading another process.
        Assert.NotEqual(Errno.Success, ProcessMemory.Read((int)connect.Pid, connect.Arg1, new byte[16], out _));

        // No task is left under the filter (the trapped thread has exited, the child is dead): the listener
        // reports hang-up.
        using var timeout = new CancellationTokenSource(TrappedThread.Timeout);
        EpollEvents events = await _reactor.WaitAsync(child.Listener, EpollEvents.In, timeout.Token);
        Assert.Equal(EpollEvents.Hup, events & EpollEvents.Hup);
    }

    /// <summary>Skips connects a libc may make on its own (nscd's AF_UNIX socket) by letting the kernel do them.</summary>
    private async Task<SeccompNotification> ReceiveInetConnectAsync(TrappedProcess child)
    {
        while (true)
        {
            SeccompNotification notification = await ReceiveAsync(_reactor, child.Listener);
            Assert.Equal(SyscallNumbers.Connect, notification.Nr);
            if (ReadFamily(notification) is SocketConstants.AF_INET or SocketConstants.AF_INET6)
            {
                return notification;
            }

            Assert.Equal(Errno.Success, Seccomp.RespondContinue(child.Listener, notification.Id));
        }
    }

    /// <summary>bash -c script, started by a trapped thread that then exits; the child keeps the filter alive.</summary>
    private sealed class TrappedProcess : IDisposable
    {
        private readonly TrappedThread _thread;

        private TrappedProcess(TrappedThread thread, Process process)
        {
            _thread = thread;
            Process = process;
        }

        public Process Process { get; }

        public SafeSeccompListenerHandle Listener => _thread.Listener;

        public static TrappedProcess Start(string script)
        {
            Process? process = null;
            var thread = TrappedThread.Start(Trapped, () =>
            {
                var startInfo = new ProcessStartInfo("/bin/bash") { UseShellExecute = false };
                startInfo.ArgumentList.Add("-c");
                startInfo.ArgumentList.Add(script);
                process = Process.Start(startInfo);
            });
            thread.Go();
            thread.Join();
            return new TrappedProcess(thread, process!);
        }

        public async Task<int> WaitForExitAsync()
        {
            using var timeout = new CancellationTokenSource(TrappedThread.Timeout);
            await Process.WaitForExitAsync(timeout.Token);
            return Process.ExitCode;
        }

        public void Dispose()
        {
            if (!Process.HasExited)
            {
                Process.Kill();
                Process.WaitForExit();
            }

            Process.Dispose();
            _thread.Dispose();
        }
    }
}
