using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop;

internal static partial class Interop
{
    internal static partial class Sys
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "readlink", SetLastError = true)]
        internal static unsafe partial nint ReadLink(byte* path, byte* buffer, nuint bufferSize);
    }
}
