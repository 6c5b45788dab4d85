using System.Net.Sockets;
using System.Runtime.InteropServices;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Delegation;

/// <summary>
/// Async helpers over raw nonblocking fds: try the call, and on EAGAIN wait for readiness on an
/// <see cref="EpollReactor"/>. Used by the reader, the client and the proxy, which all hold raw fds (received with
/// SCM_RIGHTS, or spliced) that cannot be wrapped in a <see cref="Socket"/> without losing control of O_NONBLOCK.
/// </summary>
public static class AsyncSocket
{
    /// <summary>Creates a nonblocking, close-on-exec stream socket of <paramref name="family"/> and connects it.</summary>
    /// <exception cref="SocketException">socket(2) or connect(2) failed.</exception>
    public static async ValueTask<SafeFd> ConnectAsync(int family, byte[] sockaddr, EpollReactor reactor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reactor);
        var error = Sockets.Create(family, SocketConstants.SOCK_STREAM, 0, nonBlocking: true, closeOnExec: true, out var socket);
        if (error != Errno.Success)
        {
            throw new SocketException((int)error.ToSocketError());
        }
        try
        {
            error = Sockets.Connect(socket!, sockaddr);
            for (var attempt = 0; error == Errno.EAGAIN && attempt < 100; attempt++)
            {
                // A Unix listener with a full backlog refuses a nonblocking connect with EAGAIN: nothing is in
                // progress, so try again shortly.
                await Task.Delay(10, cancellationToken).ConfigureAwait(false);
                error = Sockets.Connect(socket!, sockaddr);
            }
            if (error == Errno.EINPROGRESS)
            {
                // TCP: the handshake finishes by making the socket writable, with the outcome in SO_ERROR.
                await reactor.WaitAsync(socket!, EpollEvents.Out, cancellationToken).ConfigureAwait(false);
                Sockets.GetIntOption(socket!, SocketConstants.SOL_SOCKET, SocketConstants.SO_ERROR, out var pending);
                error = (Errno)pending;
            }
            if (error != Errno.Success)
            {
                throw new SocketException((int)error.ToSocketError());
            }
            return socket!;
        }
        catch
        {
            socket!.Dispose();
            throw;
        }
    }

    /// <summary>Connects to a Unix stream socket at <paramref name="path"/>.</summary>
    /// <exception cref="SocketException">The connect failed (ENOENT, ECONNREFUSED, EACCES...).</exception>
    public static ValueTask<SafeFd> ConnectUnixAsync(string path, EpollReactor reactor, CancellationToken cancellationToken)
    {
        var sockaddr = new byte[110];
        if (Sockets.WriteUnixSockaddr(path, sockaddr, out var length) != Errno.Success)
        {
            throw new ArgumentException($"\"{path}\" is not a valid Unix socket path (1 to 107 bytes).", nameof(path));
        }
        return ConnectAsync(SocketConstants.AF_UNIX, sockaddr[..length], reactor, cancellationToken);
    }

    /// <summary>Sends all of <paramref name="data"/>, waiting for writability as needed.</summary>
    /// <exception cref="SocketException">send(2) failed.</exception>
    public static async ValueTask SendAllAsync(SafeHandle socket, ReadOnlyMemory<byte> data, EpollReactor reactor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reactor);
        var offset = 0;
        while (offset < data.Length)
        {
            var error = Sockets.Send(socket, data.Span[offset..], SocketConstants.MSG_DONTWAIT, out var sent);
            if (error == Errno.EAGAIN)
            {
                await reactor.WaitAsync(socket, EpollEvents.Out, cancellationToken).ConfigureAwait(false);
                continue;
            }
            if (error != Errno.Success)
            {
                throw new SocketException((int)error.ToSocketError());
            }
            offset += sent;
        }
    }

    /// <summary>Receives what is there (at least one byte), waiting for readability as needed; 0 is end of stream.</summary>
    /// <exception cref="SocketException">recv(2) failed.</exception>
    public static async ValueTask<int> ReceiveAsync(SafeHandle socket, Memory<byte> buffer, EpollReactor reactor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reactor);
        while (true)
        {
            var error = Sockets.Receive(socket, buffer.Span, SocketConstants.MSG_DONTWAIT, out var received);
            if (error == Errno.EAGAIN)
            {
                await reactor.WaitAsync(socket, EpollEvents.In, cancellationToken).ConfigureAwait(false);
                continue;
            }
            if (error != Errno.Success)
            {
                throw new SocketException((int)error.ToSocketError());
            }
            return received;
        }
    }
}
