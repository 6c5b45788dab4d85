using System.Runtime.InteropServices;
using static Istio.AppSwitch.Interop.Interop.Sys;

namespace Istio.AppSwitch.Interop;

/// <summary>
/// Socket calls on fds, in the kernel's terms: sockaddrs as bytes (see <see cref="InetEndpoint"/>), results as
/// <see cref="Errno"/>. Nothing here throws for a failed call or allocates, except the <see cref="SafeFd"/> of a
/// new socket. Calls that can only be interrupted before they did anything (accept, send, recv, fcntl,
/// getsockopt...) are retried on EINTR; connect is not, because an interrupted blocking connect goes on in the
/// background and must be finished by waiting for writability, as the kernel documents.
/// </summary>
public static class Sockets
{
    /// <summary>socket(domain, type | SOCK_NONBLOCK? | SOCK_CLOEXEC?, protocol).</summary>
    public static Errno Create(int domain, int type, int protocol, bool nonBlocking, bool closeOnExec, out SafeFd? socket)
    {
        var handle = new SafeFd();
        int fd = Socket(domain, type | (nonBlocking ? SocketConstants.SOCK_NONBLOCK : 0) | (closeOnExec ? SocketConstants.SOCK_CLOEXEC : 0), protocol);
        return Wrap(fd, handle, out socket);
    }

    /// <summary>socketpair(domain, type); add SOCK_CLOEXEC/SOCK_NONBLOCK to <paramref name="type"/> as needed.</summary>
    public static unsafe Errno SocketPair(int domain, int type, out SafeFd? first, out SafeFd? second)
    {
        var firstHandle = new SafeFd();
        var secondHandle = new SafeFd();
        int* fds = stackalloc int[2];
        if (Interop.Sys.SocketPair(domain, type, 0, fds) != 0)
        {
            Errno error = Interop.LastErrno;
            firstHandle.Dispose();
            secondHandle.Dispose();
            first = second = null;
            return error;
        }

        firstHandle.SetFd(fds[0]);
        secondHandle.SetFd(fds[1]);
        first = firstHandle;
        second = secondHandle;
        return Errno.Success;
    }

    /// <summary>connect(2). A nonblocking socket returns EINPROGRESS; wait for writability, then read SO_ERROR.</summary>
    public static unsafe Errno Connect(SafeHandle socket, ReadOnlySpan<byte> sockaddr)
    {
        fixed (byte* address = sockaddr)
        {
            return Interop.ToErrno(Interop.Sys.Connect(socket, address, (uint)sockaddr.Length));
        }
    }

    /// <summary>connect(2) returning libc's raw result (for tests of seccomp answers that return a value).</summary>
    internal static unsafe int ConnectRaw(SafeHandle socket, ReadOnlySpan<byte> sockaddr)
    {
        fixed (byte* address = sockaddr)
        {
            return Interop.Sys.Connect(socket, address, (uint)sockaddr.Length);
        }
    }

    /// <summary>
    /// Writes a <c>struct sockaddr_un</c> for <paramref name="path"/> and returns its length: what connect(2) and
    /// bind(2) take for a Unix socket. EINVAL when the path is empty or longer than the 107 bytes sun_path holds.
    /// </summary>
    public static Errno WriteUnixSockaddr(string path, Span<byte> sockaddr, out int length)
    {
        length = 0;
        var pathBytes = System.Text.Encoding.UTF8.GetByteCount(path);
        if (pathBytes is 0 or > 107 || sockaddr.Length < 2 + pathBytes + 1)
        {
            return Errno.EINVAL;
        }
        sockaddr[..(2 + pathBytes + 1)].Clear();
        BitConverter.TryWriteBytes(sockaddr, (ushort)SocketConstants.AF_UNIX);
        System.Text.Encoding.UTF8.GetBytes(path, sockaddr[2..]);
        length = 2 + pathBytes + 1;
        return Errno.Success;
    }

    /// <summary>bind(2).</summary>
    public static unsafe Errno Bind(SafeHandle socket, ReadOnlySpan<byte> sockaddr)
    {
        fixed (byte* address = sockaddr)
        {
            return Interop.ToErrno(Interop.Sys.Bind(socket, address, (uint)sockaddr.Length));
        }
    }

