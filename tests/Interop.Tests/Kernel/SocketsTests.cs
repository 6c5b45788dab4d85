using System.Net;
using System.Net.Sockets;

namespace Istio.AppSwitch.Interop.Tests.Kernel;

public sealed class SocketsTests
{
    private static readonly InetEndpoint LoopbackAnyPort = InetEndpoint.FromIPEndPoint(new IPEndPoint(IPAddress.Loopback, 0));

    [Fact]
    public void ListenAcceptConnect_Loopback_NamesAndOptionsAgree()
    {
        using SafeFd listener = BoundListener(out InetEndpoint listening);
        using SafeFd client = TestSockets.ConnectTcp(listening);
        Span<byte> sockaddr = stackalloc byte[SocketConstants.SockaddrStorageSize];

        Assert.Equal(Errno.Success, Sockets.Accept(listener, sockaddr, out int length, nonBlocking: true, closeOnExec: true, out SafeFd? acceptedFd));
        using SafeFd accepted = acceptedFd!;
        Assert.True(InetEndpoint.TryParse(sockaddr[..length], out InetEndpoint peerSeenByServer, out _));
        Assert.Equal(Errno.Success, Sockets.GetSockName(client, sockaddr, out length));
        Assert.True(InetEndpoint.TryParse(sockaddr[..length], out InetEndpoint clientLocal, out _));
        Assert.Equal(clientLocal, peerSeenByServer);
        Assert.Equal(Errno.Success, Sockets.GetPeerName(client, sockaddr, out length));
        Assert.True(InetEndpoint.TryParse(sockaddr[..length], out InetEndpoint clientPeer, out _));
        Assert.Equal(listening, clientPeer);

        Assert.Equal(Errno.Success, Sockets.GetIntOption(accepted, SocketConstants.SOL_SOCKET, SocketConstants.SO_TYPE, out int type));
        Assert.Equal(SocketConstants.SOCK_STREAM, type);
        Assert.Equal(Errno.Success, Sockets.GetIntOption(accepted, SocketConstants.SOL_SOCKET, SocketConstants.SO_DOMAIN, out int domain));
        Assert.Equal(SocketConstants.AF_INET, domain);
        Assert.Equal(Errno.Success, Sockets.GetIntOption(accepted, SocketConstants.SOL_SOCKET, SocketConstants.SO_PROTOCOL, out int protocol));
        Assert.Equal(SocketConstants.IPPROTO_TCP, protocol);
        Assert.Equal(Errno.Success, Sockets.GetStatusFlags(accepted, out int flags));
        Assert.NotEqual(0, flags & SocketConstants.O_NONBLOCK);
        Assert.Equal(Errno.Success, Sockets.GetDescriptorFlags(accepted, out int descriptorFlags));
        Assert.Equal(SocketConstants.FD_CLOEXEC, descriptorFlags);

        Assert.Equal(Errno.Success, Sockets.SetIntOption(client, SocketConstants.IPPROTO_TCP, SocketConstants.TCP_NODELAY, 1));
        Assert.Equal(Errno.Success, Sockets.GetIntOption(client, SocketConstants.IPPROTO_TCP, SocketConstants.TCP_NODELAY, out int noDelay));
        Assert.Equal(1, noDelay);
        Assert.Equal(Errno.Success, Sockets.SetSockOpt(client, SocketConstants.SOL_SOCKET, SocketConstants.SO_KEEPALIVE, BitConverter.GetBytes(1)));
        Span<byte> option = stackalloc byte[8];
        Assert.Equal(Errno.Success, Sockets.GetSockOpt(client, SocketConstants.SOL_SOCKET, SocketConstants.SO_KEEPALIVE, option, out int optionLength));
        Assert.Equal(4, optionLength);
        Assert.Equal(1, BitConverter.ToInt32(option));
    }

    [Fact]
    public void SendReceive_PeekDontWaitShutdown_BehaveAsTheKernelDefines()
    {
        using SafeFd listener = BoundListener(out InetEndpoint listening);
        using SafeFd client = TestSockets.ConnectTcp(listening);
        Assert.Equal(Errno.Success, Sockets.Accept(listener, [], out _, nonBlocking: false, closeOnExec: true, out SafeFd? acceptedFd));
        using SafeFd server = acceptedFd!;
        Span<byte> buffer = stackalloc byte[16];

        Assert.Equal(Errno.EAGAIN, Sockets.Receive(server, buffer, SocketConstants.MSG_DONTWAIT, out _));
        Assert.Equal(Errno.Success, Sockets.Send(client, "abc"u8, 0, out int sent));
        Assert.Equal(3, sent);
        Assert.Equal(Errno.Success, Sockets.Receive(server, buffer, SocketConstants.MSG_PEEK, out int peeked));
        Assert.Equal(3, peeked);
        Assert.Equal(Errno.Success, Sockets.Receive(server, buffer, 0, out int received));
        Assert.Equal("abc", System.Text.Encoding.ASCII.GetString(buffer[..received]));

        Assert.Equal(Errno.Success, Sockets.Shutdown(client, SocketConstants.SHUT_WR));
        Assert.Equal(Errno.Success, Sockets.Receive(server, buffer, 0, out int atEnd));
        Assert.Equal(0, atEnd);
        Assert.Equal(Errno.EPIPE, Sockets.Send(client, "x"u8, 0, out _));
    }

