using System.Net;
using System.Net.Sockets;
using static Istio.AppSwitch.Interop.Tests.Kernel.SeccompTestSupport;

namespace Istio.AppSwitch.Interop.Tests.Kernel;

/// <summary>
/// Real-kernel tests of the interception path, in one process: a dedicated thread traps its own connect and
/// getpeername, and the test answers as the daemon does. Only loopback addresses are used; the VIP lies in
/// 127.96.0.0/16 so that nothing leaves the machine even if interception failed.
/// </summary>
public sealed class SeccompListenerTests : IDisposable
{
    private static readonly int[] Trapped = [SyscallNumbers.Connect, SyscallNumbers.GetPeerName];

    private readonly EpollReactor _reactor = new("seccomp-tests");

    public void Dispose() => _reactor.Dispose();

    [KernelFact(KernelRequirement.SeccompUserNotification)]
    public void GetNotificationSizes_ThisKernel_MatchesTheStructsThisLayerUses()
    {
        var (notif, resp, data) = Seccomp.GetNotificationSizes();

        Assert.Equal(80, notif);
        Assert.Equal(24, resp);
        Assert.Equal(64, data);
        Assert.Equal(80, System.Runtime.CompilerServices.Unsafe.SizeOf<SeccompNotification>());
    }

    [KernelFact(KernelRequirement.SeccompUserNotification)]
    public async Task Connect_RedirectedWithAddFdThenRespond_ApplicationReachesRealServerAndSeesVip()
    {
        using TcpListener server = TestSockets.StartListener();
        Errno connectResult = Errno.EIO;
        Errno peerResult = Errno.EIO;
        InetEndpoint peer = default;
        Errno sendResult = Errno.EIO;
        using TrappedThread app = TrappedThread.Start(Trapped, () =>
        {
            using SafeFd socket = TestSockets.NewTcpSocket();
            connectResult = TestSockets.Connect(socket, TestSockets.Vip);
            Span<byte> name = stackalloc byte[SocketConstants.SockaddrStorageSize];
            peerResult = Sockets.GetPeerName(socket, name, out int length);
            if (peerResult == Errno.Success)
            {
                InetEndpoint.TryParse(name[..length], out peer, out _);
            }

            sendResult = Sockets.Send(socket, "hello"u8, 0, out _);
        });
        Assert.True(app.NoNewPrivileges);
        app.Go();

        SeccompNotification connect = await ReceiveAsync(_reactor, app.Listener);
        Assert.Equal(SyscallNumbers.Connect, connect.Nr);
        Assert.Equal(SeccompNotification.AuditArchX86_64, connect.Arch);
        Assert.Equal((uint)app.ThreadId, connect.Pid);
        Assert.Equal(TestSockets.Vip, ReadConnectAddress(connect));
        Assert.True(Seccomp.IsIdValid(app.Listener, connect.Id));

        using (SafeFd upstream = TestSockets.ConnectTcp(TestSockets.EndpointOf(server)))
        {
            Assert.Equal(Errno.Success, Seccomp.AddFd(app.Listener, connect.Id, upstream, (int)connect.Arg0, setFd: true, send: false, closeOnExec: true, out int installed));
            Assert.Equal((int)connect.Arg0, installed);
        }

        Assert.Equal(Errno.Success, Seccomp.Respond(app.Listener, connect.Id, 0, Errno.Success));

        // The application asks who it is connected to: the daemon answers with the VIP, not the real server.
        SeccompNotification getPeerName = await ReceiveAsync(_reactor, app.Listener);
        Assert.Equal(SyscallNumbers.GetPeerName, getPeerName.Nr);
        Assert.Equal(connect.Arg0, getPeerName.Arg0);
        WriteSockaddrResult(getPeerName, TestSockets.Vip);
        Assert.True(Seccomp.IsIdValid(app.Listener, getPeerName.Id));
        Assert.Equal(Errno.Success, Seccomp.Respond(app.Listener, getPeerName.Id, 0, Errno.Success));

        using Socket accepted = await server.AcceptSocketAsync();
        byte[] received = await TestSockets.ReadExactlyAsync(accepted, 5);
        app.Join();

        Assert.Equal(Errno.Success, connectResult);
        Assert.Equal(Errno.Success, peerResult);
        Assert.Equal(TestSockets.Vip, peer);
        Assert.Equal(Errno.Success, sendResult);
        Assert.Equal("hello"u8.ToArray(), received);
    }