    /// <summary>listen(2).</summary>
    /// <summary>
    /// poll(2) on one fd. <paramref name="ready"/> holds the events that are ready (POLLIN = In, POLLOUT = Out, POLLERR,
    /// POLLHUP), none when the timeout expired. A zero timeout asks the kernel without waiting.
    /// </summary>
    public static unsafe Errno Poll(SafeHandle fd, EpollEvents events, int timeoutMilliseconds, out EpollEvents ready)
    {
        ready = EpollEvents.None;
        var added = false;
        try
        {
            fd.DangerousAddRef(ref added);
            var pollFd = new Interop.Sys.PollFd { Fd = (int)fd.DangerousGetHandle(), Events = (short)events };
            int result;
            do
            {
                result = Interop.Sys.Poll(&pollFd, 1, timeoutMilliseconds);
            }
            while (result < 0 && Marshal.GetLastPInvokeError() == (int)Errno.EINTR);
            if (result < 0)
            {
                return (Errno)Marshal.GetLastPInvokeError();
            }
            ready = (EpollEvents)(ushort)pollFd.REvents;
            return Errno.Success;
        }
        finally
        {
            if (added)
            {
                fd.DangerousRelease();
            }
        }
    }

    public static Errno Listen(SafeHandle socket, int backlog) => Interop.ToErrno(Interop.Sys.Listen(socket, backlog));

    /// <summary>
    /// accept4(2). The peer's address is written to <paramref name="sockaddr"/> (which may be empty) and its full
    /// length to <paramref name="sockaddrLength"/> (larger than the span if it was truncated).
    /// </summary>
    public static unsafe Errno Accept(SafeHandle socket, Span<byte> sockaddr, out int sockaddrLength, bool nonBlocking, bool closeOnExec, out SafeFd? accepted)
    {
        var handle = new SafeFd();
        int flags = (nonBlocking ? SocketConstants.SOCK_NONBLOCK : 0) | (closeOnExec ? SocketConstants.SOCK_CLOEXEC : 0);
        fixed (byte* address = sockaddr)
        {
            while (true)
            {
                uint length = (uint)sockaddr.Length;
                int fd = Accept4(socket, sockaddr.IsEmpty ? null : address, sockaddr.IsEmpty ? null : &length, flags);
                if (fd < 0 && Interop.LastErrno == Errno.EINTR)
                {
                    continue;
                }

                sockaddrLength = fd < 0 || sockaddr.IsEmpty ? 0 : (int)length;
                return Wrap(fd, handle, out accepted);
            }
        }
    }

    /// <summary>getsockname(2): the full length goes to <paramref name="length"/>, even if the span was shorter.</summary>
    public static unsafe Errno GetSockName(SafeHandle socket, Span<byte> sockaddr, out int length)
    {
        fixed (byte* address = sockaddr)
        {
            uint size = (uint)sockaddr.Length;
            Errno error = Interop.ToErrno(Interop.Sys.GetSockName(socket, address, &size));
            length = error == Errno.Success ? (int)size : 0;
            return error;
        }
    }

    /// <summary>getpeername(2): ENOTCONN when not connected.</summary>
    public static unsafe Errno GetPeerName(SafeHandle socket, Span<byte> sockaddr, out int length)
    {
        fixed (byte* address = sockaddr)
        {
            uint size = (uint)sockaddr.Length;
            Errno error = Interop.ToErrno(Interop.Sys.GetPeerName(socket, address, &size));
            length = error == Errno.Success ? (int)size : 0;
            return error;
        }
    }

    /// <summary>getsockopt(2) into <paramref name="value"/>; <paramref name="length"/> is what the kernel wrote.</summary>
    public static unsafe Errno GetSockOpt(SafeHandle socket, int level, int name, Span<byte> value, out int length)
    {
        fixed (byte* buffer = value)
        {
            uint size = (uint)value.Length;
            Errno error = Interop.ToErrno(Interop.Sys.GetSockOpt(socket, level, name, buffer, &size));
            length = error == Errno.Success ? (int)size : 0;
            return error;
        }
    }

