using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop;

/// <summary>
/// A Linux errno value, carried raw: the numeric value is the kernel's (x86_64 and every other architecture
/// that uses the asm-generic numbering). Values the kernel may return that are not named here are still
/// valid <see cref="Errno"/> values; <see cref="ErrnoExtensions.GetName"/> falls back to "errno N" for them.
/// </summary>
public enum Errno
{
    /// <summary>No error.</summary>
    Success = 0,
#pragma warning disable CS1591 // The names are the POSIX names; their meaning is errno(3)'s.
    EPERM = 1,
    ENOENT = 2,
    ESRCH = 3,
    EINTR = 4,
    EIO = 5,
    ENXIO = 6,
    E2BIG = 7,
    ENOEXEC = 8,
    EBADF = 9,
    ECHILD = 10,
    EAGAIN = 11,
    ENOMEM = 12,
    EACCES = 13,
    EFAULT = 14,
    EBUSY = 16,
    EEXIST = 17,
    ENODEV = 19,
    ENOTDIR = 20,
    EISDIR = 21,
    EINVAL = 22,
    ENFILE = 23,
    EMFILE = 24,
    ENOTTY = 25,
    ETXTBSY = 26,
    ENOSPC = 28,
    ESPIPE = 29,
    EROFS = 30,
    EPIPE = 32,
    ERANGE = 34,
    EDEADLK = 35,
    ENAMETOOLONG = 36,
    ENOSYS = 38,
    ELOOP = 40,
    ENODATA = 61,
    EOVERFLOW = 75,
    EBADFD = 77,
    ENOTSOCK = 88,
    EDESTADDRREQ = 89,
    EMSGSIZE = 90,
    EPROTOTYPE = 91,
    ENOPROTOOPT = 92,
    EPROTONOSUPPORT = 93,
    ESOCKTNOSUPPORT = 94,
    EOPNOTSUPP = 95,
    EPFNOSUPPORT = 96,
    EAFNOSUPPORT = 97,
    EADDRINUSE = 98,
    EADDRNOTAVAIL = 99,
    ENETDOWN = 100,
    ENETUNREACH = 101,
    ENETRESET = 102,
    ECONNABORTED = 103,
    ECONNRESET = 104,
    ENOBUFS = 105,
    EISCONN = 106,
    ENOTCONN = 107,
    ESHUTDOWN = 108,
    ETIMEDOUT = 110,
    ECONNREFUSED = 111,
    EHOSTDOWN = 112,
    EHOSTUNREACH = 113,
    EALREADY = 114,
    EINPROGRESS = 115,
    ESTALE = 116,
    ECANCELED = 125,
#pragma warning restore CS1591
}

/// <summary>Names, messages and the one mapping table from <see cref="Errno"/> to other error spaces.</summary>
public static class ErrnoExtensions
{
    /// <summary>The largest errno the kernel returns as a negative syscall result (include/linux/err.h MAX_ERRNO).</summary>
    public const int MaxErrno = 4095;

    /// <summary>Wraps a raw errno value. Any value is kept as is; unknown ones are simply unnamed.</summary>
    public static Errno FromRaw(int value) => (Errno)value;

    /// <summary>True for values a syscall can report (1..4095) and for <see cref="Errno.Success"/>.</summary>
    public static bool IsValid(this Errno errno) => (uint)errno <= MaxErrno;

    /// <summary>
    /// The symbolic name ("ECONNREFUSED"), or "errno N" for a value not named in <see cref="Errno"/>. For logs
    /// and messages, off the hot path.
    /// </summary>
    public static string GetName(this Errno errno) =>
        Enum.IsDefined(errno) ? errno.ToString() : "errno " + ((int)errno).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The C library's message for the value (strerror); allocates.</summary>
    public static string GetMessage(this Errno errno) => Marshal.GetPInvokeErrorMessage((int)errno);

    /// <summary>
    /// Maps to <see cref="SocketError"/> the way dotnet/runtime's SocketErrorPal.Unix does; values without a
    /// socket meaning fall back to <see cref="SocketError.SocketError"/>.
    /// </summary>
    public static SocketError ToSocketError(this Errno errno) => errno switch
    {
        Errno.Success => SocketError.Success,
        Errno.EINTR => SocketError.Interrupted,
        Errno.EACCES or Errno.EPERM => SocketError.AccessDenied,
        Errno.EFAULT => SocketError.Fault,
        Errno.EBADF or Errno.EINVAL => SocketError.InvalidArgument,
        Errno.EMFILE or Errno.ENFILE => SocketError.TooManyOpenSockets,
        Errno.EAGAIN => SocketError.WouldBlock,
        Errno.EINPROGRESS => SocketError.InProgress,
        Errno.EALREADY => SocketError.AlreadyInProgress,
        Errno.ENOTSOCK => SocketError.NotSocket,
        Errno.EDESTADDRREQ => SocketError.DestinationAddressRequired,
        Errno.EMSGSIZE => SocketError.MessageSize,
        Errno.EPROTOTYPE => SocketError.ProtocolType,
        Errno.ENOPROTOOPT => SocketError.ProtocolOption,
        Errno.EPROTONOSUPPORT => SocketError.ProtocolNotSupported,
        Errno.ESOCKTNOSUPPORT => SocketError.SocketNotSupported,
        Errno.EOPNOTSUPP => SocketError.OperationNotSupported,
        Errno.EPFNOSUPPORT => SocketError.ProtocolFamilyNotSupported,
        Errno.EAFNOSUPPORT => SocketError.AddressFamilyNotSupported,
        Errno.EADDRINUSE => SocketError.AddressAlreadyInUse,
        Errno.EADDRNOTAVAIL => SocketError.AddressNotAvailable,
        Errno.ENETDOWN => SocketError.NetworkDown,
        Errno.ENETUNREACH => SocketError.NetworkUnreachable,
        Errno.ENETRESET => SocketError.NetworkReset,
        Errno.ECONNABORTED => SocketError.ConnectionAborted,
        Errno.ECONNRESET or Errno.EPIPE => SocketError.ConnectionReset,
        Errno.ENOBUFS or Errno.ENOMEM => SocketError.NoBufferSpaceAvailable,
        Errno.EISCONN => SocketError.IsConnected,
        Errno.ENOTCONN => SocketError.NotConnected,
        Errno.ESHUTDOWN => SocketError.Shutdown,
        Errno.ETIMEDOUT => SocketError.TimedOut,
        Errno.ECONNREFUSED => SocketError.ConnectionRefused,
        Errno.EHOSTDOWN => SocketError.HostDown,
        Errno.EHOSTUNREACH => SocketError.HostUnreachable,
        Errno.ECANCELED => SocketError.OperationAborted,
        _ => SocketError.SocketError,
    };
}