    [KernelFact(KernelRequirement.SeccompUserNotification)]
    public async Task Connect_NonBlockingAnsweredEinprogress_BecomesWritableWithNoError()
    {
        using TcpListener server = TestSockets.StartListener();
        Errno connectResult = Errno.EIO;
        SafeFd? appSocket = null;
        using TrappedThread app = TrappedThread.Start(Trapped, () =>
        {
            appSocket = TestSockets.NewTcpSocket(nonBlocking: true);
            connectResult = TestSockets.Connect(appSocket, TestSockets.Vip);
        });
        app.Go();

        SeccompNotification connect = await ReceiveAsync(_reactor, app.Listener);
        Assert.Equal(TestSockets.Vip, ReadConnectAddress(connect));

        // The daemon's socket carries the application's O_NONBLOCK (a file status flag, so it travels with
        // the open file description that ADDFD installs).
        using (SafeFd upstream = TestSockets.NewTcpSocket(nonBlocking: true))
        {
            Errno upstreamConnect = TestSockets.Connect(upstream, TestSockets.EndpointOf(server));
            Assert.True(upstreamConnect is Errno.EINPROGRESS or Errno.Success, upstreamConnect.ToString());
            Assert.Equal(Errno.Success, Seccomp.AddFd(app.Listener, connect.Id, upstream, (int)connect.Arg0, setFd: true, send: false, closeOnExec: true, out _));
        }

        Assert.Equal(Errno.Success, Seccomp.Respond(app.Listener, connect.Id, 0, Errno.EINPROGRESS));
        app.Join();
        using SafeFd socket = appSocket!;
        Assert.Equal(Errno.EINPROGRESS, connectResult);

        using var timeout = new CancellationTokenSource(TrappedThread.Timeout);
        EpollEvents events = await _reactor.WaitAsync(socket, EpollEvents.Out, timeout.Token);
        Assert.Equal(EpollEvents.Out, events);
        Assert.Equal(Errno.Success, Sockets.GetIntOption(socket, SocketConstants.SOL_SOCKET, SocketConstants.SO_ERROR, out int soError));
        Assert.Equal(0, soError);
        Assert.Equal(Errno.Success, Sockets.GetStatusFlags(socket, out int flags));
        Assert.NotEqual(0, flags & SocketConstants.O_NONBLOCK);

        using Socket accepted = await server.AcceptSocketAsync();
        Assert.Equal(Errno.Success, Sockets.Send(socket, "ping"u8, 0, out int sent));
        Assert.Equal(4, sent);
        Assert.Equal("ping"u8.ToArray(), await TestSockets.ReadExactlyAsync(accepted, 4));
    }

    [KernelFact(KernelRequirement.SeccompUserNotification)]
    public async Task Connect_AnsweredEconnrefused_ApplicationSeesThatErrno()
    {
        Errno connectResult = Errno.EIO;
        using TrappedThread app = TrappedThread.Start(Trapped, () =>
        {
            using SafeFd socket = TestSockets.NewTcpSocket();
            connectResult = TestSockets.Connect(socket, TestSockets.Vip);
        });
        app.Go();

        SeccompNotification connect = await ReceiveAsync(_reactor, app.Listener);
        Assert.Equal(Errno.Success, Seccomp.Respond(app.Listener, connect.Id, 0, Errno.ECONNREFUSED));
        app.Join();

        Assert.Equal(Errno.ECONNREFUSED, connectResult);
        // Answered once: the id is gone, and a second answer finds nothing.
        Assert.False(Seccomp.IsIdValid(app.Listener, connect.Id));
        Assert.Equal(Errno.ENOENT, Seccomp.Respond(app.Listener, connect.Id, 0, Errno.Success));
    }

    [KernelFact(KernelRequirement.SeccompUserNotification)]
    public async Task RespondContinue_Connect_KernelPerformsTheCallItself()
    {
        using TcpListener server = TestSockets.StartListener();
        InetEndpoint serverEndpoint = TestSockets.EndpointOf(server);
        Errno connectResult = Errno.EIO;
        InetEndpoint local = default;
        using TrappedThread app = TrappedThread.Start(Trapped, () =>
        {
            using SafeFd socket = TestSockets.NewTcpSocket();
            connectResult = TestSockets.Connect(socket, serverEndpoint);
            Span<byte> name = stackalloc byte[SocketConstants.SockaddrStorageSize];
            if (Sockets.GetSockName(socket, name, out int length) == Errno.Success)
            {
                InetEndpoint.TryParse(name[..length], out local, out _);
            }
        });
        app.Go();

        SeccompNotification connect = await ReceiveAsync(_reactor, app.Listener);
        Assert.Equal(serverEndpoint, ReadConnectAddress(connect));
        Assert.Equal(Errno.Success, Seccomp.RespondContinue(app.Listener, connect.Id));

        using Socket accepted = await server.AcceptSocketAsync();
        app.Join();

        Assert.Equal(Errno.Success, connectResult);
        Assert.Equal(local.ToIPEndPoint(), accepted.RemoteEndPoint);
    }