    /// <summary>setsockopt(2).</summary>
    public static unsafe Errno SetSockOpt(SafeHandle socket, int level, int name, ReadOnlySpan<byte> value)
    {
        fixed (byte* buffer = value)
        {
            return Interop.ToErrno(Interop.Sys.SetSockOpt(socket, level, name, buffer, (uint)value.Length));
        }
    }

    /// <summary>An int-valued option: SO_ERROR (reading it clears it), SO_TYPE, SO_DOMAIN, SO_PROTOCOL,
    /// SO_RCVBUF, TCP_NODELAY...</summary>
    public static unsafe Errno GetIntOption(SafeHandle socket, int level, int name, out int value)
    {
        int result = 0;
        uint size = sizeof(int);
        Errno error = Interop.ToErrno(Interop.Sys.GetSockOpt(socket, level, name, (byte*)&result, &size));
        value = result;
        return error;
    }

    /// <summary>An int-valued option; see <see cref="GetIntOption"/>.</summary>
    public static unsafe Errno SetIntOption(SafeHandle socket, int level, int name, int value) =>
        Interop.ToErrno(Interop.Sys.SetSockOpt(socket, level, name, (byte*)&value, sizeof(int)));

    /// <summary>fcntl(F_GETFL): the open file description's status flags (O_NONBLOCK, access mode).</summary>
    public static Errno GetStatusFlags(SafeHandle fd, out int flags) => FcntlRetrying(fd, F_GETFL, 0, out flags);

    /// <summary>fcntl(F_SETFL). Shared by every duplicate of the file description, in any process.</summary>
    public static Errno SetStatusFlags(SafeHandle fd, int flags) => FcntlRetrying(fd, F_SETFL, flags, out _);

    /// <summary>fcntl(F_GETFD): this fd's own flags (FD_CLOEXEC).</summary>
    public static Errno GetDescriptorFlags(SafeHandle fd, out int flags) => FcntlRetrying(fd, F_GETFD, 0, out flags);

    /// <summary>fcntl(F_SETFD).</summary>
    public static Errno SetDescriptorFlags(SafeHandle fd, int flags) => FcntlRetrying(fd, F_SETFD, flags, out _);

    /// <summary>shutdown(2) with SHUT_RD, SHUT_WR or SHUT_RDWR.</summary>
    public static Errno Shutdown(SafeHandle socket, int how) => Interop.ToErrno(Interop.Sys.Shutdown(socket, how));

    /// <summary>send(2); MSG_NOSIGNAL is always added, so a closed peer is EPIPE, never SIGPIPE.</summary>
    /// <remarks>sendto(2) with no address is send(2): the empty sockaddr is passed as NULL, length 0.</remarks>
    public static Errno Send(SafeHandle socket, ReadOnlySpan<byte> data, int flags, out int sent) =>
        SendTo(socket, data, flags | MSG_NOSIGNAL, [], out sent);

    /// <summary>recv(2); 0 bytes with <see cref="Errno.Success"/> is end of stream. MSG_PEEK, MSG_DONTWAIT...</summary>
    public static unsafe Errno Receive(SafeHandle socket, Span<byte> data, int flags, out int received)
    {
        fixed (byte* buffer = data)
        {
            while (true)
            {
                if (Completed(Recv(socket, buffer, (nuint)data.Length, flags), out received, out Errno error))
                {
                    return error;
                }
            }
        }
    }

    /// <summary>
    /// sendto(2) of one datagram to <paramref name="sockaddr"/> (an empty one is NULL: a send on a connected socket).
    /// Unlike <see cref="Send"/>, the flags go as given (a datagram socket raises no SIGPIPE). EINTR is retried.
    /// </summary>
    public static unsafe Errno SendTo(SafeHandle socket, ReadOnlySpan<byte> data, int flags, ReadOnlySpan<byte> sockaddr, out int sent)
    {
        fixed (byte* buffer = data)
        fixed (byte* address = sockaddr)
        {
            while (true)
            {
                if (Completed(Interop.Sys.SendTo(socket, buffer, (nuint)data.Length, flags, address, (uint)sockaddr.Length), out sent, out Errno error))
                {
                    return error;
                }
            }
        }
    }

