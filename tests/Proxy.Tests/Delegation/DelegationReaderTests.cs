using System.Runtime.InteropServices;
using Istio.AppSwitch.Delegation;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Proxy.Tests.Delegation;

/// <summary>The channel and the reader on a real Unix socket pair, with real fds in flight.</summary>
public sealed class DelegationReaderTests : IDisposable
{
    private static readonly byte[] Metadata = TestSupport.Header("127.0.0.1:40000", "127.0.0.2:80");

    private readonly EpollReactor _reactor = new("test-delegation");
    private readonly SafeFd _daemonEnd;
    private readonly DelegationReader _reader;

    public DelegationReaderTests()
    {
        Assert.Equal(Errno.Success, UnixRights.StreamPair(nonBlocking: true, out var daemonEnd, out var sidecarEnd));
        _daemonEnd = daemonEnd!;
        _reader = new DelegationReader(sidecarEnd!, _reactor);
    }

    [Fact]
    public async Task ReadAsync_InboundFrameFromChannel_FdsCarryBytes()
    {
        var channel = new DelegationChannel(_daemonEnd);
        var (application, peer) = TestSupport.Pair();
        var (client, accepted) = TestSupport.Pair();
        using (peer)
        using (accepted)
        {
            Assert.Equal(DelegationSendResult.Sent, channel.TrySend(DelegationKind.Inbound, 42, Metadata, peer, accepted));
        }

        using var frame = await _reader.ReadAsync().AsTask().WaitAsync(TestSupport.Timeout);

        Assert.NotNull(frame);
        Assert.Equal(DelegationKind.Inbound, frame.Kind);
        Assert.Equal(42UL, frame.Id);
        Assert.Equal(Metadata, frame.Metadata.ToArray());
        Assert.NotNull(frame.AcceptedSocket);
        var (peerEnd, acceptedEnd) = frame.TakeFds();
        using var app = TestSupport.ToSocket(application);
        using var peerSocket = TestSupport.ToSocket(peerEnd);
        await app.SendAsync("to the sidecar"u8.ToArray());
        Assert.Equal("to the sidecar"u8.ToArray(), await TestSupport.ReadExactlyAsync(peerSocket, 14));
        using var remote = TestSupport.ToSocket(client);
        using var acceptedSocket = TestSupport.ToSocket(acceptedEnd!);
        await acceptedSocket.SendAsync("from the network"u8.ToArray());
        Assert.Equal("from the network"u8.ToArray(), await TestSupport.ReadExactlyAsync(remote, 16));
    }

    [Fact]
    public async Task ReadAsync_SenderClosesBetweenFrames_Null()
    {
        _daemonEnd.Dispose();

        Assert.Null(await _reader.ReadAsync().AsTask().WaitAsync(TestSupport.Timeout));
    }

    public static TheoryData<string, DelegationErrorKind> Malformed => new()
    {
        { "garbage", DelegationErrorKind.BadMagic },
        { "truncated", DelegationErrorKind.Truncated },
        { "bad-metadata", DelegationErrorKind.BadMetadata },
        { "missing-fd", DelegationErrorKind.BadFdCount },
        { "extra-fds", DelegationErrorKind.BadFdCount },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task ReadAsync_MalformedFrame_ProtocolErrorAndFdsClosed(string how, DelegationErrorKind expected)
    {
        // The fd sent along is a pipe's write end: once every copy is closed, the read end reports a hang-up. Ours is
        // closed right after sending, so a hang-up proves that the reader closed the one it received.
        Assert.Equal(Errno.Success, UnixRights.Pipe(out var pipeRead, out var pipeWrite));
        using var watch = pipeRead!;
        var frame = new byte[DelegationFrameCodec.FixedLength + Metadata.Length];
        var kind = how == "missing-fd" ? DelegationKind.Inbound : DelegationKind.Outbound;
        DelegationFrameCodec.Encode(frame, kind, 7, Metadata);
        var bytes = how switch
        {
            "garbage" => "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"u8.ToArray(),
            "truncated" => frame[..10],
            "bad-metadata" => [.. frame[..DelegationFrameCodec.FixedLength], .. new byte[Metadata.Length]],
            _ => frame,
        };
        using (pipeWrite)
        {
            SafeHandle[] fds = how == "extra-fds" ? [pipeWrite!, pipeWrite!, pipeWrite!] : [pipeWrite!];
            Assert.Equal(Errno.Success, UnixRights.Send(_daemonEnd, bytes, fds, out var sent));
            Assert.Equal(bytes.Length, sent);
        }
        if (how == "truncated")
        {
            Sockets.Shutdown(_daemonEnd, SocketConstants.SHUT_WR);
        }

        var error = await Assert.ThrowsAsync<DelegationProtocolException>(() => _reader.ReadAsync().AsTask().WaitAsync(TestSupport.Timeout));

        Assert.Equal(expected, error.Kind);
        Assert.Equal(Errno.Success, Sockets.Poll(watch, EpollEvents.In, 5000, out var ready));
        Assert.True((ready & EpollEvents.Hup) != 0, $"the received fd was not closed ({ready})");
        await Assert.ThrowsAsync<DelegationProtocolException>(() => _reader.ReadAsync().AsTask());
    }

    [Fact]
    public void TrySend_NobodyReads_BusyOnceFullThenSentAfterReading()
    {
        var channel = new DelegationChannel(_daemonEnd);
        var (application, peer) = TestSupport.Pair();
        using (application)
        using (peer)
        {
            DelegationSendResult result;
            var sent = 0;
            while ((result = channel.TrySend(DelegationKind.Outbound, (ulong)sent, Metadata, peer, null)) == DelegationSendResult.Sent)
            {
                sent++;
                Assert.True(sent < 100_000, "the socket never filled up");
            }

            Assert.Equal(DelegationSendResult.Busy, result);
            Assert.False(channel.IsBroken);
            Assert.True(sent > 10, $"only {sent} frames fit");
        }
    }

    [Fact]
    public async Task TrySend_ReceiverGone_FailedAndBroken()
    {
        var channel = new DelegationChannel(_daemonEnd);
        var (application, peer) = TestSupport.Pair();
        _reader.Dispose();
        using (application)
        using (peer)
        {
            Assert.Equal(DelegationSendResult.Failed, channel.TrySend(DelegationKind.Outbound, 1, Metadata, peer, null));
        }

        Assert.True(channel.IsBroken);
        await channel.Completion.WaitAsync(TestSupport.Timeout);
    }

    public void Dispose()
    {
        _reader.Dispose();
        _daemonEnd.Dispose();
        _reactor.Dispose();
    }
}
