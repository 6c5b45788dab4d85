using System.Buffers;
using System.Runtime.InteropServices;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Delegation;

/// <summary>What <see cref="DelegationChannel.TrySend"/> did.</summary>
public enum DelegationSendResult
{
    /// <summary>The frame and its fds are in the kernel (the receiver has duplicates of the fds).</summary>
    Sent,

    /// <summary>Nothing was sent: the socket is full, or the rest of an earlier frame is still draining. Refuse the
    /// application's call (ECONNREFUSED) or fall back; the channel stays usable.</summary>
    Busy,

    /// <summary>Nothing was sent and the channel is broken for good (the receiver went away, or a drain timed out).</summary>
    Failed,
}

/// <summary>
/// The daemon's end of a delegation connection: sends frames with their fds on a connected Unix stream socket
/// without ever blocking, so that it can be called on a trapped syscall's path.
/// <para>
/// <b>Fail fast, with one exception.</b> Each frame goes out in one nonblocking sendmsg. When the socket is full
/// (EAGAIN) nothing was sent, and the result is <see cref="DelegationSendResult.Busy"/>: the sidecar is not keeping
/// up, and refusing the application's connect is better than piling up live sockets in the daemon. The socket's
/// buffer holds hundreds of frames, so Busy means a sidecar that is stuck, not a burst. The exception is a frame
/// the kernel took only in part: its fds already went with the first byte, so the rest must follow. It is kept
/// (one frame at most, so the queue is bounded by construction) and drained on the thread pool; meanwhile new
/// frames are Busy. A drain that cannot finish within <see cref="DrainTimeout"/> breaks the channel.
/// </para>
/// <para>
/// Concurrent callers are serialised by a flag rather than a lock: the holder is inside one nonblocking sendmsg,
/// so another caller spins briefly for it, and gives up with Busy rather than wait longer.
/// </para>
/// </summary>
public sealed class DelegationChannel
{
    /// <summary>How long the rest of a partly sent frame may take to drain before the channel is declared broken.</summary>
    public static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    private const int Idle = 0;
    private const int Sending = 1;
    private const int Draining = 2;
    private const int Broken = 3;
    private const int MaxSpins = 200;
    private const int StackFrameLimit = 1024;

    private readonly SafeHandle _socket;
    private readonly TaskCompletionSource _broken = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _state;

    /// <summary>Sends on <paramref name="socket"/>, a connected Unix stream socket. The socket is not owned: its
    /// owner closes it (sends then fail, and the channel is broken).</summary>
    public DelegationChannel(SafeHandle socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        _socket = socket;
    }

    /// <summary>Completes when the channel breaks: a send failed for good, or <see cref="Fail"/> was called.</summary>
    public Task Completion => _broken.Task;

    /// <summary>True once the channel is broken.</summary>
    public bool IsBroken => Volatile.Read(ref _state) == Broken;

    /// <summary>
    /// Sends one frame with its fds: <paramref name="peerEnd"/>, and for <see cref="DelegationKind.Inbound"/>
    /// <paramref name="acceptedSocket"/> after it. Never blocks, never throws for I/O. The caller keeps its fds
    /// and closes them afterwards, whatever the result.
    /// </summary>
    /// <exception cref="ArgumentException">Metadata that is not one PROXY v2 header or is too long, or a missing
    /// or extra accepted socket: caller bugs, not I/O.</exception>
    public DelegationSendResult TrySend(DelegationKind kind, ulong id, ReadOnlySpan<byte> metadata, SafeHandle peerEnd, SafeHandle? acceptedSocket)
    {
        ArgumentNullException.ThrowIfNull(peerEnd);
        if ((kind == DelegationKind.Inbound) != (acceptedSocket is not null))
        {
            throw new ArgumentException("An inbound frame carries the accepted socket, an outbound frame does not.", nameof(acceptedSocket));
        }

        var length = DelegationFrameCodec.FixedLength + metadata.Length;
        byte[]? rented = length > StackFrameLimit ? ArrayPool<byte>.Shared.Rent(length) : null;
        Span<byte> frame = rented is null ? stackalloc byte[StackFrameLimit] : rented;
        try
        {
            length = DelegationFrameCodec.Encode(frame, kind, id, metadata);
            return Send(frame[..length], peerEnd, acceptedSocket);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Breaks the channel: later sends fail, and <see cref="Completion"/> completes.</summary>
    public void Fail()
    {
        Volatile.Write(ref _state, Broken);
        _broken.TrySetResult();
    }

    private DelegationSendResult Send(ReadOnlySpan<byte> frame, SafeHandle peerEnd, SafeHandle? acceptedSocket)
    {
        var spinner = default(SpinWait);
        while (true)
        {
            var state = Interlocked.CompareExchange(ref _state, Sending, Idle);
            if (state == Idle)
            {
                break;
            }
            if (state == Broken)
            {
                return DelegationSendResult.Failed;
            }
            if (state == Draining || spinner.Count >= MaxSpins)
            {
                return DelegationSendResult.Busy;
            }
            spinner.SpinOnce(sleep1Threshold: -1);
        }

        Errno error;
        int sent;
        try
        {
            error = acceptedSocket is null
                ? UnixRights.Send(_socket, frame, [peerEnd], out sent)
                : UnixRights.Send(_socket, frame, [peerEnd, acceptedSocket], out sent);
        }
        catch (ObjectDisposedException)
        {
            // The connection's owner closed the socket: the sidecar is gone.
            Fail();
            return DelegationSendResult.Failed;
        }

        if (error == Errno.Success && sent == frame.Length)
        {
            Volatile.Write(ref _state, Idle);
            return DelegationSendResult.Sent;
        }
        if (error == Errno.Success)
        {
            // The fds are delivered with the first byte; the rest of the frame must follow them.
            Volatile.Write(ref _state, Draining);
            var rest = frame[sent..].ToArray();
            _ = Task.Run(() => Drain(rest));
            return DelegationSendResult.Sent;
        }
        if (error == Errno.EAGAIN)
        {
            Volatile.Write(ref _state, Idle);
            return DelegationSendResult.Busy;
        }

        Fail();
        return DelegationSendResult.Failed;
    }

    // Runs on the thread pool, with the state Draining: no one else sends meanwhile.
    private void Drain(byte[] rest)
    {
        var deadline = Environment.TickCount64 + (long)DrainTimeout.TotalMilliseconds;
        var offset = 0;
        try
        {
            while (offset < rest.Length)
            {
                var error = Sockets.Send(_socket, rest.AsSpan(offset), SocketConstants.MSG_DONTWAIT, out var sent);
                if (error == Errno.Success)
                {
                    offset += sent;
                    continue;
                }
                var remaining = deadline - Environment.TickCount64;
                if (error != Errno.EAGAIN || remaining <= 0)
                {
                    Fail();
                    return;
                }
                Sockets.Poll(_socket, EpollEvents.Out, (int)Math.Min(remaining, 100), out _);
            }
            Interlocked.CompareExchange(ref _state, Idle, Draining);
        }
        catch (ObjectDisposedException)
        {
            Fail();
        }
    }
}