    [Fact]
    public void SendToReceiveFrom_Datagrams_AddressesTruncationAndEagain()
    {
        Assert.Equal(Errno.Success, Sockets.Create(SocketConstants.AF_INET, SocketConstants.SOCK_DGRAM, 0, nonBlocking: false, closeOnExec: true, out SafeFd? first));
        Assert.Equal(Errno.Success, Sockets.Create(SocketConstants.AF_INET, SocketConstants.SOCK_DGRAM, 0, nonBlocking: false, closeOnExec: true, out SafeFd? second));
        using SafeFd a = first!;
        using SafeFd b = second!;
        Span<byte> sockaddr = stackalloc byte[SocketConstants.SockaddrStorageSize];
        Assert.Equal(Errno.Success, Sockets.Bind(b, sockaddr[..LoopbackAnyPort.Write(sockaddr)]));
        Assert.Equal(Errno.Success, Sockets.GetSockName(b, sockaddr, out int length));
        Assert.True(InetEndpoint.TryParse(sockaddr[..length], out InetEndpoint bAddress, out _));
        Span<byte> buffer = stackalloc byte[16];
        Span<byte> source = stackalloc byte[SocketConstants.SockaddrStorageSize];

        Assert.Equal(Errno.EAGAIN, Sockets.ReceiveFrom(b, buffer, SocketConstants.MSG_DONTWAIT, source, out _, out _));
        Assert.Equal(Errno.Success, Sockets.SendTo(a, "datagram"u8, 0, sockaddr[..length], out int sent));
        Assert.Equal(8, sent);
        Assert.Equal(Errno.Success, Sockets.ReceiveFrom(b, buffer[..4], SocketConstants.MSG_TRUNC, source, out int received, out int sourceLength));
        Assert.Equal(8, received); // MSG_TRUNC: the datagram's real length; the rest was cut off
        Assert.Equal("data", System.Text.Encoding.ASCII.GetString(buffer[..4]));
        Assert.Equal(SocketConstants.SockaddrInSize, sourceLength);
        Assert.True(InetEndpoint.TryParse(source[..sourceLength], out InetEndpoint from, out _));
        Assert.Equal(Errno.Success, Sockets.GetSockName(a, sockaddr, out length));
        Assert.True(InetEndpoint.TryParse(sockaddr[..length], out InetEndpoint aAddress, out _));
        Assert.Equal(aAddress.Port, from.Port); // a was bound implicitly, on the wildcard
        Assert.NotEqual(bAddress, from);
        Assert.Equal(Errno.EMSGSIZE, Sockets.SendTo(a, new byte[70_000], 0, sockaddr[..length], out _));
    }

    [Fact]
    public void Connect_NothingListening_Econnrefused()
    {
        InetEndpoint closed;
        using (SafeFd listener = BoundListener(out closed))
        {
        }

        using SafeFd socket = TestSockets.NewTcpSocket();
        Assert.Equal(Errno.ECONNREFUSED, TestSockets.Connect(socket, closed));
        Assert.Equal(Errno.ENOTCONN, Sockets.GetPeerName(socket, stackalloc byte[32], out _));
    }

    [Fact]
    public void Calls_OnWrongKindOfFd_ReturnErrnoNotExceptions()
    {
        Assert.Equal(Errno.EAFNOSUPPORT, Sockets.Create(12345, SocketConstants.SOCK_STREAM, 0, false, true, out SafeFd? none));
        Assert.Null(none);
        using SafeFd socket = TestSockets.NewTcpSocket();
        Assert.Equal(Errno.EINVAL, Sockets.Connect(socket, [2, 0]));
        Assert.Equal(Errno.ENOPROTOOPT, Sockets.GetIntOption(socket, SocketConstants.SOL_SOCKET, 9999, out _));
        using var pipeLike = File.OpenHandle("/proc/self/status");
        Assert.Equal(Errno.ENOTSOCK, Sockets.Listen(pipeLike, 1));
    }

