using System.Net;
using System.Net.Sockets;

namespace Istio.AppSwitch.Interop.Tests.Kernel;

internal static class TestSockets
{
    /// <summary>A virtual IP in 127.96.0.0/16: loopback, so that even a failed interception sends nothing out.</summary>
    public static readonly InetEndpoint Vip = InetEndpoint.FromIPEndPoint(new IPEndPoint(IPAddress.Parse("127.96.0.1"), 9));

    public static TcpListener StartListener()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return listener;
    }

    public static InetEndpoint EndpointOf(TcpListener listener) =>
        InetEndpoint.FromIPEndPoint((IPEndPoint)listener.LocalEndpoint);

    /// <summary>A TCP socket of our own, connected (blocking) to <paramref name="endpoint"/>.</summary>
    public static SafeFd ConnectTcp(InetEndpoint endpoint, bool nonBlocking = false)
    {
        Assert.Equal(Errno.Success, Sockets.Create(endpoint.Family, SocketConstants.SOCK_STREAM, 0, nonBlocking, closeOnExec: true, out SafeFd? socket));
        Span<byte> sockaddr = stackalloc byte[SocketConstants.SockaddrIn6Size];
        int length = endpoint.Write(sockaddr);
        Errno error = Sockets.Connect(socket!, sockaddr[..length]);
        Assert.True(error == Errno.Success || (nonBlocking && error == Errno.EINPROGRESS), $"connect: {error}");
        return socket!;
    }

    public static Errno Connect(SafeFd socket, InetEndpoint endpoint)
    {
        Span<byte> sockaddr = stackalloc byte[SocketConstants.SockaddrIn6Size];
        int length = endpoint.Write(sockaddr);
        return Sockets.Connect(socket, sockaddr[..length]);
    }

    public static SafeFd NewTcpSocket(bool nonBlocking = false)
    {
        Assert.Equal(Errno.Success, Sockets.Create(SocketConstants.AF_INET, SocketConstants.SOCK_STREAM, 0, nonBlocking, closeOnExec: true, out SafeFd? socket));
        return socket!;
    }

    public static async Task<byte[]> ReadExactlyAsync(Socket socket, int count)
    {
        var buffer = new byte[count];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        int total = 0;
        while (total < count)
        {
            int received = await socket.ReceiveAsync(buffer.AsMemory(total), SocketFlags.None, timeout.Token).ConfigureAwait(false);
            if (received == 0)
            {
                throw new EndOfStreamException($"The peer closed after {total} of {count} bytes.");
            }

            total += received;
        }

        return buffer;
    }
}
