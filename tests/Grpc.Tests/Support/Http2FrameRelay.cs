using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Istio.AppSwitch.Grpc.Tests.Support;

/// <summary>
/// A TCP relay on 127.0.0.1 between an h2c client and server that reads the HTTP/2 frame headers going from the
/// client to the server (RFC 9113 section 4.1: 24-bit length, type, flags, 31-bit stream id, after the 24-byte
/// client preface) and counts the PING frames the client sends. It can also stop delivering the server's bytes,
/// which looks to the client like a dead peer. Serves one connection.
/// </summary>
internal sealed class Http2FrameRelay : IAsyncDisposable
{
    private const int FrameHeaderLength = 9;
    private const int ClientPrefaceLength = 24;
    private const byte PingFrameType = 0x6;
    private const byte AckFlag = 0x1;

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _serverPort;
    private readonly CancellationTokenSource _stop = new();
    private Task _relay = Task.CompletedTask;
    private int _clientPings;
    private volatile bool _dropServerBytes;

    private Http2FrameRelay(int serverPort) => _serverPort = serverPort;

    public Uri Address => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");

    /// <summary>PING frames (not acknowledgements) the client has sent so far.</summary>
    public int ClientPings => Volatile.Read(ref _clientPings);

    public static Http2FrameRelay Start(int serverPort)
    {
        var relay = new Http2FrameRelay(serverPort);
        relay._listener.Start();
        relay._relay = relay.RelayAsync();
        return relay;
    }

    /// <summary>From now on, swallow what the server sends: no data, no PING acknowledgements.</summary>
    public void DropServerBytes() => _dropServerBytes = true;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _relay;
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
        }

        _stop.Dispose();
    }

    private async Task RelayAsync()
    {
        using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
        using var server = new TcpClient();
        await server.ConnectAsync(IPAddress.Loopback, _serverPort, _stop.Token);
        var toServer = PumpAsync(client.GetStream(), server.GetStream(), countFrames: true);
        var toClient = PumpAsync(server.GetStream(), client.GetStream(), countFrames: false);
        await Task.WhenAny(toServer, toClient);
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to, bool countFrames)
    {
        var buffer = new byte[64 * 1024];
        var parser = new FrameParser(this);
        while (true)
        {
            var read = await from.ReadAsync(buffer, _stop.Token);
            if (read == 0)
            {
                return;
            }

            if (countFrames)
            {
                parser.Feed(buffer.AsSpan(0, read));
            }
            else if (_dropServerBytes)
            {
                continue;
            }

            await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
        }
    }

    // Follows frame boundaries across reads: only the 9-byte headers are kept, payloads are skipped.
    private sealed class FrameParser(Http2FrameRelay relay)
    {
        private readonly byte[] _header = new byte[FrameHeaderLength];
        private int _prefaceLeft = ClientPrefaceLength;
        private int _headerFilled;
        private long _payloadLeft;

        public void Feed(ReadOnlySpan<byte> data)
        {
            while (!data.IsEmpty)
            {
                if (_prefaceLeft > 0)
                {
                    var skip = Math.Min(_prefaceLeft, data.Length);
                    _prefaceLeft -= skip;
                    data = data[skip..];
                }
                else if (_payloadLeft > 0)
                {
                    var skip = (int)Math.Min(_payloadLeft, data.Length);
                    _payloadLeft -= skip;
                    data = data[skip..];
                }
                else
                {
                    var take = Math.Min(FrameHeaderLength - _headerFilled, data.Length);
                    data[..take].CopyTo(_header.AsSpan(_headerFilled));
                    _headerFilled += take;
                    data = data[take..];
                    if (_headerFilled == FrameHeaderLength)
                    {
                        _headerFilled = 0;
                        _payloadLeft = BinaryPrimitives.ReadUInt32BigEndian(_header) >> 8;
                        var type = _header[3];
                        var flags = _header[4];
                        if (type == PingFrameType && (flags & AckFlag) == 0)
                        {
                            Interlocked.Increment(ref relay._clientPings);
                        }
                    }
                }
            }
        }
    }
}
