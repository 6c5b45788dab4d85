using System.Net;
using System.Net.Sockets;

namespace Istio.AppSwitch.Sniffing.Tests.Tools;

/// <summary>
/// A listener on 127.0.0.1 that never answers: it takes the first connection, keeps what the client sends until the
/// client pauses (it is then waiting for a reply that will not come: a ClientHello, a request, a command), and
/// closes. What the daemon peeks from an accepted connection is a prefix of these bytes.
/// </summary>
internal sealed class FirstBytesCapture : IDisposable
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(250);
    private const int MaxBytes = 64 * 1024;

    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

    public FirstBytesCapture()
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(4);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    /// <summary>The bytes the first client sent before it went quiet.</summary>
    /// <exception cref="TimeoutException">No client connected and sent something within <paramref name="timeout"/>.</exception>
    public async Task<byte[]> CaptureAsync(TimeSpan timeout)
    {
        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            using var connection = await _listener.AcceptAsync(cancellation.Token);
            using var received = new MemoryStream();
            var buffer = new byte[16 * 1024];
            while (received.Length < MaxBytes)
            {
                // Wait as long as it takes for the first bytes, then only for a pause.
                using var read = received.Length == 0
                    ? CancellationTokenSource.CreateLinkedTokenSource(cancellation.Token)
                    : new CancellationTokenSource(Quiet);
                int count;
                try
                {
                    count = await connection.ReceiveAsync(buffer, read.Token);
                }
                catch (OperationCanceledException) when (received.Length > 0 && !cancellation.IsCancellationRequested)
                {
                    break;
                }

                if (count == 0)
                {
                    break;
                }

                received.Write(buffer, 0, count);
            }

            return received.ToArray();
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"No client sent anything to port {Port} within {timeout}.");
        }
    }

    public void Dispose() => _listener.Dispose();
}