    /// <summary>
    /// recvfrom(2): one datagram into <paramref name="data"/> and its source into <paramref name="sockaddr"/>
    /// (<paramref name="sockaddrLength"/> is the source's full length, as the kernel reports it). With MSG_TRUNC the
    /// result is the datagram's real length. EINTR is retried.
    /// </summary>
    public static unsafe Errno ReceiveFrom(SafeHandle socket, Span<byte> data, int flags, Span<byte> sockaddr, out int received, out int sockaddrLength)
    {
        fixed (byte* buffer = data)
        fixed (byte* address = sockaddr)
        {
            while (true)
            {
                uint length = (uint)sockaddr.Length;
                nint result = Interop.Sys.RecvFrom(socket, buffer, (nuint)data.Length, flags, address, &length);
                if (result >= 0)
                {
                    received = (int)result;
                    sockaddrLength = (int)length;
                    return Errno.Success;
                }

                Errno error = Interop.LastErrno;
                if (error != Errno.EINTR)
                {
                    received = 0;
                    sockaddrLength = 0;
                    return error;
                }
            }
        }
    }

    /// <summary>
    /// One sendmsg(2) of <paramref name="data"/> to <paramref name="sockaddr"/> with <paramref name="control"/> as its
    /// control messages, as given (the caller vets them). EINTR is retried.
    /// </summary>
    public static unsafe Errno SendMessageTo(SafeHandle socket, ReadOnlySpan<byte> data, ReadOnlySpan<byte> control, int flags,
        ReadOnlySpan<byte> sockaddr, out int sent)
    {
        fixed (byte* buffer = data)
        fixed (byte* controlBuffer = control)
        fixed (byte* address = sockaddr)
        {
            var vector = new IOVector { Base = buffer, Length = (nuint)data.Length };
            var message = new MessageHeader
            {
                Name = sockaddr.IsEmpty ? null : address,
                NameLength = (uint)sockaddr.Length,
                IOVectors = &vector,
                IOVectorCount = 1,
                Control = control.IsEmpty ? null : controlBuffer,
                ControlLength = (nuint)control.Length,
            };
            while (true)
            {
                if (Completed(SendMsg(socket, &message, flags), out sent, out Errno error))
                {
                    return error;
                }
            }
        }
    }

    /// <summary>
    /// One recvmsg(2) into <paramref name="data"/>, with the source in <paramref name="sockaddr"/> and the control
    /// messages in <paramref name="control"/>. Reports what the kernel wrote back: the source's full length, the control
    /// length received, and the message flags (MSG_TRUNC, MSG_CTRUNC). EINTR is retried.
    /// </summary>
    public static unsafe Errno ReceiveMessageFrom(SafeHandle socket, Span<byte> data, Span<byte> control, int flags, Span<byte> sockaddr,
        out int received, out int sockaddrLength, out int controlLength, out int messageFlags)
    {
        fixed (byte* buffer = data)
        fixed (byte* controlBuffer = control)
        fixed (byte* address = sockaddr)
        {
            var vector = new IOVector { Base = buffer, Length = (nuint)data.Length };
            while (true)
            {
                var message = new MessageHeader
                {
                    Name = address,
                    NameLength = (uint)sockaddr.Length,
                    IOVectors = &vector,
                    IOVectorCount = 1,
                    Control = control.IsEmpty ? null : controlBuffer,
                    ControlLength = (nuint)control.Length,
                };
                nint result = RecvMsg(socket, &message, flags);
                if (result >= 0)
                {
                    received = (int)result;
                    sockaddrLength = (int)message.NameLength;
                    controlLength = (int)message.ControlLength;
                    messageFlags = message.Flags;
                    return Errno.Success;
                }

                Errno error = Interop.LastErrno;
                if (error != Errno.EINTR)
                {
                    received = sockaddrLength = controlLength = messageFlags = 0;
                    return error;
                }
            }
        }
    }

    /// <summary>
    /// The end of one try of a call that returns a count or -1 with errno: true with the count or the error, false
    /// for EINTR (nothing moved: try again). Read errno here, straight after the call.
    /// </summary>
    private static bool Completed(nint result, out int count, out Errno error)
    {
        if (result >= 0)
        {
            count = (int)result;
            error = Errno.Success;
            return true;
        }
        count = 0;
        error = Interop.LastErrno;
        return error != Errno.EINTR;
    }

