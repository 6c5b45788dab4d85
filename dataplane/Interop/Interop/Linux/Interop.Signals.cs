using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop;

internal static partial class Interop
{
    internal static partial class Sys
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "setsid", SetLastError = true)]
        internal static partial int SetSid();

        [LibraryImport(Libraries.Libc, EntryPoint = "__libc_current_sigrtmin")]
        internal static partial int CurrentSigRtMin();

        [LibraryImport(Libraries.Libc, EntryPoint = "sigaction", SetLastError = true)]
        internal static unsafe partial int SigAction(int signal, SigActionStruct* action, SigActionStruct* old);

        /// <summary>glibc's struct sigaction on x86_64 (not the kernel's): handler, 1024-bit mask, flags, restorer.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct SigActionStruct
        {
            public nint Handler;
            public fixed ulong Mask[16];
            public int Flags;
            public nint Restorer;
        }
    }
}
