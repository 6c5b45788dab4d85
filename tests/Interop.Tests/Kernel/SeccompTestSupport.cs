using System.Buffers.Binary;

namespace Istio.AppSwitch.Interop.Tests.Kernel;

/// <summary>What the tests do as the daemon: wait for a notification, read and write the target's memory.</summary>
internal static class SeccompTestSupport
{
    public static async Task<SeccompNotification> ReceiveAsync(EpollReactor reactor, SafeSeccompListenerHandle listener)
    {
        using var timeout = new CancellationTokenSource(TrappedThread.Timeout);
        EpollEvents events = await reactor.WaitAsync(listener, EpollEvents.In, timeout.Token).ConfigureAwait(false);
        Assert.True((events & EpollEvents.In) != 0, $"listener events: {events}");
        Assert.Equal(Errno.Success, Seccomp.Receive(listener, out SeccompNotification notification));
        return notification;
    }

    /// <summary>The sockaddr of a trapped connect (Arg1, length Arg2), read from the target's memory.</summary>
    public static InetEndpoint ReadConnectAddress(in SeccompNotification notification)
    {
        Span<byte> buffer = stackalloc byte[SocketConstants.SockaddrStorageSize];
        int length = (int)notification.Arg2;
        Assert.InRange(length, 2, buffer.Length);
        Assert.Equal(Errno.Success, ProcessMemory.Read((int)notification.Pid, notification.Arg1, buffer[..length], out int read));
        Assert.Equal(length, read);
        Assert.True(InetEndpoint.TryParse(buffer[..read], out InetEndpoint endpoint, out Errno error), $"sockaddr: {error}");
        return endpoint;
    }

    public static ushort ReadFamily(in SeccompNotification notification)
    {
        Span<byte> family = stackalloc byte[2];
        Assert.Equal(Errno.Success, ProcessMemory.Read((int)notification.Pid, notification.Arg1, family, out _));
        return BinaryPrimitives.ReadUInt16LittleEndian(family);
    }

    /// <summary>
    /// Answers the output half of a trapped getpeername/getsockname: Arg1 points at the sockaddr buffer, Arg2 at
    /// the socklen_t that holds its capacity on entry and must hold the full length on return.
    /// </summary>
    public static void WriteSockaddrResult(in SeccompNotification notification, InetEndpoint endpoint)
    {
        int pid = (int)notification.Pid;
        Span<byte> lengthBytes = stackalloc byte[sizeof(uint)];
        Assert.Equal(Errno.Success, ProcessMemory.Read(pid, notification.Arg2, lengthBytes, out _));
        int capacity = (int)BinaryPrimitives.ReadUInt32LittleEndian(lengthBytes);

        Span<byte> sockaddr = stackalloc byte[SocketConstants.SockaddrIn6Size];
        int length = endpoint.Write(sockaddr);
        Assert.Equal(Errno.Success, ProcessMemory.Write(pid, notification.Arg1, sockaddr[..Math.Min(length, capacity)], out _));
        BinaryPrimitives.WriteUInt32LittleEndian(lengthBytes, (uint)length);
        Assert.Equal(Errno.Success, ProcessMemory.Write(pid, notification.Arg2, lengthBytes, out _));
    }
}
