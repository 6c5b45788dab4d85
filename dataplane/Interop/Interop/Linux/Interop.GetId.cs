using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop;

internal static partial class Interop
{
    internal static partial class Sys
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "gettid")]
        internal static partial int GetTid();

        [LibraryImport(Libraries.Libc, EntryPoint = "getpid")]
        internal static partial int GetPid();

        [LibraryImport(Libraries.Libc, EntryPoint = "getuid")]
        internal static partial uint GetUid();

        [LibraryImport(Libraries.Libc, EntryPoint = "geteuid")]
        internal static partial uint GetEUid();

        [LibraryImport(Libraries.Libc, EntryPoint = "getgid")]
        internal static partial uint GetGid();
    }
}
