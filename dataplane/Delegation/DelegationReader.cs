using System.Net.Sockets;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Delegation;

/// <summary>
/// The sidecar's end of a delegation connection: reads frames and the fds that came with them. Each frame's fixed
/// part and metadata are read with recvmsg and a control buffer, so that fds are never dropped by a plain read, and
/// only as many bytes as the frame has, so that the next frame's fds stay queued with it. A malformed frame is a
/// <see cref="DelegationProtocolException"/>; every fd that arrived with it is closed, and the reader fails from
/// then on (a byte stream cannot be resynchronised). One read at a time.
/// </summary>
public sealed class DelegationReader : IDisposable
{
    private readonly SafeFd _socket;
    private readonly EpollReactor _reactor;
    private readonly bool _ownsReactor;
    private readonly int _maxMetadataLength;
    private readonly byte[] _fixed = new byte[DelegationFrameCodec.FixedLength];
    private Exception? _failure;

    /// <summary>
    /// Reads from <paramref name="socket"/>, a connected Unix stream socket that this reader owns and makes
    /// nonblocking. Readiness waits go to <paramref name="reactor"/>, which is disposed with the reader when
    /// <paramref name="ownsReactor"/>.
    /// </summary>
    public DelegationReader(SafeFd socket, EpollReactor reactor, bool ownsReactor = false, int maxMetadataLength = DelegationFrameCodec.MaxMetadataLength)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ArgumentNullException.ThrowIfNull(reactor);
        _socket = socket;
        _reactor = reactor;
        _ownsReactor = ownsReactor;
        _maxMetadataLength = maxMetadataLength;
        UnixRights.SetNonBlocking(socket);
    }

    /// <summary>The connection's socket (for shutdown, or to notice that the daemon closed it).</summary>
    public SafeFd Socket => _socket;

    /// <summary>
    /// Reads the next frame, or null when the daemon closed the connection between frames. The caller owns the frame
    /// and its fds.
    /// </summary>
    /// <exception cref="DelegationProtocolException">A malformed frame, or a stream that ended inside one.</exception>
    /// <exception cref="SocketException">The connection failed.</exception>
    public async ValueTask<DelegatedFrame?> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (_failure is not null)
        {
            throw _failure;
        }

        var fds = new SafeFd?[UnixRights.MaxFdsPerMessage];
        var fdCount = 0;
        try
        {
            var (got, more) = await ReadExactlyAsync(_fixed, fds, fdCount, cancellationToken).ConfigureAwait(false);
            fdCount += more;
            if (got == 0 && fdCount == 0)
            {
                return null;
            }
            if (got < _fixed.Length)
            {
                throw new DelegationProtocolException(DelegationErrorKind.Truncated,
                    $"The connection ended {got} byte(s) into a frame's {DelegationFrameCodec.FixedLength}-byte fixed part.");
            }

            var header = DelegationFrameCodec.DecodeFixed(_fixed, _maxMetadataLength);
            var metadata = new byte[header.MetadataLength];
            (got, more) = await ReadExactlyAsync(metadata, fds, fdCount, cancellationToken).ConfigureAwait(false);
            fdCount += more;
            if (got < metadata.Length)
            {
                throw new DelegationProtocolException(DelegationErrorKind.Truncated,
                    $"The connection ended {got} byte(s) into a frame's {metadata.Length}-byte metadata.");
            }
            if (fdCount != header.FdCount)
            {
                throw new DelegationProtocolException(DelegationErrorKind.BadFdCount,
                    $"The frame says {header.FdCount} fd(s) but {fdCount} arrived with it.");
            }

            var parsed = DelegationFrameCodec.DecodeMetadata(metadata);
            var frame = new DelegatedFrame(header.Kind, header.Id, metadata, parsed, fds[0]!, header.FdCount > 1 ? fds[1] : null);
            Array.Clear(fds);
            return frame;
        }
        catch (Exception e) when (e is DelegationProtocolException or SocketException)
        {
            _failure = e;
            throw;
        }
        finally
        {
            // Whatever arrived and was not handed over in a frame, a malformed frame's fds included.
            foreach (var fd in fds)
            {
                fd?.Dispose();
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _socket.Dispose();
        if (_ownsReactor)
        {
            _reactor.Dispose();
        }
    }

    // Reads until the buffer is full or the stream ends, collecting fds after fds[already]. Returns the bytes read
    // and how many fds arrived.
    private async ValueTask<(int Read, int Fds)> ReadExactlyAsync(Memory<byte> buffer, SafeFd?[] fds, int already, CancellationToken cancellationToken)
    {
        var offset = 0;
        var count = 0;
        while (offset < buffer.Length)
        {
            var error = UnixRights.Receive(_socket, buffer.Span[offset..], fds.AsSpan(already + count), out var received, out var arrived);
            count += arrived;
            if (error == Errno.EAGAIN)
            {
                await _reactor.WaitAsync(_socket, EpollEvents.In, cancellationToken).ConfigureAwait(false);
                continue;
            }
            if (error == Errno.EMSGSIZE)
            {
                throw new DelegationProtocolException(DelegationErrorKind.BadFdCount,
                    $"A frame brought more than the {DelegationFrameCodec.MaxFds} fds a frame may carry; they were closed.");
            }
            if (error != Errno.Success)
            {
                throw new SocketException((int)error.ToSocketError());
            }
            if (received == 0)
            {
                break;
            }
            offset += received;
        }
        return (offset, count);
    }
}
