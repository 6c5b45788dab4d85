using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop;

/// <summary>Any owned file descriptor: a socket, a dup from pidfd_getfd, an fd received with SCM_RIGHTS. Closing it calls close(2).</summary>
public sealed class SafeFd : SafeHandle
{
    /// <summary>Creates an invalid handle. The interop layer allocates handles before the call that fills them,
    /// so that nothing is allocated between a successful syscall and wrapping its fd.</summary>
    public SafeFd()
        : base(new IntPtr(-1), ownsHandle: true)
    {
    }

    internal SafeFd(int fd)
        : base(new IntPtr(-1), ownsHandle: true)
    {
        SetHandle(fd);
    }

    /// <summary>The fd number, or -1 when invalid. Valid only while the handle is open: do not keep it.</summary>
    public int Value => (int)handle;

    /// <inheritdoc />
    public override bool IsInvalid => (long)handle < 0;

    internal void SetFd(int fd) => SetHandle(fd);

    /// <summary>Takes ownership of <paramref name="fd"/>: it is closed when the handle is disposed.</summary>
    public static SafeFd FromOwned(int fd) => new(fd);

    /// <inheritdoc />
    protected override bool ReleaseHandle()
    {
        // close(2) releases the fd even when it reports EINTR or EIO, so there is never a reason to retry.
        Interop.Sys.Close((int)handle);
        return true;
    }
}
