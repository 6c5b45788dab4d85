namespace Istio.AppSwitch.Interop.Tests.Kernel;

public sealed class UnixRightsTests
{
    [Fact]
    public void SendReceive_TwoFds_ReceiverGetsWorkingDuplicates()
    {
        Assert.Equal(Errno.Success, UnixRights.StreamPair(nonBlocking: true, out var sender, out var receiver));
        Assert.Equal(Errno.Success, UnixRights.StreamPair(nonBlocking: false, out var carried, out var carriedPeer));
        Assert.Equal(Errno.Success, UnixRights.Pipe(out var pipeRead, out var pipeWrite));
        using (sender)
        using (receiver)
        using (carriedPeer)
        using (pipeRead)
        {
            using (carried)
            using (pipeWrite)
            {
                Assert.Equal(Errno.Success, UnixRights.Send(sender!, "frame"u8, [carried!, pipeWrite!], out var sent));
                Assert.Equal(5, sent);
            }

            var data = new byte[16];
            var fds = new SafeFd?[UnixRights.MaxFdsPerMessage];
            Assert.Equal(Errno.Success, UnixRights.Receive(receiver!, data, fds, out var received, out var fdCount));
            Assert.Equal("frame", System.Text.Encoding.ASCII.GetString(data, 0, received));
            Assert.Equal(2, fdCount);
            using var gotSocket = fds[0]!;
            using var gotPipe = fds[1]!;

            // Our copies are closed: only the received duplicates keep the socket and the pipe's write end alive.
            Assert.Equal(Errno.Success, Sockets.Send(gotSocket, "ping"u8, 0, out _));
            Assert.Equal(Errno.Success, Sockets.Receive(carriedPeer!, data, 0, out received));
            Assert.Equal("ping", System.Text.Encoding.ASCII.GetString(data, 0, received));
            Assert.Equal(Errno.Success, Sockets.GetDescriptorFlags(gotSocket, out var descriptorFlags));
            Assert.Equal(1, descriptorFlags & 1); // FD_CLOEXEC, from MSG_CMSG_CLOEXEC
            gotPipe.Dispose();
            Assert.Equal(Errno.Success, Sockets.Poll(pipeRead!, EpollEvents.In, 1000, out var ready));
            Assert.True((ready & EpollEvents.Hup) != 0, $"the pipe should have no writer left: {ready}");
        }
    }

    [Fact]
    public void Send_SocketFull_EagainAndNothingSent()
    {
        Assert.Equal(Errno.Success, UnixRights.StreamPair(nonBlocking: false, out var sender, out var receiver));
        using (sender)
        using (receiver)
        {
            var chunk = new byte[4096];
            Errno error;
            var total = 0;
            int sent;
            // MSG_DONTWAIT: the socket itself is blocking, yet the call must not block.
            while ((error = UnixRights.Send(sender!, chunk, [receiver!], out sent)) == Errno.Success)
            {
                total += sent;
                Assert.True(total < 64 * 1024 * 1024, "the socket never filled up");
            }

            Assert.Equal(Errno.EAGAIN, error);
            Assert.Equal(0, sent);
        }
    }

    [Fact]
    public void Send_TooManyFdsOrFdsWithoutData_Einval()
    {
        Assert.Equal(Errno.Success, UnixRights.StreamPair(nonBlocking: true, out var a, out var b));
        using (a)
        using (b)
        {
            Assert.Equal(Errno.EINVAL, UnixRights.Send(a!, ReadOnlySpan<byte>.Empty, [b!], out _));
            Assert.Equal(Errno.EINVAL, UnixRights.Send(a!, "x"u8, [b!, b!, b!, b!, b!], out _));
        }
    }

    [Fact]
    public void Splice_SocketPipeSocket_MovesBytesThenReportsEagainAndEndOfStream()
    {
        Assert.Equal(Errno.Success, UnixRights.StreamPair(nonBlocking: true, out var writer, out var source));
        Assert.Equal(Errno.Success, UnixRights.StreamPair(nonBlocking: true, out var destination, out var reader));
        Assert.Equal(Errno.Success, UnixRights.Pipe(out var pipeRead, out var pipeWrite));
        using (writer)
        using (source)
        using (destination)
        using (reader)
        using (pipeRead)
        using (pipeWrite)
        {
            Assert.Equal(Errno.EAGAIN, UnixRights.Splice(source!, pipeWrite!, 65536, out _));

            Assert.Equal(Errno.Success, Sockets.Send(writer!, "spliced bytes"u8, 0, out _));
            Assert.Equal(Errno.Success, UnixRights.Splice(source!, pipeWrite!, 65536, out var filled));
            Assert.Equal(13, filled);
            Assert.Equal(Errno.Success, UnixRights.Splice(pipeRead!, destination!, filled, out var drained));
            Assert.Equal(13, drained);
            var buffer = new byte[32];
            Assert.Equal(Errno.Success, Sockets.Receive(reader!, buffer, 0, out var received));
            Assert.Equal("spliced bytes", System.Text.Encoding.ASCII.GetString(buffer, 0, received));

            Assert.Equal(Errno.Success, Sockets.Shutdown(writer!, SocketConstants.SHUT_WR));
            Assert.Equal(Errno.Success, UnixRights.Splice(source!, pipeWrite!, 65536, out var atEnd));
            Assert.Equal(0, atEnd);
        }
    }

    [Fact]
    public void Duplicate_SharesTheOpenFileDescription()
    {
        Assert.Equal(Errno.Success, UnixRights.StreamPair(nonBlocking: false, out var a, out var b));
        using (a)
        using (b)
        {
            Assert.Equal(Errno.Success, UnixRights.Duplicate(a!, out var copy));
            using (copy)
            {
                Assert.NotEqual(a!.Value, copy!.Value);
                Assert.Equal(Errno.Success, UnixRights.SetNonBlocking(copy));
                Assert.Equal(Errno.Success, Sockets.GetStatusFlags(a, out var flags));
                Assert.NotEqual(0, flags & SocketConstants.O_NONBLOCK);
            }
        }
    }
}
