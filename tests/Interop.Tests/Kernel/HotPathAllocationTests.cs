using System.Buffers.Binary;

namespace Istio.AppSwitch.Interop.Tests.Kernel;

/// <summary>The per-notification path allocates nothing on the managed heap (after its first, warming run).</summary>
public sealed class HotPathAllocationTests
{
    private const int Rounds = 6;

    [KernelFact(KernelRequirement.SeccompUserNotification)]
    public void NotificationPath_ReceiveReadParseAddFdRespond_AllocatesNothing()
    {
        var results = new Errno[Rounds];
        using TrappedThread app = TrappedThread.Start([SyscallNumbers.GetPeerName], () =>
        {
            using SafeFd socket = TestSockets.NewTcpSocket();
            var name = new byte[SocketConstants.SockaddrStorageSize];
            for (int i = 0; i < Rounds; i++)
            {
                results[i] = Sockets.GetPeerName(socket, name, out _);
            }
        });
        app.Go();

        using SafeFd spare = TestSockets.NewTcpSocket();
        var allocated = new long[Rounds];
        int pid = CurrentProcess.GetProcessId();
        Span<byte> buffer = stackalloc byte[SocketConstants.SockaddrStorageSize];
        for (int i = 0; i < Rounds; i++)
        {
            // No assertion inside the measured region: xunit's Assert.Equal allocates a comparer.
            long before = GC.GetAllocatedBytesForCurrentThread();
            Errno receivedResult = Seccomp.Receive(app.Listener, out SeccompNotification notification);
            Errno read = ProcessMemory.Read((int)notification.Pid, notification.Arg2, buffer[..4], out _);
            int capacity = BinaryPrimitives.ReadInt32LittleEndian(buffer);
            int length = TestSockets.Vip.Write(buffer);
            bool parsed = InetEndpoint.TryParse(buffer[..length], out InetEndpoint endpoint, out _);
            Errno written = ProcessMemory.Write((int)notification.Pid, notification.Arg1, buffer[..Math.Min(capacity, length)], out _);
            Errno inode = ProcFs.GetSocketInode(pid, spare.Value, out _);
            Errno option = Sockets.GetIntOption(spare, SocketConstants.SOL_SOCKET, SocketConstants.SO_TYPE, out _);
            Errno added = Seccomp.AddFd(app.Listener, notification.Id, spare, 0, setFd: false, send: false, closeOnExec: true, out int installed);
            bool valid = Seccomp.IsIdValid(app.Listener, notification.Id);
            Errno responded = Seccomp.Respond(app.Listener, notification.Id, 0, Errno.Success);
            allocated[i] = GC.GetAllocatedBytesForCurrentThread() - before;

            // The trapped thread is in this process: close the duplicate ADDFD put into our own fd table.
            Interop.Sys.Close(installed);
            Assert.True(parsed && endpoint == TestSockets.Vip);
            Assert.Equal([Errno.Success, Errno.Success, Errno.Success, Errno.Success, Errno.Success, Errno.Success, Errno.Success], new[] { receivedResult, read, written, inode, option, added, responded });
            Assert.True(valid);
        }

        app.Join();
        Assert.All(results, result => Assert.Equal(Errno.Success, result));
        Assert.All(allocated.Skip(1), bytes => Assert.Equal(0, bytes));
    }

    [Fact]
    public void SocketsAndEndpoints_SteadyState_AllocateNothing()
    {
        Assert.Equal(Errno.Success, Sockets.SocketPair(SocketConstants.AF_UNIX, SocketConstants.SOCK_STREAM | SocketConstants.SOCK_CLOEXEC, out SafeFd? first, out SafeFd? second));
        using SafeFd a = first!;
        using SafeFd b = second!;
        Span<byte> data = stackalloc byte[16];
        Span<int> fds = stackalloc int[2];
        Span<byte> sockaddr = stackalloc byte[SocketConstants.SockaddrStorageSize];
        int[] outgoing = [a.Value];
        var v6 = new InetEndpoint([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 443, scopeId: 3);

        long allocated = 0;
        for (int i = 0; i < 3; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            Sockets.Send(a, "x"u8, 0, out _);
            Sockets.Receive(b, data, SocketConstants.MSG_DONTWAIT, out _);
            Sockets.SendWithFds(a, "y"u8, outgoing);
            Sockets.ReceiveWithFds(b, data, fds, out _, out int count);
            for (int f = 0; f < count; f++)
            {
                Interop.Sys.Close(fds[f]);
            }

            Sockets.GetStatusFlags(a, out _);
            Sockets.GetDescriptorFlags(a, out _);
            Sockets.GetSockName(a, sockaddr, out _);
            Sockets.GetPeerCredentials(a, out _, out _, out _);
            ProcFs.GetInode(a, out _);
            ProcFs.GetFdInfoFlags(CurrentProcess.GetProcessId(), a.Value, out _, out _);
            int length = v6.Write(sockaddr);
            InetEndpoint.TryParse(sockaddr[..length], out InetEndpoint parsed, out _);
            _ = parsed.IsLoopback && parsed.WithPort(80).Equals(v6);
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Assert.Equal(0, allocated);
    }
}
