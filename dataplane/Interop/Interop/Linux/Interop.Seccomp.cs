using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop;

internal static partial class Interop
{
    internal static partial class Sys
    {
        internal const int SECCOMP_SET_MODE_FILTER = 1;
        internal const int SECCOMP_GET_NOTIF_SIZES = 3;

        internal const uint SECCOMP_FILTER_FLAG_NEW_LISTENER = 1u << 3;
        internal const uint SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 1u << 5;

        internal const uint SECCOMP_RET_KILL_PROCESS = 0x80000000;
        internal const uint SECCOMP_RET_USER_NOTIF = 0x7fc00000;
        internal const uint SECCOMP_RET_ALLOW = 0x7fff0000;

        internal const uint SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1;
        internal const uint SECCOMP_ADDFD_FLAG_SETFD = 1;
        internal const uint SECCOMP_ADDFD_FLAG_SEND = 2;

        // Classic BPF opcodes (include/uapi/linux/bpf_common.h).
        internal const ushort BPF_LD = 0x00;
        internal const ushort BPF_JMP = 0x05;
        internal const ushort BPF_RET = 0x06;
        internal const ushort BPF_W = 0x00;
        internal const ushort BPF_ABS = 0x20;
        internal const ushort BPF_JEQ = 0x10;
        internal const ushort BPF_JSET = 0x40;
        internal const ushort BPF_K = 0x00;

        // Offsets in struct seccomp_data.
        internal const uint SeccompDataNr = 0;
        internal const uint SeccompDataArch = 4;

        // struct seccomp_data: nr, arch, instruction_pointer (u64), then args[6] (u64 each).
        internal const uint SeccompDataArgs = 16;

        /// <summary>struct sock_filter.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct SockFilter
        {
            internal ushort Code;
            internal byte JumpTrue;
            internal byte JumpFalse;
            internal uint K;
        }

        /// <summary>struct sock_fprog: a u16 length, 6 bytes of padding, then the pointer.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct SockFprog
        {
            internal ushort Length;
            internal SockFilter* Filter;
        }

        /// <summary>struct seccomp_notif_resp.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct SeccompNotifResp
        {
            internal ulong Id;
            internal long Val;
            internal int Error;
            internal uint Flags;
        }

        /// <summary>struct seccomp_notif_addfd.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct SeccompNotifAddFd
        {
            internal ulong Id;
            internal uint Flags;
            internal uint SrcFd;
            internal uint NewFd;
            internal uint NewFdFlags;
        }

        /// <summary>struct seccomp_notif_sizes.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct SeccompNotifSizes
        {
            internal ushort Notif;
            internal ushort Resp;
            internal ushort Data;
        }

        // glibc has no seccomp() wrapper.
        internal static unsafe long Seccomp(uint operation, uint flags, void* args) =>
            Syscall(Syscalls.Seccomp, operation, flags, (long)args);
    }
}
