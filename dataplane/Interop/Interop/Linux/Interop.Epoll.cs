using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop;

internal static partial class Interop
{
    internal static partial class Sys
    {
        internal const int EPOLL_CLOEXEC = 0x80000;
        internal const int EPOLL_CTL_ADD = 1;
        internal const int EPOLL_CTL_DEL = 2;
        internal const int EPOLL_CTL_MOD = 3;
        internal const uint EPOLLONESHOT = 1u << 30;

        internal const int EFD_CLOEXEC = 0x80000;
        internal const int EFD_NONBLOCK = 0x800;

        /// <summary>struct epoll_event: packed on x86_64 (12 bytes), so the u64 data sits at offset 4.</summary>
        [StructLayout(LayoutKind.Sequential, Pack = 4)]
        internal struct EpollEvent
        {
            internal uint Events;
            internal ulong Data;
        }

        [LibraryImport(Libraries.Libc, EntryPoint = "epoll_create1", SetLastError = true)]
        internal static partial int EpollCreate1(int flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "epoll_ctl", SetLastError = true)]
        internal static unsafe partial int EpollCtl(SafeHandle epoll, int operation, SafeHandle fd, EpollEvent* ev);

        [LibraryImport(Libraries.Libc, EntryPoint = "epoll_wait", SetLastError = true)]
        internal static unsafe partial int EpollWait(SafeHandle epoll, EpollEvent* events, int maxEvents, int timeout);

        [LibraryImport(Libraries.Libc, EntryPoint = "eventfd", SetLastError = true)]
        internal static partial int EventFd(uint initialValue, int flags);
    }
}
