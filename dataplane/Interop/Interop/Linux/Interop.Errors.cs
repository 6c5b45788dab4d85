using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop;

internal static partial class Interop
{
    /// <summary>The errno of the last <c>SetLastError = true</c> import on this thread. Does not allocate.</summary>
    internal static Errno LastErrno => (Errno)Marshal.GetLastPInvokeError();

    /// <summary>Maps a libc result (-1 and errno on failure) to an <see cref="Errno"/>.</summary>
    internal static Errno ToErrno(long result) => result < 0 ? LastErrno : Errno.Success;
}
