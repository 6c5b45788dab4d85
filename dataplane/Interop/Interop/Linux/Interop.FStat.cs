using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop;

internal static partial class Interop
{
    internal static partial class Sys
    {
        /// <summary>The x86_64 struct stat (144 bytes); only the fields ax reads are named.</summary>
        [StructLayout(LayoutKind.Explicit, Size = StructSizes.Stat)]
        internal struct FileStatus
        {
            [FieldOffset(0)] internal ulong Device;
            [FieldOffset(8)] internal ulong Inode;
            [FieldOffset(24)] internal uint Mode;
        }

        // glibc exports fstat only since 2.33 (before, it was __fxstat); the raw syscall has no such history.
        internal static unsafe int FStat(SafeHandle fd, FileStatus* status)
        {
            bool added = false;
            try
            {
                fd.DangerousAddRef(ref added);
                return (int)Syscall(Syscalls.FStat, fd.DangerousGetHandle(), (long)status, 0);
            }
            finally
            {
                if (added)
                {
                    fd.DangerousRelease();
                }
            }
        }
    }
}
