using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop;

internal static partial class Interop
{
    internal static partial class Sys
    {
        // Takes the raw fd: only SafeHandle.ReleaseHandle and cleanup of never-wrapped fds call it.
        [LibraryImport(Libraries.Libc, EntryPoint = "close", SetLastError = true)]
        internal static partial int Close(int fd);
    }
}
