using System.Runtime.InteropServices;
using static Istio.AppSwitch.Interop.Interop.Sys;

namespace Istio.AppSwitch.Interop;

/// <summary>
/// What socket delegation needs from the kernel: Unix socket pairs, messages that carry fds (SCM_RIGHTS) sent in
/// exactly one nonblocking <c>sendmsg</c>, and <c>splice(2)</c> through a pipe to move bytes between two sockets
/// without copying them to user space. Like <see cref="Sockets"/>, nothing here throws for a failed call: results
/// are <see cref="Errno"/> values, EAGAIN included, and EINTR is retried (none of these calls has done anything
/// when it reports EINTR).
/// </summary>
public static class UnixRights
{
    /// <summary>The most fds one message of the delegation protocol carries; a receive buffer has room for this many.</summary>
    public const int MaxFdsPerMessage = 4;

    /// <summary>socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC [| SOCK_NONBLOCK]): the two ends of a local stream.</summary>
    public static Errno StreamPair(bool nonBlocking, out SafeFd? first, out SafeFd? second) =>
        Sockets.SocketPair(SocketConstants.AF_UNIX,
            SocketConstants.SOCK_STREAM | SocketConstants.SOCK_CLOEXEC | (nonBlocking ? SocketConstants.SOCK_NONBLOCK : 0),
            out first, out second);

    /// <summary>
    /// One sendmsg(2) of <paramref name="data"/> with <paramref name="fds"/> as one SCM_RIGHTS control message,
    /// with MSG_DONTWAIT and MSG_NOSIGNAL: it never blocks and a closed peer is EPIPE, not SIGPIPE.
    /// <paramref name="sent"/> may be less than the data on a stream socket: the fds went with the first byte, so
    /// the caller must send the rest without fds (or give up on the stream). EAGAIN means nothing was sent. The fds
    /// stay open here; the receiver gets duplicates of them.
    /// </summary>
    public static Errno Send(SafeHandle socket, ReadOnlySpan<byte> data, ReadOnlySpan<SafeHandle> fds, out int sent)
    {
        sent = 0;
        if (fds.Length > MaxFdsPerMessage)
        {
            return Errno.EINVAL;
        }

        Span<int> raw = stackalloc int[MaxFdsPerMessage];
        Span<bool> added = stackalloc bool[MaxFdsPerMessage];
        try
        {
            for (int i = 0; i < fds.Length; i++)
            {
                // The reference keeps the fd number from being closed and reused while the kernel reads it.
                fds[i].DangerousAddRef(ref added[i]);
                raw[i] = (int)fds[i].DangerousGetHandle();
            }

            return Sockets.SendMessage(socket, data, raw[..fds.Length], MSG_DONTWAIT | MSG_NOSIGNAL, out sent);
        }
        finally
        {
            for (int i = 0; i < fds.Length; i++)
            {
                if (added[i])
                {
                    fds[i].DangerousRelease();
                }
            }
        }
    }

    /// <summary>
    /// One recvmsg(2) into <paramref name="data"/> with room for <c>fds.Length</c> (at most
    /// <see cref="MaxFdsPerMessage"/>) SCM_RIGHTS fds, received close-on-exec and returned as owned handles in
    /// <paramref name="fds"/>[0..<paramref name="fdCount"/>). It blocks only if the socket does (use an O_NONBLOCK
    /// socket and wait for readability on EAGAIN). 0 bytes with <see cref="Errno.Success"/> is end of stream. A
    /// message that brought more fds than there is room for is EMSGSIZE, and every fd it brought is closed.
    /// </summary>
    public static Errno Receive(SafeHandle socket, Span<byte> data, Span<SafeFd?> fds, out int received, out int fdCount)
    {
        fdCount = 0;
        if (fds.Length > MaxFdsPerMessage)
        {
            received = 0;
            return Errno.EINVAL;
        }

        Span<int> raw = stackalloc int[MaxFdsPerMessage];
        Errno error = Sockets.ReceiveWithFds(socket, data, raw[..fds.Length], out received, out int count);
        if (error != Errno.Success)
        {
            return error;
        }

        for (int i = 0; i < count; i++)
        {
            fds[i] = SafeFd.FromOwned(raw[i]);
        }

        fdCount = count;
        return Errno.Success;
    }

    /// <summary>pipe2(O_NONBLOCK | O_CLOEXEC): the two ends of a pipe, for <see cref="Splice"/>.</summary>
    public static unsafe Errno Pipe(out SafeFd? readEnd, out SafeFd? writeEnd)
    {
        var readHandle = new SafeFd();
        var writeHandle = new SafeFd();
        int* fds = stackalloc int[2];
        if (Pipe2(fds, O_NONBLOCK_PIPE | O_CLOEXEC) != 0)
        {
            Errno error = Interop.LastErrno;
            readHandle.Dispose();
            writeHandle.Dispose();
            readEnd = writeEnd = null;
            return error;
        }

        readHandle.SetFd(fds[0]);
        writeHandle.SetFd(fds[1]);
        readEnd = readHandle;
        writeEnd = writeHandle;
        return Errno.Success;
    }

    /// <summary>
    /// splice(2) of up to <paramref name="length"/> bytes from <paramref name="input"/> to <paramref name="output"/>,
    /// one of which must be a pipe, with SPLICE_F_MOVE | SPLICE_F_NONBLOCK. SPLICE_F_NONBLOCK makes only the pipe
    /// side nonblocking: the socket side blocks unless it is O_NONBLOCK. <paramref name="moved"/> 0 with
    /// <see cref="Errno.Success"/> is end of stream on the input; EAGAIN means wait (input readable, output writable).
    /// </summary>
    public static unsafe Errno Splice(SafeHandle input, SafeHandle output, int length, out int moved)
    {
        while (true)
        {
            nint result = Interop.Sys.Splice(input, null, output, null, (nuint)length, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (result >= 0)
            {
                moved = (int)result;
                return Errno.Success;
            }

            Errno error = Interop.LastErrno;
            if (error != Errno.EINTR)
            {
                moved = 0;
                return error;
            }
        }
    }

    /// <summary>
    /// fcntl(F_DUPFD_CLOEXEC): a second fd for the same open file description. epoll keys its interest list by
    /// (fd, description), so a duplicate lets two waits (readable for one direction, writable for the other) be
    /// pending on one socket at once.
    /// </summary>
    public static Errno Duplicate(SafeHandle fd, out SafeFd? duplicate)
    {
        var handle = new SafeFd();
        while (true)
        {
            int result = Fcntl(fd, F_DUPFD_CLOEXEC, 0);
            if (result >= 0)
            {
                handle.SetFd(result);
                duplicate = handle;
                return Errno.Success;
            }

            Errno error = Interop.LastErrno;
            if (error != Errno.EINTR)
            {
                handle.Dispose();
                duplicate = null;
                return error;
            }
        }
    }

    /// <summary>Sets O_NONBLOCK on the open file description (shared with every duplicate of it).</summary>
    public static Errno SetNonBlocking(SafeHandle fd)
    {
        Errno error = Sockets.GetStatusFlags(fd, out int flags);
        return error != Errno.Success || (flags & SocketConstants.O_NONBLOCK) != 0
            ? error
            : Sockets.SetStatusFlags(fd, flags | SocketConstants.O_NONBLOCK);
    }
}
