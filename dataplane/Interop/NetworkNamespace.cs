using System.Text;
using static Istio.AppSwitch.Interop.Interop.Sys;

namespace Istio.AppSwitch.Interop;

/// <summary>
/// The calling thread's network namespace: join one, create one, name it. Every call here acts on the calling
/// thread only (setns and unshare change the thread's own nsproxy), which is what <c>ax run</c> needs: the one
/// thread that will <c>execve</c> the application moves, and the launcher's other threads stay in the host's
/// namespace. Needs CAP_SYS_ADMIN (in the user namespace that owns the target namespace).
/// </summary>
public static class NetworkNamespace
{
    /// <summary>The calling thread's own namespace file (a task's thread-self, not the process leader's).</summary>
    private static ReadOnlySpan<byte> ThreadSelfPath => "/proc/thread-self/ns/net\0"u8;

    /// <summary>
    /// setns(2) into the network namespace at <paramref name="path"/> (a bind mount such as /run/netns/NAME, or
    /// /proc/PID/ns/net). ENOENT when there is no such file, EINVAL when it is not a network namespace, EPERM
    /// without CAP_SYS_ADMIN.
    /// </summary>
    public static unsafe Errno Join(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var error = OpenReadOnly(path, out var handle);
        if (error != Errno.Success)
        {
            return error;
        }
        using (handle)
        {
            return Interop.ToErrno(SetNs(handle!, CLONE_NEWNET));
        }
    }

    /// <summary>
    /// unshare(CLONE_NEWNET), then brings its loopback interface up: a new namespace holds only <c>lo</c>, down.
    /// EPERM without CAP_SYS_ADMIN.
    /// </summary>
    public static Errno CreateWithLoopback()
    {
        var error = Interop.ToErrno(Unshare(CLONE_NEWNET));
        return error == Errno.Success ? BringUp("lo") : error;
    }

    /// <summary>
    /// Sets IFF_UP on the interface named <paramref name="name"/> of the calling thread's namespace, with the
    /// SIOCGIFFLAGS/SIOCSIFFLAGS ioctls on a datagram socket made in that namespace (rtnetlink does the same with
    /// more code). ENODEV when there is no such interface.
    /// </summary>
    public static unsafe Errno BringUp(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (Encoding.ASCII.GetByteCount(name) is 0 or > 15)
        {
            return Errno.EINVAL;
        }
        var error = Sockets.Create(SocketConstants.AF_INET, SocketConstants.SOCK_DGRAM, 0, nonBlocking: false, closeOnExec: true, out var socket);
        if (error != Errno.Success)
        {
            return error;
        }
        using (socket)
        {
            InterfaceRequest request = default;
            Encoding.ASCII.GetBytes(name, new Span<byte>(request.Name, 15));
            if (Ioctl(socket!, SIOCGIFFLAGS, &request) != 0)
            {
                return Interop.LastErrno;
            }
            if ((request.Flags & IFF_UP) != 0)
            {
                return Errno.Success;
            }
            request.Flags |= IFF_UP;
            return Interop.ToErrno(Ioctl(socket!, SIOCSIFFLAGS, &request));
        }
    }

    /// <summary>The inode of the calling thread's network namespace: what names it (<c>ip netns identify</c>, /proc/PID/ns/net).</summary>
    public static unsafe Errno GetCurrentInode(out ulong inode)
    {
        inode = 0;
        var handle = new SafeFd();
        int fd;
        fixed (byte* path = ThreadSelfPath)
        {
            fd = Open(path, O_RDONLY | O_CLOEXEC);
        }
        if (fd < 0)
        {
            var error = Interop.LastErrno;
            handle.Dispose();
            return error;
        }
        handle.SetFd(fd);
        using (handle)
        {
            return ProcFs.GetInode(handle, out inode);
        }
    }

    private static unsafe Errno OpenReadOnly(string path, out SafeFd? handle)
    {
        handle = null;
        var length = Encoding.UTF8.GetByteCount(path);
        if (length == 0)
        {
            return Errno.ENOENT;
        }
        if (length > 4095 || path.Contains('\0', StringComparison.Ordinal))
        {
            return Errno.EINVAL;
        }
        var bytes = new byte[length + 1];
        Encoding.UTF8.GetBytes(path, bytes);
        var owned = new SafeFd();
        int fd;
        fixed (byte* pointer = bytes)
        {
            fd = Open(pointer, O_RDONLY | O_CLOEXEC);
        }
        if (fd < 0)
        {
            var error = Interop.LastErrno;
            owned.Dispose();
            return error;
        }
        owned.SetFd(fd);
        handle = owned;
        return Errno.Success;
    }
}
