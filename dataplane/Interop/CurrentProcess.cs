using System.Runtime.InteropServices;
using static Istio.AppSwitch.Interop.Interop.Sys;

namespace Istio.AppSwitch.Interop;

/// <summary>The calling process and thread: ids, execve, prctl.</summary>
public static class CurrentProcess
{
    /// <summary>
    /// execve(2) of a prepared program. On success it does not return: the calling thread becomes the new program,
    /// every other thread ends, and a seccomp filter installed on this thread stays in force. Returns the errno on
    /// failure (ENOENT, EACCES, ENOEXEC...). Allocates nothing and makes no other syscall.
    /// </summary>
    /// <exception cref="ObjectDisposedException"><paramref name="exec"/> was disposed.</exception>
    public static unsafe Errno Execve(PreparedExec exec)
    {
        ArgumentNullException.ThrowIfNull(exec);
        ObjectDisposedException.ThrowIf(exec.IsDisposed, exec);
        _ = Interop.Sys.Execve(exec.PathPointer, exec.ArgvPointer, exec.EnvironmentPointer);
        return Interop.LastErrno;
    }

    /// <summary>prctl(PR_SET_PTRACER, pid): lets <paramref name="pid"/> ptrace (and so process_vm_readv) this
    /// process under Yama's ptrace_scope 1, where only ancestors may otherwise. -1 allows any process, 0 clears.
    /// EINVAL when the Yama LSM is not active (no /proc/sys/kernel/yama): there is then no such restriction to
    /// relax, so callers can treat that as success.</summary>
    public static Errno SetPtracer(int pid) =>
        Interop.ToErrno(Prctl(PR_SET_PTRACER, unchecked((ulong)(long)pid), 0, 0, 0));

    /// <summary>Whether no_new_privs is set on the calling thread (it is after installing a listener filter).</summary>
    public static bool IsNoNewPrivilegesSet => Prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1;

    /// <summary>gettid(2): the calling thread's id, which is what <see cref="SeccompNotification.Pid"/> reports.</summary>
    public static int GetThreadId() => GetTid();

    /// <summary>
    /// setsid(2): makes the calling process the leader of a new session and process group, so that a signal sent to
    /// its parent's group (a terminal's Ctrl-C, a supervisor's group kill) does not reach it.
    /// </summary>
    public static Errno CreateSession() => Interop.ToErrno(SetSid());

    /// <summary>getpid(2).</summary>
    public static int GetProcessId() => GetPid();

    /// <summary>getuid(2).</summary>
    public static uint GetUid() => Interop.Sys.GetUid();

    /// <summary>geteuid(2).</summary>
    public static uint GetEffectiveUid() => Interop.Sys.GetEUid();

    /// <summary>getgid(2).</summary>
    public static uint GetGid() => Interop.Sys.GetGid();

    /// <summary>tgkill(getpid(), tid, signal): sends a signal to one thread of this process.</summary>
    internal static Errno SignalThread(int tid, int signal) => Interop.ToErrno(TgKill(GetPid(), tid, signal));
}
