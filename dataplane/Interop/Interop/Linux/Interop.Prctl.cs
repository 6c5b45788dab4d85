using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop;

internal static partial class Interop
{
    internal static partial class Sys
    {
        internal const int PR_SET_NO_NEW_PRIVS = 38;
        internal const int PR_GET_NO_NEW_PRIVS = 39;
        internal const int PR_SET_PTRACER = 0x59616d61;

        [LibraryImport(Libraries.Libc, EntryPoint = "prctl", SetLastError = true)]
        internal static partial int Prctl(int option, ulong arg2, ulong arg3, ulong arg4, ulong arg5);
    }
}
