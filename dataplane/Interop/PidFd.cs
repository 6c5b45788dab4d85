using static Istio.AppSwitch.Interop.Interop.Sys;

namespace Istio.AppSwitch.Interop;

/// <summary>pidfds (pidfd_open(2), pidfd_getfd(2)): stable references to processes, and copies of their fds.</summary>
public static class PidFd
{
    /// <summary>pidfd_open(pid): a pidfd for a process (a thread-group leader).</summary>
    /// <exception cref="InteropException">ESRCH if there is no such process; ENOENT (EINVAL before Linux 6.9) if
    /// <paramref name="pid"/> is a thread that is not a thread-group leader (see <see cref="TryOpenThread"/>).</exception>
    public static SafePidFdHandle Open(int pid)
    {
        Errno error = TryOpen(pid, out SafePidFdHandle? handle);
        return error == Errno.Success ? handle! : throw new InteropException("pidfd_open", error);
    }

    /// <summary>pidfd_open(pid, 0). Seccomp notifications carry thread ids: this fails for a thread that is not
    /// its process's leader, with ENOENT (seen on 6.18; older kernels and the man page say EINVAL).</summary>
    public static Errno TryOpen(int pid, out SafePidFdHandle? handle) => TryOpen(pid, 0, out handle);

    /// <summary>
    /// pidfd_open(tid, PIDFD_THREAD) (Linux 6.9): a pidfd for any thread, such as the
    /// <see cref="SeccompNotification.Pid"/> of a trapped call. It becomes readable when that thread exits,
    /// and <see cref="GetFd"/> works through it (the thread shares its process's fd table).
    /// </summary>
    public static Errno TryOpenThread(int tid, out SafePidFdHandle? handle) => TryOpen(tid, PIDFD_THREAD, out handle);

    /// <summary>
    /// pidfd_getfd: a duplicate of <paramref name="targetFd"/> in the process behind <paramref name="pidFd"/>,
    /// sharing its open file description (so its O_NONBLOCK, offset and socket state), with FD_CLOEXEC set.
    /// Needs ptrace access to the target. EBADF if the target has no such fd. Allocates only the handle.
    /// </summary>
    public static Errno GetFd(SafePidFdHandle pidFd, int targetFd, out SafeFd? fd)
    {
        var handle = new SafeFd();
        long result = PidfdGetfd(pidFd, targetFd);
        if (result < 0)
        {
            Errno error = Interop.LastErrno;
            handle.Dispose();
            fd = null;
            return error;
        }

        handle.SetFd((int)result);
        fd = handle;
        return Errno.Success;
    }

    /// <summary>
    /// Whether this process has the ptrace access (<c>PTRACE_MODE_ATTACH_REALCREDS</c>) to the process behind
    /// <paramref name="pidFd"/> that <see cref="GetFd"/> and <c>process_vm_readv</c> need, without taking any fd:
    /// pidfd_getfd checks that access before it looks the fd up, so for fd -1 it answers EPERM without access and
    /// EBADF with it. Returns <see cref="Errno.Success"/> when access is granted, else the kernel's error.
    /// </summary>
    public static Errno CheckAccess(SafePidFdHandle pidFd)
    {
        long result = PidfdGetfd(pidFd, -1);
        if (result >= 0)
        {
            SafeFd.FromOwned((int)result).Dispose(); // no fd -1 exists; closed all the same should a kernel return one
            return Errno.Success;
        }
        Errno error = Interop.LastErrno;
        return error == Errno.EBADF ? Errno.Success : error;
    }

    private static Errno TryOpen(int pid, uint flags, out SafePidFdHandle? handle)
    {
        var pidFd = new SafePidFdHandle();
        long result = PidfdOpen(pid, flags);
        if (result < 0)
        {
            Errno error = Interop.LastErrno;
            pidFd.Dispose();
            handle = null;
            return error;
        }

        pidFd.SetFd((int)result);
        handle = pidFd;
        return Errno.Success;
    }
}
