using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop;

internal static partial class Interop
{
    internal static partial class Sys
    {
        /// <summary>struct iovec.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct IOVector
        {
            internal void* Base;
            internal nuint Length;
        }

        [LibraryImport(Libraries.Libc, EntryPoint = "process_vm_readv", SetLastError = true)]
        internal static unsafe partial nint ProcessVmReadv(int pid, IOVector* localIov, nuint localCount, IOVector* remoteIov, nuint remoteCount, nuint flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "process_vm_writev", SetLastError = true)]
        internal static unsafe partial nint ProcessVmWritev(int pid, IOVector* localIov, nuint localCount, IOVector* remoteIov, nuint remoteCount, nuint flags);
    }
}
