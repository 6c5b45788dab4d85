using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace Istio.AppSwitch.ProxyProtocol.Tests.Interop;

/// <summary>
/// A TCP server on 127.0.0.1 and a port the system picks, that runs a handler per connection and reports what each
/// one produced (or how it failed) in arrival order. Disposing stops it and closes every connection.
/// </summary>
/// <typeparam name="T">What a connection produces.</typeparam>
internal sealed class LoopbackServer<T> : IDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly Channel<Task<T>> _results = Channel.CreateUnbounded<Task<T>>();
    private readonly CancellationTokenSource _stop = new();
    private readonly Func<Socket, CancellationToken, Task<T>> _handler;

    public LoopbackServer(Func<Socket, CancellationToken, Task<T>> handler)
    {
        _handler = handler;
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(16);
        _ = AcceptLoopAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    /// <summary>The number of connections accepted so far.</summary>
    public int Connections { get; private set; }

    /// <summary>What the next connection produced; its exception if the handler failed.</summary>
    /// <exception cref="TimeoutException">No connection finished in time.</exception>
    public async Task<T> NextAsync(TimeSpan timeout)
    {
        using var cancellation = new CancellationTokenSource(timeout);
        Task<T> result;
        try
        {
            result = await _results.Reader.ReadAsync(cancellation.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"No connection reached the test server on port {Port} within {timeout}.");
        }

        return await result.WaitAsync(timeout);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket connection;
            try
            {
                connection = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            Connections++;
            _results.Writer.TryWrite(HandleAsync(connection));
        }
    }

    private async Task<T> HandleAsync(Socket connection)
    {
        using (connection)
        {
            return await _handler(connection, _stop.Token);
        }
    }
}

/// <summary>Handlers for <see cref="LoopbackServer{T}"/>.</summary>
internal static class Handlers
{
    /// <summary>Echoes everything back until the peer closes, and returns what came.</summary>
    public static async Task<byte[]> EchoAsync(Socket connection, CancellationToken cancellationToken)
    {
        using var received = new MemoryStream();
        var buffer = new byte[4096];
        int read;
        while ((read = await connection.ReceiveAsync(buffer, cancellationToken)) > 0)
        {
            received.Write(buffer, 0, read);
            await connection.SendAsync(buffer.AsMemory(0, read), cancellationToken);
        }

        return received.ToArray();
    }

    /// <summary>Reads a PROXY header with ax's reader, then echoes the payload back until the peer closes.</summary>
    public static async Task<(ProxyHeader Header, byte[] Payload)> ReadHeaderThenEchoAsync(Socket connection, CancellationToken cancellationToken)
    {
        var header = await ProxyProtocolReader.ReadAsync(connection, TimeSpan.FromSeconds(30), cancellationToken);
        return (header, await EchoAsync(connection, cancellationToken));
    }
}