    [KernelFact(KernelRequirement.SeccompUserNotification)]
    public async Task AddFd_SendWithSetFd_SyscallReturnsTheFdNumberNotZero()
    {
        using TcpListener server = TestSockets.StartListener();
        int rawResult = int.MinValue;
        int appFd = -1;
        using TrappedThread app = TrappedThread.Start(Trapped, () =>
        {
            using SafeFd socket = TestSockets.NewTcpSocket();
            appFd = socket.Value;
            rawResult = RawConnect(socket, TestSockets.Vip);
        });
        app.Go();

        SeccompNotification connect = await ReceiveAsync(_reactor, app.Listener);
        using (SafeFd upstream = TestSockets.ConnectTcp(TestSockets.EndpointOf(server)))
        {
            // SEND answers the call atomically with the install; its return value is the fd number, by kernel design.
            Assert.Equal(Errno.Success, Seccomp.AddFd(app.Listener, connect.Id, upstream, (int)connect.Arg0, setFd: true, send: true, closeOnExec: false, out int installed));
            Assert.Equal((int)connect.Arg0, installed);
        }

        app.Join();
        Assert.Equal(appFd, rawResult);
        Assert.True(rawResult > 0);
        Assert.False(Seccomp.IsIdValid(app.Listener, connect.Id));
    }

    [KernelFact(KernelRequirement.SeccompUserNotification)]
    public async Task AddFd_SendWithoutSetFd_InstallsAtLowestFreeFdAndReturnsIt()
    {
        using TcpListener server = TestSockets.StartListener();
        int rawResult = int.MinValue;
        int appFd = -1;
        ulong installedInode = 0;
        int descriptorFlags = -1;
        using TrappedThread app = TrappedThread.Start(Trapped, () =>
        {
            using SafeFd socket = TestSockets.NewTcpSocket();
            appFd = socket.Value;
            rawResult = RawConnect(socket, TestSockets.Vip);
            if (rawResult >= 0)
            {
                using SafeFd installed = SafeFd.FromOwned(rawResult);
                ProcFs.GetInode(installed, out installedInode);
                Sockets.GetDescriptorFlags(installed, out descriptorFlags);
            }
        });
        app.Go();

        SeccompNotification connect = await ReceiveAsync(_reactor, app.Listener);
        ulong upstreamInode;
        using (SafeFd upstream = TestSockets.ConnectTcp(TestSockets.EndpointOf(server)))
        {
            Assert.Equal(Errno.Success, ProcFs.GetInode(upstream, out upstreamInode));
            Assert.Equal(Errno.Success, Seccomp.AddFd(app.Listener, connect.Id, upstream, targetFd: 0, setFd: false, send: true, closeOnExec: true, out int installed));
            Assert.NotEqual(appFd, installed);
        }

        app.Join();
        Assert.NotEqual(appFd, rawResult);
        Assert.True(rawResult > 0);
        Assert.Equal(upstreamInode, installedInode);
        Assert.Equal(SocketConstants.FD_CLOEXEC, descriptorFlags);
    }

    [KernelFact(KernelRequirement.SeccompUserNotification)]
    public async Task Listener_ClosedWhileCallPending_CallFailsWithEnosys()
    {
        Errno connectResult = Errno.EIO;
        Errno laterConnect = Errno.EIO;
        var app = TrappedThread.Start(Trapped, () =>
        {
            using SafeFd socket = TestSockets.NewTcpSocket();
            connectResult = TestSockets.Connect(socket, TestSockets.Vip);
            using SafeFd again = TestSockets.NewTcpSocket();
            laterConnect = TestSockets.Connect(again, TestSockets.Vip);
        });
        try
        {
            app.Go();
            _ = await ReceiveAsync(_reactor, app.Listener);
        }
        finally
        {
            // The daemon "dies": every pending and future trapped call fails with ENOSYS.
            app.Dispose();
        }

        app.Join();
        Assert.Equal(Errno.ENOSYS, connectResult);
        Assert.Equal(Errno.ENOSYS, laterConnect);
    }

