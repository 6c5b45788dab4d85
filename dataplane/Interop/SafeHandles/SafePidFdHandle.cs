using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop;

/// <summary>A pidfd (pidfd_open): a reference to a process (or thread) that cannot be confused with a later process given the same pid. It becomes readable when the process exits. Closing it calls close(2).</summary>
public sealed class SafePidFdHandle : SafeHandle
{
    /// <summary>Creates an invalid handle. The interop layer allocates handles before the call that fills them,
    /// so that nothing is allocated between a successful syscall and wrapping its fd.</summary>
    public SafePidFdHandle()
        : base(new IntPtr(-1), ownsHandle: true)
    {
    }

    internal SafePidFdHandle(int fd)
        : base(new IntPtr(-1), ownsHandle: true)
    {
        SetHandle(fd);
    }

    /// <summary>The fd number, or -1 when invalid. Valid only while the handle is open: do not keep it.</summary>
    public int Value => (int)handle;

    /// <inheritdoc />
    public override bool IsInvalid => (long)handle < 0;

    internal void SetFd(int fd) => SetHandle(fd);

    /// <inheritdoc />
    protected override bool ReleaseHandle()
    {
        // close(2) releases the fd even when it reports EINTR or EIO, so there is never a reason to retry.
        Interop.Sys.Close((int)handle);
        return true;
    }
}
