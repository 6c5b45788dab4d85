using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop;

internal static partial class Interop
{
    internal static partial class Sys
    {
        /// <summary>
        /// The current value of libc's <c>environ</c> (a NULL-terminated array of "NAME=value" strings). A variable,
        /// not a function, so it is found with dlsym in the program's global scope, where libc defines it.
        /// </summary>
        /// <exception cref="EntryPointNotFoundException">No <c>environ</c> symbol.</exception>
        internal static unsafe byte** GetEnviron() =>
            *(byte***)NativeLibrary.GetExport(NativeLibrary.GetMainProgramHandle(), "environ");
    }
}
