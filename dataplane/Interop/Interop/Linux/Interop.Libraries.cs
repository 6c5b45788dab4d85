namespace Istio.AppSwitch.Interop;

internal static partial class Interop
{
    internal static class Libraries
    {
        // The runtime maps "libc" to glibc's soname (LIBC_SO, "libc.so.6"), so this does not depend on the
        // libc6-dev "libc.so" linker script being installed.
        internal const string Libc = "libc";
    }
}