    /// <summary>The most fds one <see cref="SendWithFds"/> passes (the kernel's SCM_MAX_FD).</summary>
    public const int MaxFdsPerMessage = 253;

    /// <summary>
    /// sendmsg(2) of <paramref name="data"/> with <paramref name="fds"/> as SCM_RIGHTS. The data must not be empty
    /// when fds are passed (a stream socket sends no ancillary data without at least one byte). The fds stay
    /// open here; the receiver gets duplicates. If the kernel takes only part of the data (a blocking stream
    /// socket under memory pressure), the rest is sent without fds; on a nonblocking socket that can then fail
    /// with EAGAIN after the fds went out, so use a blocking socket for messages that carry fds.
    /// </summary>
    public static Errno SendWithFds(SafeHandle socket, ReadOnlySpan<byte> data, ReadOnlySpan<int> fds)
    {
        Errno sendError = SendMessage(socket, data, fds, MSG_NOSIGNAL, out int offset);
        if (sendError != Errno.Success)
        {
            return sendError;
        }

        while (offset < data.Length)
        {
            Errno error = Send(socket, data[offset..], 0, out int more);
            if (error != Errno.Success)
            {
                return error;
            }

            offset += more;
        }

        return Errno.Success;
    }

    /// <summary>
    /// One sendmsg(2) of <paramref name="data"/> with <paramref name="fds"/> as one SCM_RIGHTS control message and
    /// <paramref name="flags"/> (MSG_NOSIGNAL, MSG_DONTWAIT...), retried on EINTR only. <paramref name="sent"/> may be
    /// less than the data on a stream socket: the fds went with the first byte. The fds stay open here; the caller
    /// keeps them alive (and their numbers unreused) for the call.
    /// </summary>
    public static unsafe Errno SendMessage(SafeHandle socket, ReadOnlySpan<byte> data, ReadOnlySpan<int> fds, int flags, out int sent)
    {
        sent = 0;
        if (fds.Length > MaxFdsPerMessage || (data.IsEmpty && !fds.IsEmpty))
        {
            return Errno.EINVAL;
        }

        int controlLength = fds.IsEmpty ? 0 : ControlMessageSpace(fds.Length * sizeof(int));
        byte* control = stackalloc byte[Math.Max(controlLength, 1)];
        new Span<byte>(control, controlLength).Clear();
        if (!fds.IsEmpty)
        {
            var header = (ControlMessageHeader*)control;
            header->Length = (nuint)ControlMessageLength(fds.Length * sizeof(int));
            header->Level = SocketConstants.SOL_SOCKET;
            header->Type = SCM_RIGHTS;
            fds.CopyTo(new Span<int>(control + ControlMessageAlign(sizeof(ControlMessageHeader)), fds.Length));
        }

        fixed (byte* buffer = data)
        {
            Errno error = MessageCall(socket, send: true, buffer, data.Length, control, controlLength, flags, out nint result, out _);
            sent = error == Errno.Success ? (int)result : 0;
            return error;
        }
    }

    /// <summary>
    /// One sendmsg(2) or recvmsg(2) of a single buffer with an optional control buffer, retried on EINTR (neither
    /// call has moved any data when it reports EINTR). <paramref name="message"/> comes back as the kernel left it:
    /// recvmsg reports flags (MSG_CTRUNC) and the control length received there. Its iovec pointer is dead once this
    /// returns: callers read only the flags and the control length.
    /// </summary>
    private static unsafe Errno MessageCall(SafeHandle socket, bool send, byte* buffer, int length, byte* control, int controlLength,
        int flags, out nint result, out MessageHeader message)
    {
        var vector = new IOVector { Base = buffer, Length = (nuint)length };
        message = new MessageHeader
        {
            IOVectors = &vector,
            IOVectorCount = 1,
            Control = controlLength == 0 ? null : control,
            ControlLength = (nuint)controlLength,
        };

        while (true)
        {
            fixed (MessageHeader* header = &message)
            {
                result = send ? SendMsg(socket, header, flags) : RecvMsg(socket, header, flags);
            }
            if (result >= 0)
            {
                return Errno.Success;
            }

            Errno error = Interop.LastErrno;
            if (error != Errno.EINTR)
            {
                return error;
            }
        }
    }

