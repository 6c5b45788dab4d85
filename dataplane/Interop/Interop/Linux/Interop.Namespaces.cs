using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop;

internal static partial class Interop
{
    internal static partial class Sys
    {
        internal const int CLONE_NEWNET = 0x40000000;

        // Both act on the calling thread's nsproxy only: in a multithreaded process, other threads stay where they are.
        [LibraryImport(Libraries.Libc, EntryPoint = "setns", SetLastError = true)]
        internal static partial int SetNs(SafeHandle fd, int nsType);

        [LibraryImport(Libraries.Libc, EntryPoint = "unshare", SetLastError = true)]
        internal static partial int Unshare(int flags);

        // <linux/sockios.h> and <net/if.h>.
        internal const ulong SIOCGIFFLAGS = 0x8913;
        internal const ulong SIOCSIFFLAGS = 0x8914;
        internal const short IFF_UP = 0x1;

        /// <summary>struct ifreq (40 bytes on x86_64): the name, then a union whose short ifr_flags ax uses.</summary>
        [StructLayout(LayoutKind.Explicit, Size = StructSizes.IfReq)]
        internal unsafe struct InterfaceRequest
        {
            [FieldOffset(0)] internal fixed byte Name[16];
            [FieldOffset(16)] internal short Flags;
        }
    }
}
