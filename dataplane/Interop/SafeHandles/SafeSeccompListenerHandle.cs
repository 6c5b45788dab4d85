using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop;

/// <summary>The seccomp user-notification listener returned by SECCOMP_FILTER_FLAG_NEW_LISTENER. While it is open, trapped calls wait for an answer; once every copy is closed, they fail with ENOSYS. Closing it calls close(2).</summary>
public sealed class SafeSeccompListenerHandle : SafeHandle
{
    /// <summary>Creates an invalid handle. The interop layer allocates handles before the call that fills them,
    /// so that nothing is allocated between a successful syscall and wrapping its fd.</summary>
    public SafeSeccompListenerHandle()
        : base(new IntPtr(-1), ownsHandle: true)
    {
    }

    internal SafeSeccompListenerHandle(int fd)
        : base(new IntPtr(-1), ownsHandle: true)
    {
        SetHandle(fd);
    }

    /// <summary>Takes ownership of a listener fd received from another process (<c>SCM_RIGHTS</c>).</summary>
    public static SafeSeccompListenerHandle FromOwned(int fd) => new(fd);

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
