using System.Globalization;

namespace Istio.AppSwitch.Interop;

/// <summary>
/// x86_64 syscall numbers, as they appear in <see cref="SeccompNotification.Nr"/> and in a filter's trap list.
/// </summary>
public static class SyscallNumbers
{
#pragma warning disable CS1591 // Each constant is the syscall of the same name (syscalls(2)).
    public const int Read = Interop.Syscalls.Read;
    public const int Write = Interop.Syscalls.Write;
    public const int Close = Interop.Syscalls.Close;
    public const int Dup = Interop.Syscalls.Dup;
    public const int Dup2 = Interop.Syscalls.Dup2;
    public const int Socket = Interop.Syscalls.Socket;
    public const int Connect = Interop.Syscalls.Connect;
    public const int Accept = Interop.Syscalls.Accept;
    public const int SendTo = Interop.Syscalls.SendTo;
    public const int RecvFrom = Interop.Syscalls.RecvFrom;
    public const int SendMsg = Interop.Syscalls.SendMsg;
    public const int RecvMsg = Interop.Syscalls.RecvMsg;
    public const int Shutdown = Interop.Syscalls.Shutdown;
    public const int Bind = Interop.Syscalls.Bind;
    public const int Listen = Interop.Syscalls.Listen;
    public const int GetSockName = Interop.Syscalls.GetSockName;
    public const int GetPeerName = Interop.Syscalls.GetPeerName;
    public const int SocketPair = Interop.Syscalls.SocketPair;
    public const int SetSockOpt = Interop.Syscalls.SetSockOpt;
    public const int GetSockOpt = Interop.Syscalls.GetSockOpt;
    public const int Clone = Interop.Syscalls.Clone;
    public const int Fork = Interop.Syscalls.Fork;
    public const int VFork = Interop.Syscalls.VFork;
    public const int Execve = Interop.Syscalls.Execve;
    public const int Fcntl = Interop.Syscalls.Fcntl;
    public const int Accept4 = Interop.Syscalls.Accept4;
    public const int Dup3 = Interop.Syscalls.Dup3;
    public const int RecvMMsg = Interop.Syscalls.RecvMMsg;
    public const int SendMMsg = Interop.Syscalls.SendMMsg;
    public const int Seccomp = Interop.Syscalls.Seccomp;
    public const int Execveat = Interop.Syscalls.Execveat;
    /// <summary>io_uring submits socket operations (IORING_OP_CONNECT, ...) without making the syscall, so a
    /// filter that traps connect does not see them. Trap this and answer ENOSYS to make programs fall back.</summary>
    public const int IoUringSetup = Interop.Syscalls.IoUringSetup;
    public const int IoUringEnter = Interop.Syscalls.IoUringEnter;
    public const int PidfdOpen = Interop.Syscalls.PidfdOpen;
    public const int Clone3 = Interop.Syscalls.Clone3;
    public const int CloseRange = Interop.Syscalls.CloseRange;
    public const int PidfdGetfd = Interop.Syscalls.PidfdGetfd;
#pragma warning restore CS1591

    /// <summary>The syscall's name ("connect"); for numbers not listed here, "syscall_N" (which allocates).</summary>
    public static string Name(int nr) => nr switch
    {
        Read => "read",
        Write => "write",
        Close => "close",
        Dup => "dup",
        Dup2 => "dup2",
        Socket => "socket",
        Connect => "connect",
        Accept => "accept",
        SendTo => "sendto",
        RecvFrom => "recvfrom",
        SendMsg => "sendmsg",
        RecvMsg => "recvmsg",
        Shutdown => "shutdown",
        Bind => "bind",
        Listen => "listen",
        GetSockName => "getsockname",
        GetPeerName => "getpeername",
        SocketPair => "socketpair",
        SetSockOpt => "setsockopt",
        GetSockOpt => "getsockopt",
        Clone => "clone",
        Fork => "fork",
        VFork => "vfork",
        Execve => "execve",
        Fcntl => "fcntl",
        Accept4 => "accept4",
        Dup3 => "dup3",
        RecvMMsg => "recvmmsg",
        SendMMsg => "sendmmsg",
        Seccomp => "seccomp",
        Execveat => "execveat",
        IoUringSetup => "io_uring_setup",
        IoUringEnter => "io_uring_enter",
        PidfdOpen => "pidfd_open",
        Clone3 => "clone3",
        CloseRange => "close_range",
        PidfdGetfd => "pidfd_getfd",
        _ => "syscall_" + nr.ToString(CultureInfo.InvariantCulture),
    };
}
