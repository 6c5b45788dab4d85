using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop;

internal static partial class Interop
{
    internal static partial class Sys
    {
        // int ioctl(int fd, unsigned long request, ...): the one variadic argument is always a pointer here.
        [LibraryImport(Libraries.Libc, EntryPoint = "ioctl", SetLastError = true)]
        internal static unsafe partial int Ioctl(SafeHandle fd, ulong request, void* argument);
    }
}
