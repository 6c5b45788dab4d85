using System.Buffers.Binary;
using Istio.AppSwitch.Interop;
using static Istio.AppSwitch.Interop.SocketConstants;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>
/// <c>setsockopt</c>/<c>getsockopt</c> at level <c>IPPROTO_TCP</c> (trapped by argument: the filter lets every other
/// level through in the kernel). On a Unix socket that ax installed in place of a TCP one (a switched or a delegated
/// connection) they are answered from <see cref="TcpOptionAnswers"/>, where the kernel would fail them with EOPNOTSUPP;
/// on every other socket the kernel runs them.
/// </summary>
internal sealed partial class SyscallHandler
{
    // setsockopt(fd, level, optname, optval, optlen) / getsockopt(fd, level, optname, optval, optlen*)
    private void HandleTcpOption(InterceptedApp app, in SeccompNotification n, bool set)
    {
        // Apps that never had a socket replaced (almost all) pay one read here.
        if ((int)n.Arg1 != IPPROTO_TCP || Interlocked.Read(ref app.UnixEnds) == 0
            || ProcFs.GetSocketInode((int)n.Pid, (int)n.Arg0, out var inode) != Errno.Success
            || !app.Sockets.TryGetValue(inode, out var entry) || entry.Tcp is not { } store)
        {
            Continue(app, n.Id);
            return;
        }
        var name = (int)n.Arg2;
        var tid = (int)n.Pid;
        if (set)
        {
            var error = TcpOptionAnswers.CheckSet(name, (int)n.Arg4, out var keep);
            if (error != Errno.Success)
            {
                Seccomp.Respond(app.Listener, n.Id, -1, error);
                return;
            }
            Span<byte> value = stackalloc byte[TcpOptionAnswers.MaxValueSize];
            if (ProcessMemory.Read(tid, n.Arg3, value[..keep], out var read) != Errno.Success || read != keep)
            {
                Seccomp.Respond(app.Listener, n.Id, -1, Errno.EFAULT);
                return;
            }
            if (!Seccomp.IsIdValid(app.Listener, n.Id))
            {
                return; // what was read may be another process's
            }
            store.Set(name, value[..keep]);
            Seccomp.Respond(app.Listener, n.Id, 0, Errno.Success);
            return;
        }

        Span<byte> lengthBytes = stackalloc byte[4];
        if (ProcessMemory.Read(tid, n.Arg4, lengthBytes, out var lengthRead) != Errno.Success || lengthRead != 4)
        {
            Seccomp.Respond(app.Listener, n.Id, -1, Errno.EFAULT);
            return;
        }
        Span<byte> output = stackalloc byte[TcpOptionAnswers.TcpInfoSize];
        var answer = TcpOptionAnswers.Answer(name, store.Get(name), BinaryPrimitives.ReadInt32LittleEndian(lengthBytes), output, out var length);
        if (answer != Errno.Success)
        {
            Seccomp.Respond(app.Listener, n.Id, -1, answer);
            return;
        }
        // The tid names the notifying thread only while the notification lives: check before writing into its memory.
        if (!Seccomp.IsIdValid(app.Listener, n.Id))
        {
            return;
        }
        BinaryPrimitives.WriteInt32LittleEndian(lengthBytes, length);
        if ((length > 0 && (ProcessMemory.Write(tid, n.Arg3, output[..length], out var written) != Errno.Success || written != length))
            || ProcessMemory.Write(tid, n.Arg4, lengthBytes, out _) != Errno.Success)
        {
            Seccomp.Respond(app.Listener, n.Id, -1, Errno.EFAULT);
            return;
        }
        Seccomp.Respond(app.Listener, n.Id, 0, Errno.Success);
    }

    /// <summary>Whether the socket is one ax installed in place of the application's TCP socket (switched or delegated).</summary>
    private static bool IsReplacedSocket(InterceptedApp app, SafeFd socket) =>
        !app.Sockets.IsEmpty && ProcFs.GetInode(socket, out var inode) == Errno.Success
        && app.Sockets.TryGetValue(inode, out var entry) && entry.Tcp is not null;
}
