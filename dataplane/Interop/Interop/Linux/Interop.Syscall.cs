using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop;

internal static partial class Interop
{
    internal static partial class Sys
    {
        // long syscall(long number, ...): for calls glibc does not wrap (seccomp, pidfd_open, pidfd_getfd).
        // Declaring the variadic arguments as fixed longs is correct on x86_64: variadic integer arguments
        // travel in the same registers as fixed ones, and %al (the vector-register count) only makes the
        // callee's prologue spill xmm registers it never reads.
        [LibraryImport(Libraries.Libc, EntryPoint = "syscall", SetLastError = true)]
        internal static partial long Syscall(long number, long arg1, long arg2, long arg3);
    }
}
