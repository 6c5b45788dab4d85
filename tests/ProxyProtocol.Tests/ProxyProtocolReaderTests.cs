using System.Net;
using System.Net.Sockets;
using static Istio.AppSwitch.ProxyProtocol.Tests.Vectors;

namespace Istio.AppSwitch.ProxyProtocol.Tests;

public class ProxyProtocolReaderTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    public static TheoryData<string> Headers => new()
    {
        HaproxyCapture,
        Convert.ToHexString(Ascii("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n")),
        Convert.ToHexString(Ascii("PROXY UNKNOWN\r\n")),
        Convert.ToHexString(Ascii("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ::1 65535 1\r\n")),
        "0D0A0D0A000D0A515549540A 20 00 0000",
    };

    [Theory]
    [MemberData(nameof(Headers))]
    public async Task ReadAsync_Socket_HeaderAndPayloadInOneSegment_LeavesPayload(string headerHex)
    {
        var header = Bytes(headerHex);
        var payload = "\r\n\r\nPAYLOAD after the header\r\n"u8.ToArray();
        using var pair = await SocketPair.CreateAsync();
        await pair.Client.SendAsync((byte[])[.. header, .. payload]);

        var parsed = await ProxyProtocolReader.ReadAsync(pair.Server, Generous);

        Assert.Equal(header.Length, parsed.Length);
        pair.Client.Shutdown(SocketShutdown.Send);
        Assert.Equal(payload, await ReadToEndAsync(new NetworkStream(pair.Server)));
    }

    [Theory]
    [MemberData(nameof(Headers))]
    public async Task ReadAsync_NetworkStream_HeaderAndPayloadInOneSegment_LeavesPayload(string headerHex)
    {
        var header = Bytes(headerHex);
        var payload = "PAYLOAD"u8.ToArray();
        using var pair = await SocketPair.CreateAsync();
        await pair.Client.SendAsync((byte[])[.. header, .. payload]);
        using var stream = new NetworkStream(pair.Server);

        var parsed = await ProxyProtocolReader.ReadAsync(stream, Generous);

        Assert.Equal(header.Length, parsed.Length);
        pair.Client.Shutdown(SocketShutdown.Send);
        Assert.Equal(payload, await ReadToEndAsync(stream));
    }

    [Theory]
    [MemberData(nameof(Headers))]
    public async Task ReadAsync_PlainStream_ReadsExactlyTheHeader(string headerHex)
    {
        var header = Bytes(headerHex);
        using var stream = new GreedyStream([.. header, .. "PAYLOAD"u8]);

        var parsed = await ProxyProtocolReader.ReadAsync(stream, Generous);

        Assert.Equal(header.Length, parsed.Length);
        Assert.Equal(header.Length, stream.Position);
    }

    [Theory]
    [MemberData(nameof(Headers))]
    public async Task ReadAsync_Socket_HeaderTrickles_Assembled(string headerHex)
    {
        var header = Bytes(headerHex);
        using var pair = await SocketPair.CreateAsync();
        var reading = ProxyProtocolReader.ReadAsync(pair.Server, Generous).AsTask();

        // A byte at a time, with pauses, so that the reader sees every fragment boundary.
        foreach (var b in header)
        {
            await pair.Client.SendAsync(new[] { b });
            await Task.Delay(2);
        }
        await pair.Client.SendAsync("X"u8.ToArray());

        Assert.Equal(header.Length, (await reading).Length);
        var rest = new byte[1];
        Assert.Equal(1, await pair.Server.ReceiveAsync(rest));
        Assert.Equal((byte)'X', rest[0]);
    }

    [Fact]
    public async Task ReadAsync_ServerSpeaksFirst_ReturnsWithoutWaitingForPayload()
    {
        // Nothing follows the header until the server has spoken (SMTP, MySQL): the reader must not wait for more.
        using var pair = await SocketPair.CreateAsync();
        await pair.Client.SendAsync(Ascii("PROXY UNKNOWN\r\n"));

        var parsed = await ProxyProtocolReader.ReadAsync(pair.Server, Generous);

        Assert.Equal(15, parsed.Length);
    }

    [Fact]
    public async Task ReadAsync_PartialHeaderThenSilence_Timeout()
    {
        using var pair = await SocketPair.CreateAsync();
        await pair.Client.SendAsync(Bytes(HaproxyCapture)[..40]);

        var exception = await Assert.ThrowsAsync<ProxyProtocolException>(
            async () => await ProxyProtocolReader.ReadAsync(pair.Server, TimeSpan.FromMilliseconds(300)));

        Assert.Equal(ProxyProtocolErrorKind.Timeout, exception.Kind);
    }

    [Fact]
    public async Task ReadAsync_PartialV1ThenSilence_Timeout()
    {
        using var pair = await SocketPair.CreateAsync();
        await pair.Client.SendAsync(Ascii("PROXY TCP4 1.2.3.4"));

        var exception = await Assert.ThrowsAsync<ProxyProtocolException>(
            async () => await ProxyProtocolReader.ReadAsync(new NetworkStream(pair.Server), TimeSpan.FromMilliseconds(300)));

        Assert.Equal(ProxyProtocolErrorKind.Timeout, exception.Kind);
    }

    [Fact]
    public async Task ReadAsync_PeerClosesMidHeader_ConnectionClosed()
    {
        using var pair = await SocketPair.CreateAsync();
        await pair.Client.SendAsync(Bytes(HaproxyCapture)[..20]);
        pair.Client.Shutdown(SocketShutdown.Send);

        var exception = await Assert.ThrowsAsync<ProxyProtocolException>(async () => await ProxyProtocolReader.ReadAsync(pair.Server, Generous));

        Assert.Equal(ProxyProtocolErrorKind.ConnectionClosed, exception.Kind);
    }

    [Fact]
    public async Task ReadAsync_PeerClosesMidV1Line_ConnectionClosed()
    {
        using var pair = await SocketPair.CreateAsync();
        await pair.Client.SendAsync(Ascii("PROXY TCP4 1.2.3.4 5.6.7.8"));
        pair.Client.Shutdown(SocketShutdown.Send);

        var exception = await Assert.ThrowsAsync<ProxyProtocolException>(async () => await ProxyProtocolReader.ReadAsync(pair.Server, Generous));

        Assert.Equal(ProxyProtocolErrorKind.ConnectionClosed, exception.Kind);
    }

    [Fact]
    public async Task ReadAsync_HttpInsteadOfHeader_RejectedAtOnce()
    {
        using var pair = await SocketPair.CreateAsync();
        await pair.Client.SendAsync(Ascii("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));

        var exception = await Assert.ThrowsAsync<ProxyProtocolException>(async () => await ProxyProtocolReader.ReadAsync(pair.Server, Generous));

        Assert.Equal(ProxyProtocolErrorKind.InvalidSignature, exception.Kind);
    }

    [Fact]
    public async Task ReadAsync_V1LineTooLong_HeaderTooLong()
    {
        using var pair = await SocketPair.CreateAsync();
        await pair.Client.SendAsync(Ascii("PROXY UNKNOWN " + new string('x', 200) + "\r\n"));

        var exception = await Assert.ThrowsAsync<ProxyProtocolException>(async () => await ProxyProtocolReader.ReadAsync(pair.Server, Generous));

        Assert.Equal(ProxyProtocolErrorKind.HeaderTooLong, exception.Kind);
    }

    [Fact]
    public async Task ReadAsync_V2LengthOverLimit_RejectedAfterPrefix()
    {
        // Only the prefix is sent: the length alone must be enough to reject.
        using var pair = await SocketPair.CreateAsync();
        await pair.Client.SendAsync(Bytes("0D0A0D0A000D0A515549540A 21 11 FFFF"));

        var exception = await Assert.ThrowsAsync<ProxyProtocolException>(async () => await ProxyProtocolReader.ReadAsync(pair.Server, Generous));

        Assert.Equal(ProxyProtocolErrorKind.HeaderTooLong, exception.Kind);
    }

    [Fact]
    public async Task ReadAsync_CallerCancels_OperationCanceled()
    {
        using var pair = await SocketPair.CreateAsync();
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            async () => await ProxyProtocolReader.ReadAsync(pair.Server, Generous, cancellation.Token));
    }

    [Fact]
    public async Task ReadAsync_Limits_Applied()
    {
        using var stream = new GreedyStream(Ascii("PROXY UNKNOWN\r\n"));

        var exception = await Assert.ThrowsAsync<ProxyProtocolException>(
            async () => await ProxyProtocolReader.ReadAsync(stream, new ProxyProtocolLimits { AllowV1 = false }, Generous));

        Assert.Equal(ProxyProtocolErrorKind.VersionNotAllowed, exception.Kind);
    }

    private static async Task<byte[]> ReadToEndAsync(Stream stream)
    {
        using var copy = new MemoryStream();
        using var timeout = new CancellationTokenSource(Generous);
        await stream.CopyToAsync(copy, timeout.Token);
        return copy.ToArray();
    }

    /// <summary>A stream that hands out as much as the caller asks for: any over-read would show in its position.</summary>
    private sealed class GreedyStream(byte[] data) : MemoryStream(data, writable: false);
}

/// <summary>Two connected TCP sockets on 127.0.0.1.</summary>
internal sealed class SocketPair : IDisposable
{
    private SocketPair(Socket client, Socket server)
    {
        Client = client;
        Server = server;
    }

    public Socket Client { get; }

    public Socket Server { get; }

    public static async Task<SocketPair> CreateAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var accepting = listener.AcceptAsync();
        await client.ConnectAsync(listener.LocalEndPoint!);
        return new SocketPair(client, await accepting);
    }

    public void Dispose()
    {
        Client.Dispose();
        Server.Dispose();
    }
}
