using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop;

internal static partial class Interop
{
    internal static partial class Sys
    {
        [LibraryImport(Libraries.Libc, EntryPoint = "send", SetLastError = true)]
        internal static unsafe partial nint Send(SafeHandle socket, byte* buffer, nuint length, int flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "recv", SetLastError = true)]
        internal static unsafe partial nint Recv(SafeHandle socket, byte* buffer, nuint length, int flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "sendto", SetLastError = true)]
        internal static unsafe partial nint SendTo(SafeHandle socket, byte* buffer, nuint length, int flags, byte* address, uint addressLength);

        [LibraryImport(Libraries.Libc, EntryPoint = "recvfrom", SetLastError = true)]
        internal static unsafe partial nint RecvFrom(SafeHandle socket, byte* buffer, nuint length, int flags, byte* address, uint* addressLength);

        [LibraryImport(Libraries.Libc, EntryPoint = "sendmsg", SetLastError = true)]
        internal static unsafe partial nint SendMsg(SafeHandle socket, MessageHeader* message, int flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "recvmsg", SetLastError = true)]
        internal static unsafe partial nint RecvMsg(SafeHandle socket, MessageHeader* message, int flags);

        internal const int SCM_RIGHTS = 1;
        internal const int MSG_CTRUNC = 0x8;
        internal const int MSG_NOSIGNAL = 0x4000;
        internal const int MSG_CMSG_CLOEXEC = 0x40000000;

        /// <summary>struct msghdr (56 bytes on x86_64).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct MessageHeader
        {
            internal void* Name;
            internal uint NameLength;
            internal IOVector* IOVectors;
            internal nuint IOVectorCount;
            internal void* Control;
            internal nuint ControlLength;
            internal int Flags;
        }

        /// <summary>struct cmsghdr (16 bytes on x86_64); the data follows, aligned to sizeof(size_t).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct ControlMessageHeader
        {
            internal nuint Length;
            internal int Level;
            internal int Type;
        }

        internal static int ControlMessageAlign(int length) => (length + (IntPtr.Size - 1)) & ~(IntPtr.Size - 1);

        internal static unsafe int ControlMessageSpace(int dataLength) =>
            ControlMessageAlign(sizeof(ControlMessageHeader)) + ControlMessageAlign(dataLength);

        internal static unsafe int ControlMessageLength(int dataLength) =>
            ControlMessageAlign(sizeof(ControlMessageHeader)) + dataLength;
    }
}
