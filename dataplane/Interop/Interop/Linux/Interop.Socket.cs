using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop;

internal static partial class Interop
{
    internal static partial class Sys
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "socket", SetLastError = true)]
        internal static partial int Socket(int domain, int type, int protocol);

        [LibraryImport(Libraries.Libc, EntryPoint = "socketpair", SetLastError = true)]
        internal static unsafe partial int SocketPair(int domain, int type, int protocol, int* fds);

        [LibraryImport(Libraries.Libc, EntryPoint = "connect", SetLastError = true)]
        internal static unsafe partial int Connect(SafeHandle socket, byte* address, uint addressLength);

        [LibraryImport(Libraries.Libc, EntryPoint = "bind", SetLastError = true)]
        internal static unsafe partial int Bind(SafeHandle socket, byte* address, uint addressLength);

        [LibraryImport(Libraries.Libc, EntryPoint = "listen", SetLastError = true)]
        internal static partial int Listen(SafeHandle socket, int backlog);

        [LibraryImport(Libraries.Libc, EntryPoint = "accept4", SetLastError = true)]
        internal static unsafe partial int Accept4(SafeHandle socket, byte* address, uint* addressLength, int flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "shutdown", SetLastError = true)]
        internal static partial int Shutdown(SafeHandle socket, int how);
    }
}