    /// <summary>
    /// recvmsg(2) into <paramref name="data"/>, with room for <c>fds.Length</c> SCM_RIGHTS fds, received
    /// close-on-exec (MSG_CMSG_CLOEXEC) so that no child inherits them by accident. The received fds are owned
    /// by the caller (wrap them with <see cref="SafeFd.FromOwned"/>). A message that carried more fds than
    /// <c>fds.Length</c> is a protocol error: every fd it brought is closed here, <paramref name="fdCount"/> is 0
    /// and EMSGSIZE is returned (<paramref name="received"/> still tells how many data bytes were consumed).
    /// Both ways the kernel reports it end there: MSG_CTRUNC when the control buffer was too small, and extra fds
    /// in a buffer that CMSG_SPACE's alignment padding made larger than asked (room for 2 when 1 was asked).
    /// </summary>
    public static unsafe Errno ReceiveWithFds(SafeHandle socket, Span<byte> data, Span<int> fds, out int received, out int fdCount)
    {
        received = 0;
        fdCount = 0;
        if (fds.Length > MaxFdsPerMessage)
        {
            return Errno.EINVAL;
        }

        int controlLength = fds.IsEmpty ? 0 : ControlMessageSpace(fds.Length * sizeof(int));
        byte* control = stackalloc byte[Math.Max(controlLength, 1)];
        fixed (byte* buffer = data)
        {
            Errno receiveError = MessageCall(socket, send: false, buffer, data.Length, control, controlLength, MSG_CMSG_CLOEXEC, out nint result, out var message);
            if (receiveError != Errno.Success)
            {
                return receiveError;
            }

            received = (int)result;
            bool excess = (message.Flags & MSG_CTRUNC) != 0;
            int headerSize = ControlMessageAlign(sizeof(ControlMessageHeader));
            int count = 0;
            int offset = 0;
            int controlReceived = (int)message.ControlLength;
            while (offset + headerSize <= controlReceived)
            {
                var header = (ControlMessageHeader*)(control + offset);
                int length = (int)header->Length;
                if (length < headerSize || offset + length > controlReceived)
                {
                    break;
                }

                if (header->Level == SocketConstants.SOL_SOCKET && header->Type == SCM_RIGHTS)
                {
                    int* receivedFds = (int*)(control + offset + headerSize);
                    int n = (length - headerSize) / sizeof(int);
                    for (int i = 0; i < n; i++)
                    {
                        if (count < fds.Length)
                        {
                            fds[count++] = receivedFds[i];
                        }
                        else
                        {
                            excess = true;
                            Close(receivedFds[i]);
                        }
                    }
                }

                offset += ControlMessageAlign(length);
            }

            if (excess)
            {
                for (int i = 0; i < count; i++)
                {
                    Close(fds[i]);
                    fds[i] = -1;
                }

                return Errno.EMSGSIZE;
            }

            fdCount = count;
            return Errno.Success;
        }
    }

    /// <summary>SO_PEERCRED: the pid, uid and gid of the peer process of a Unix socket, as of connect/socketpair.</summary>
    public static unsafe Errno GetPeerCredentials(SafeHandle socket, out int pid, out uint uid, out uint gid)
    {
        UCred credentials = default;
        uint size = (uint)sizeof(UCred);
        Errno error = Interop.ToErrno(Interop.Sys.GetSockOpt(socket, SocketConstants.SOL_SOCKET, SocketConstants.SO_PEERCRED, (byte*)&credentials, &size));
        pid = credentials.Pid;
        uid = credentials.Uid;
        gid = credentials.Gid;
        return error;
    }

    private static Errno FcntlRetrying(SafeHandle fd, int command, int argument, out int result)
    {
        while (true)
        {
            result = Fcntl(fd, command, argument);
            if (result >= 0)
            {
                return Errno.Success;
            }

            Errno error = Interop.LastErrno;
            if (error != Errno.EINTR)
            {
                result = 0;
                return error;
            }
        }
    }

    private static Errno Wrap(int fd, SafeFd handle, out SafeFd? wrapped)
    {
        if (fd < 0)
        {
            Errno error = Interop.LastErrno;
            handle.Dispose();
            wrapped = null;
            return error;
        }

        handle.SetFd(fd);
        wrapped = handle;
        return Errno.Success;
    }
}