    [KernelFact(KernelRequirement.SeccompUserNotification)]
    public void Respond_UnknownId_ReturnsEnoentWithoutThrowing()
    {
        using TrappedThread app = TrappedThread.Start(Trapped, () => { });
        app.Go();
        app.Join();

        Assert.False(Seccomp.IsIdValid(app.Listener, 12345));
        Assert.Equal(Errno.ENOENT, Seccomp.Respond(app.Listener, 12345, 0, Errno.Success));
        Assert.Equal(Errno.ENOENT, Seccomp.RespondContinue(app.Listener, 12345));
        using SafeFd socket = TestSockets.NewTcpSocket();
        Assert.Equal(Errno.ENOENT, Seccomp.AddFd(app.Listener, 12345, socket, 0, setFd: false, send: false, closeOnExec: true, out int installed));
        Assert.Equal(-1, installed);
        Assert.Equal(Errno.EINVAL, Seccomp.Respond(app.Listener, 12345, 0, (Errno)5000));
    }

    [KernelFact(KernelRequirement.SeccompUserNotification)]
    public void InstallListenerFilter_OnThisThread_OtherThreadsAreNotTrapped()
    {
        using TrappedThread app = TrappedThread.Start(Trapped, () => { });
        using TcpListener server = TestSockets.StartListener();

        // The test thread has no filter: its connect goes straight to the kernel while the trapped thread waits.
        using SafeFd socket = TestSockets.ConnectTcp(TestSockets.EndpointOf(server));
        Assert.Equal(Errno.Success, Sockets.GetPeerName(socket, stackalloc byte[SocketConstants.SockaddrStorageSize], out int length));
        Assert.Equal(SocketConstants.SockaddrInSize, length);
        app.Go();
        app.Join();
    }

    [KernelFact(KernelRequirement.SeccompUserNotification)]
    public void SetSyncWakeUp_ThenBlockingReceive_GetsTheNotificationAndTheAnswerReachesTheThread()
    {
        Errno result = Errno.EIO;
        using TrappedThread app = TrappedThread.Start(Trapped, () =>
        {
            using SafeFd socket = TestSockets.NewTcpSocket();
            result = TestSockets.Connect(socket, InetEndpoint.Loopback(SocketConstants.AF_INET, 9));
        });
        // Linux 6.6 and later: the hand-off mode ax's per-application receiver threads use.
        Assert.Equal(Errno.Success, Seccomp.SetSyncWakeUp(app.Listener));
        app.Go();

        // A receiver that waits in the ioctl itself, as ax's per-application threads do (no epoll in front).
        Assert.Equal(Errno.Success, Seccomp.Receive(app.Listener, out var connect));
        Assert.Equal(SyscallNumbers.Connect, connect.Nr);
        Assert.Equal(Errno.Success, Seccomp.Respond(app.Listener, connect.Id, -1, Errno.ENETUNREACH));
        app.Join();

        Assert.Equal(Errno.ENETUNREACH, result);
    }

    [KernelFact(KernelRequirement.SeccompUserNotification)]
    public async Task ArgumentTrap_OnlyTheCallWhoseArgumentMatches_ReachesTheListener()
    {
        const int IpProtoTcp = 6, TcpNoDelay = 1;
        Errno socketLevel = Errno.EIO, tcpLevel = Errno.EIO;
        using TrappedThread app = TrappedThread.Start([], [new ArgumentTrap(SyscallNumbers.SetSockOpt, 1, ArgumentCondition.Equal, IpProtoTcp)], () =>
        {
            using SafeFd socket = TestSockets.NewTcpSocket();
            socketLevel = Sockets.SetIntOption(socket, SocketConstants.SOL_SOCKET, SocketConstants.SO_KEEPALIVE, 1);
            tcpLevel = Sockets.SetIntOption(socket, IpProtoTcp, TcpNoDelay, 1);
        });
        app.Go();

        // Only the IPPROTO_TCP call is trapped: the SOL_SOCKET one ran in the kernel before it, untouched.
        SeccompNotification trapped = await ReceiveAsync(_reactor, app.Listener);
        Assert.Equal(SyscallNumbers.SetSockOpt, trapped.Nr);
        Assert.Equal((ulong)IpProtoTcp, trapped.Arg1);
        Assert.Equal(Errno.Success, Seccomp.Respond(app.Listener, trapped.Id, -1, Errno.EPERM));
        app.Join();

        Assert.Equal(Errno.Success, socketLevel);
        Assert.Equal(Errno.EPERM, tcpLevel);
    }

    private static int RawConnect(SafeFd socket, InetEndpoint endpoint)
    {
        // The libc connect wrapper returns the raw syscall value, so an ADDFD|SEND answer shows up here.
        Span<byte> sockaddr = stackalloc byte[SocketConstants.SockaddrIn6Size];
        int length = endpoint.Write(sockaddr);
        return Sockets.ConnectRaw(socket, sockaddr[..length]);
    }
}
