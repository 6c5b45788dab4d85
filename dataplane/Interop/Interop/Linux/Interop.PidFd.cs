using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop;

internal static partial class Interop
{
    internal static partial class Sys
    {
        /// <summary>PIDFD_THREAD (= O_EXCL, Linux 6.9): a pidfd for a thread rather than a thread-group leader.</summary>
        internal const uint PIDFD_THREAD = 0x80;

        internal static long PidfdOpen(int pid, uint flags) => Syscall(Syscalls.PidfdOpen, pid, flags, 0);

        internal static long PidfdGetfd(SafeHandle pidfd, int targetFd)
        {
            bool added = false;
            try
            {
                pidfd.DangerousAddRef(ref added);
                return Syscall(Syscalls.PidfdGetfd, pidfd.DangerousGetHandle(), targetFd, 0);
            }
            finally
            {
                if (added)
                {
                    pidfd.DangerousRelease();
                }
            }
        }

        [LibraryImport(Libraries.Libc, EntryPoint = "tgkill", SetLastError = true)]
        internal static partial int TgKill(int tgid, int tid, int signal);
    }
}
