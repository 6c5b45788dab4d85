using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop;

internal static partial class Interop
{
    internal static partial class Sys
    {
        internal const int O_NONBLOCK_PIPE = 0x800;
        internal const int F_DUPFD_CLOEXEC = 1030;
        internal const uint SPLICE_F_MOVE = 0x1;
        internal const uint SPLICE_F_NONBLOCK = 0x2;
        internal const int MSG_DONTWAIT = 0x40;

        [LibraryImport(Libraries.Libc, EntryPoint = "pipe2", SetLastError = true)]
        internal static unsafe partial int Pipe2(int* fds, int flags);

        // ssize_t splice(int fd_in, loff_t *off_in, int fd_out, loff_t *off_out, size_t len, unsigned int flags):
        // the offsets stay null, since sockets and pipes have none.
        [LibraryImport(Libraries.Libc, EntryPoint = "splice", SetLastError = true)]
        internal static unsafe partial nint Splice(SafeHandle input, long* inputOffset, SafeHandle output, long* outputOffset, nuint length, uint flags);
    }
}