    [Fact]
    public void SendWithFdsReceiveWithFds_SocketPair_PassesTheSameSocket()
    {
        using var pair = new Pair();
        using SafeFd passed = TestSockets.NewTcpSocket();
        Span<byte> data = stackalloc byte[8];
        Span<int> fds = stackalloc int[4];

        Assert.Equal(Errno.Success, Sockets.SendWithFds(pair.First, "fd"u8, [passed.Value]));
        Assert.Equal(Errno.Success, Sockets.ReceiveWithFds(pair.Second, data, fds, out int received, out int count));

        Assert.Equal(2, received);
        Assert.Equal(1, count);
        using SafeFd receivedFd = SafeFd.FromOwned(fds[0]);
        Assert.NotEqual(passed.Value, receivedFd.Value);
        Assert.Equal(Errno.Success, ProcFs.GetInode(passed, out ulong sentInode));
        Assert.Equal(Errno.Success, ProcFs.GetInode(receivedFd, out ulong receivedInode));
        Assert.Equal(sentInode, receivedInode);
        // Received close-on-exec, so no child the daemon starts inherits it by accident.
        Assert.Equal(Errno.Success, Sockets.GetDescriptorFlags(receivedFd, out int flags));
        Assert.Equal(SocketConstants.FD_CLOEXEC, flags);
    }

    [Theory]
    [InlineData(2)] // fits the padded control buffer: the extra fd arrives and is closed here
    [InlineData(3)] // does not fit: the kernel drops the rest and sets MSG_CTRUNC
    public void ReceiveWithFds_MoreFdsThanRoom_EmsgsizeAndNothingLeaks(int sentCount)
    {
        using var pair = new Pair();
        using var probe = new Pair();
        var others = Enumerable.Range(0, sentCount - 1).Select(_ => TestSockets.NewTcpSocket()).ToArray();
        int[] sent = [probe.First.Value, .. others.Select(fd => fd.Value)];

        Assert.Equal(Errno.Success, Sockets.SendWithFds(pair.First, "xx"u8, sent));
        probe.First.Dispose();
        foreach (SafeFd fd in others)
        {
            fd.Dispose();
        }

        Span<byte> data = stackalloc byte[8];
        Span<int> fds = stackalloc int[1];
        Assert.Equal(Errno.EMSGSIZE, Sockets.ReceiveWithFds(pair.Second, data, fds, out int received, out int count));
        Assert.Equal(2, received);
        Assert.Equal(0, count);
        Assert.Equal(-1, fds[0]);

        // Every copy of probe.First is closed (ours, and the one the message carried): its peer sees EOF.
        Assert.Equal(Errno.Success, Sockets.Receive(probe.Second, data, SocketConstants.MSG_DONTWAIT, out int atEnd));
        Assert.Equal(0, atEnd);
    }

    [Fact]
    public void SendWithFds_InvalidArguments_Einval()
    {
        using var pair = new Pair();

        Assert.Equal(Errno.EINVAL, Sockets.SendWithFds(pair.First, [], [pair.First.Value]));
        Assert.Equal(Errno.EINVAL, Sockets.SendWithFds(pair.First, "x"u8, new int[Sockets.MaxFdsPerMessage + 1]));
        Assert.Equal(Errno.EBADF, Sockets.SendWithFds(pair.First, "x"u8, [1_000_000]));
    }

    [Fact]
    public void GetPeerCredentials_SocketPair_OurPidAndUid()
    {
        using var pair = new Pair();

        Assert.Equal(Errno.Success, Sockets.GetPeerCredentials(pair.Second, out int pid, out uint uid, out uint gid));

        Assert.Equal(CurrentProcess.GetProcessId(), pid);
        Assert.Equal(Environment.ProcessId, pid);
        Assert.Equal(CurrentProcess.GetUid(), uid);
        Assert.Equal(CurrentProcess.GetGid(), gid);
    }

    private static SafeFd BoundListener(out InetEndpoint endpoint)
    {
        SafeFd listener = TestSockets.NewTcpSocket();
        Span<byte> sockaddr = stackalloc byte[SocketConstants.SockaddrStorageSize];
        int length = LoopbackAnyPort.Write(sockaddr);
        Assert.Equal(Errno.Success, Sockets.Bind(listener, sockaddr[..length]));
        Assert.Equal(Errno.Success, Sockets.Listen(listener, 16));
        Assert.Equal(Errno.Success, Sockets.GetSockName(listener, sockaddr, out length));
        Assert.True(InetEndpoint.TryParse(sockaddr[..length], out endpoint, out _));
        return listener;
    }

    private sealed class Pair : IDisposable
    {
        public Pair()
        {
            Assert.Equal(Errno.Success, Sockets.SocketPair(SocketConstants.AF_UNIX, SocketConstants.SOCK_STREAM | SocketConstants.SOCK_CLOEXEC, out SafeFd? first, out SafeFd? second));
            First = first!;
            Second = second!;
        }

        public SafeFd First { get; }

        public SafeFd Second { get; }

        public void Dispose()
        {
            First.Dispose();
            Second.Dispose();
        }
    }
}
