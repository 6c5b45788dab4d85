using System.Net;
using System.Net.Sockets;

namespace Istio.AppSwitch.Sniffing.Tests.Tools;

/// <summary>Asks a loopback server one question: sends bytes and returns its first reply line (empty if it closes
/// without one).</summary>
internal static class LineClient
{
    public static async Task<byte[]> AskAsync(int port, byte[] bytes)
    {
        using var cancellation = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellation.Token);
        await socket.SendAsync(bytes, cancellation.Token);
        using var reply = new MemoryStream();
        var buffer = new byte[4096];
        while (reply.Length == 0 || reply.GetBuffer()[reply.Length - 1] != '\n')
        {
            var count = await socket.ReceiveAsync(buffer, cancellation.Token);
            if (count == 0)
            {
                break;
            }

            reply.Write(buffer, 0, count);
        }

        return reply.ToArray();
    }
}
