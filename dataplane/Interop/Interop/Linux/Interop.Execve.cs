using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop;

internal static partial class Interop
{
    internal static partial class Sys
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "execve", SetLastError = true)]
        internal static unsafe partial int Execve(byte* path, byte** argv, byte** envp);
    }
}
