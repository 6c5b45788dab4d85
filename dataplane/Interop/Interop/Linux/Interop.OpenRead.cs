using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop;

internal static partial class Interop
{
    internal static partial class Sys
    {
        internal const int O_RDONLY = 0;
        internal const int O_CLOEXEC = 0x80000;

        // Raw fds: used only for short-lived /proc reads that open, read and close within one method.
        [LibraryImport(Libraries.Libc, EntryPoint = "open", SetLastError = true)]
        internal static unsafe partial int Open(byte* path, int flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "read", SetLastError = true)]
        internal static unsafe partial nint Read(int fd, byte* buffer, nuint count);

        [LibraryImport(Libraries.Libc, EntryPoint = "read", SetLastError = true)]
        internal static unsafe partial nint Read(SafeHandle fd, byte* buffer, nuint count);

        [LibraryImport(Libraries.Libc, EntryPoint = "write", SetLastError = true)]
        internal static unsafe partial nint Write(SafeHandle fd, byte* buffer, nuint count);
    }
}
