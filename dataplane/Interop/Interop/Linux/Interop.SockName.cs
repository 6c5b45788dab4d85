using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop;

internal static partial class Interop
{
    internal static partial class Sys
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "getsockname", SetLastError = true)]
        internal static unsafe partial int GetSockName(SafeHandle socket, byte* address, uint* addressLength);

        [LibraryImport(Libraries.Libc, EntryPoint = "getpeername", SetLastError = true)]
        internal static unsafe partial int GetPeerName(SafeHandle socket, byte* address, uint* addressLength);
    }
}
