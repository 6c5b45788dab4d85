using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop;

internal static partial class Interop
{
    internal static partial class Sys
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "getsockopt", SetLastError = true)]
        internal static unsafe partial int GetSockOpt(SafeHandle socket, int level, int name, byte* value, uint* valueLength);

        [LibraryImport(Libraries.Libc, EntryPoint = "setsockopt", SetLastError = true)]
        internal static unsafe partial int SetSockOpt(SafeHandle socket, int level, int name, byte* value, uint valueLength);

        /// <summary>struct ucred (SO_PEERCRED).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct UCred
        {
            internal int Pid;
            internal uint Uid;
            internal uint Gid;
        }
    }
}
