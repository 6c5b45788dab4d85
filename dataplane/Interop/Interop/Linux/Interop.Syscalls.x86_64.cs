namespace Istio.AppSwitch.Interop;

// Every number and struct size that differs between Linux architectures. Only x86_64 is supported: the values
// come from arch/x86/entry/syscalls/syscall_64.tbl and the uapi headers, and were checked on kernel 6.18.
internal static partial class Interop
{
    internal static class Syscalls
    {
        internal const int Read = 0;
        internal const int Write = 1;
        internal const int Close = 3;
        internal const int FStat = 5;
        internal const int Dup = 32;
        internal const int Dup2 = 33;
        internal const int Socket = 41;
        internal const int Connect = 42;
        internal const int Accept = 43;
        internal const int SendTo = 44;
        internal const int RecvFrom = 45;
        internal const int SendMsg = 46;
        internal const int RecvMsg = 47;
        internal const int Shutdown = 48;
        internal const int Bind = 49;
        internal const int Listen = 50;
        internal const int GetSockName = 51;
        internal const int GetPeerName = 52;
        internal const int SocketPair = 53;
        internal const int SetSockOpt = 54;
        internal const int GetSockOpt = 55;
        internal const int Clone = 56;
        internal const int Fork = 57;
        internal const int VFork = 58;
        internal const int Execve = 59;
        internal const int Fcntl = 72;
        internal const int Prctl = 157;
        internal const int Accept4 = 288;
        internal const int Dup3 = 292;
        internal const int RecvMMsg = 299;
        internal const int SendMMsg = 307;
        internal const int ProcessVmReadv = 310;
        internal const int ProcessVmWritev = 311;
        internal const int Seccomp = 317;
        internal const int Execveat = 322;
        internal const int IoUringSetup = 425;
        internal const int IoUringEnter = 426;
        internal const int PidfdOpen = 434;
        internal const int Clone3 = 435;
        internal const int CloseRange = 436;
        internal const int PidfdGetfd = 438;

        /// <summary>Set in the syscall number by the x32 ABI, which shares AUDIT_ARCH_X86_64 with x86_64.</summary>
        internal const int X32SyscallBit = 0x40000000;
    }

    internal static class Audit
    {
        /// <summary>AUDIT_ARCH_X86_64 = EM_X86_64 (62) | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE.</summary>
        internal const uint ArchX86_64 = 0xC000003E;
    }

    internal static class SeccompIoctls
    {
        // _IOWR('!', 0, struct seccomp_notif)
        internal const ulong NotifRecv = 0xc0502100;
        // _IOWR('!', 1, struct seccomp_notif_resp)
        internal const ulong NotifSend = 0xc0182101;
        // _IOW('!', 2, __u64)
        internal const ulong NotifIdValid = 0x40082102;
        // _IOW('!', 3, struct seccomp_notif_addfd)
        internal const ulong NotifAddFd = 0x40182103;
        // _IOW('!', 4, __u64); the flags are the ioctl's argument itself, not a pointer.
        internal const ulong NotifSetFlags = 0x40082104;
        internal const ulong NotifFdSyncWakeUp = 1;
    }

    internal static class StructSizes
    {
        internal const int SeccompNotif = 80;
        internal const int SeccompNotifResp = 24;
        internal const int SeccompNotifAddFd = 24;
        internal const int SeccompData = 64;
        internal const int SockFilter = 8;
        internal const int SockFprog = 16;
        // struct epoll_event is __attribute__((packed)) on x86_64 only: 12 bytes, not 16.
        internal const int EpollEvent = 12;
        internal const int MsgHdr = 56;
        internal const int CMsgHdr = 16;
        internal const int Stat = 144;
        internal const int IfReq = 40;
        internal const int UCred = 12;
    }
}
