using System.Runtime.InteropServices;
using Istio.AppSwitch.Interop;
using static Istio.AppSwitch.Interop.SocketConstants;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>
/// Carries the options an application set on its socket over to the socket ax connects for it, so that the
/// installed socket behaves as the one the application configured (keepalive, Nagle, buffer sizes, timeouts).
/// </summary>
/// <remarks>
/// Only options that differ from a fresh socket's value are copied. The kernel cannot say whether an option was
/// set, and copying a default is not harmless: setting <c>SO_RCVBUF</c> locks the buffer size and turns off
/// autotuning. The defaults are read once per address family at start-up, so each copy costs one
/// <c>getsockopt</c> per option, on the application's socket only.
/// </remarks>
internal sealed class SocketOptionCopier
{
    private const int IPPROTO_IP = 0;
    private const int IPPROTO_IPV6 = 41;

    /// <summary>The options copied, in the order they must be applied (V6ONLY before connect matters).</summary>
    internal static readonly (int Level, int Name, int Size, string Label)[] Options =
    [
        (IPPROTO_IPV6, 26, 4, "IPV6_V6ONLY"),
        (SOL_SOCKET, SO_KEEPALIVE, 4, "SO_KEEPALIVE"),
        (SOL_SOCKET, SO_RCVBUF, 4, "SO_RCVBUF"),
        (SOL_SOCKET, SO_SNDBUF, 4, "SO_SNDBUF"),
        (SOL_SOCKET, SO_LINGER, 8, "SO_LINGER"),
        (SOL_SOCKET, SO_REUSEADDR, 4, "SO_REUSEADDR"),
        (SOL_SOCKET, 12, 4, "SO_PRIORITY"),
        (SOL_SOCKET, 10, 4, "SO_OOBINLINE"),
        (SOL_SOCKET, 20, 16, "SO_RCVTIMEO"),
        (SOL_SOCKET, 21, 16, "SO_SNDTIMEO"),
        (IPPROTO_TCP, TCP_NODELAY, 4, "TCP_NODELAY"),
        (IPPROTO_TCP, 4, 4, "TCP_KEEPIDLE"),
        (IPPROTO_TCP, 5, 4, "TCP_KEEPINTVL"),
        (IPPROTO_TCP, 6, 4, "TCP_KEEPCNT"),
        (IPPROTO_TCP, 18, 4, "TCP_USER_TIMEOUT"),
        (IPPROTO_IP, 1, 4, "IP_TOS"),
        (IPPROTO_IPV6, 67, 4, "IPV6_TCLASS"),
    ];

    private readonly byte[] _defaultsV4;
    private readonly byte[] _defaultsV6;

    public SocketOptionCopier()
    {
        _defaultsV4 = ReadDefaults(AF_INET);
        _defaultsV6 = ReadDefaults(AF_INET6);
    }

    /// <summary>Copies every option of <paramref name="from"/> that differs from the default onto <paramref name="to"/>.</summary>
    public void Copy(SafeHandle from, SafeHandle to, int domain)
    {
        var defaults = domain == AF_INET6 ? _defaultsV6 : _defaultsV4;
        Span<byte> value = stackalloc byte[16];
        var offset = 0;
        foreach (var (level, name, size, _) in Options)
        {
            var slot = defaults.AsSpan(offset, size);
            offset += size;
            if (level == IPPROTO_IPV6 && domain != AF_INET6)
            {
                continue;
            }
            if (Sockets.GetSockOpt(from, level, name, value[..size], out var length) != Errno.Success || length != size
                || value[..size].SequenceEqual(slot))
            {
                continue;
            }
            if (name is SO_RCVBUF or SO_SNDBUF && level == SOL_SOCKET)
            {
                // getsockopt reports twice what setsockopt was given (the kernel doubles it for bookkeeping).
                var doubled = BitConverter.ToInt32(value);
                BitConverter.TryWriteBytes(value, doubled / 2);
            }
            // A failure leaves the kernel default: the connection still works, as it would for an application
            // whose setsockopt was refused.
            Sockets.SetSockOpt(to, level, name, value[..size]);
        }
    }

    /// <summary>The application's <c>SO_SNDTIMEO</c>, which bounds a blocking connect; zero when unset.</summary>
    public static TimeSpan ReadSendTimeout(SafeHandle socket)
    {
        Span<byte> timeval = stackalloc byte[16];
        if (Sockets.GetSockOpt(socket, SOL_SOCKET, 21, timeval, out var length) != Errno.Success || length != 16)
        {
            return TimeSpan.Zero;
        }
        var seconds = BitConverter.ToInt64(timeval);
        var microseconds = BitConverter.ToInt64(timeval[8..]);
        return TimeSpan.FromSeconds(seconds) + TimeSpan.FromMicroseconds(microseconds);
    }

    private static byte[] ReadDefaults(int domain)
    {
        var total = 0;
        foreach (var option in Options)
        {
            total += option.Size;
        }
        var defaults = new byte[total];
        if (Sockets.Create(domain, SOCK_STREAM, 0, nonBlocking: false, closeOnExec: true, out var socket) != Errno.Success)
        {
            return defaults;
        }
        using (socket)
        {
            var offset = 0;
            foreach (var (level, name, size, _) in Options)
            {
                Sockets.GetSockOpt(socket!, level, name, defaults.AsSpan(offset, size), out _);
                offset += size;
            }
        }
        return defaults;
    }
}
