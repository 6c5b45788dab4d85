using System.Net.Sockets;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Proxy;

/// <summary>
/// Moves bytes both ways between two stream sockets with splice(2): socket → pipe → socket, so the payload never
/// enters user space. Each direction has its own pipe. When one side ends (reads 0), the other side's writing half is
/// shut down (SHUT_WR), so half-close travels through; when either direction fails, both stop, and the caller closes
/// both sockets.
/// <para>
/// The sockets are made nonblocking and waits go to an <see cref="EpollReactor"/>. epoll registers an fd once, and
/// each socket is read by one direction and written by the other, so the writing side waits on a duplicate fd.
/// </para>
/// </summary>
public static class BytePump
{
    /// <summary>How much one splice moves at most: the default pipe capacity.</summary>
    private const int ChunkLength = 64 * 1024;

    /// <summary>
    /// Pumps until both directions ended (half-close included) or one failed. Does not close the sockets.
    /// </summary>
    /// <returns>The bytes moved from <paramref name="first"/> to <paramref name="second"/>, and back.</returns>
    /// <exception cref="SocketException">A splice or shutdown failed (the other direction was stopped).</exception>
    public static async Task<(long FirstToSecond, long SecondToFirst)> RunAsync(SafeFd first, SafeFd second, EpollReactor reactor,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        ArgumentNullException.ThrowIfNull(reactor);
        Check(UnixRights.SetNonBlocking(first));
        Check(UnixRights.SetNonBlocking(second));
        Check(UnixRights.Duplicate(first, out var firstForWrites));
        using var firstWrites = firstForWrites!;
        Check(UnixRights.Duplicate(second, out var secondForWrites));
        using var secondWrites = secondForWrites!;

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var forward = OneWayAsync(first, secondWrites, reactor, stop);
        var backward = OneWayAsync(second, firstWrites, reactor, stop);
        try
        {
            return (await forward.ConfigureAwait(false), await backward.ConfigureAwait(false));
        }
        finally
        {
            // Whichever failed first already cancelled the other; wait for it so no splice runs after this returns.
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(forward, backward).ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default).ConfigureAwait(false);
        }
    }

    private static async Task<long> OneWayAsync(SafeFd source, SafeFd destination, EpollReactor reactor, CancellationTokenSource stop)
    {
        try
        {
            Check(UnixRights.Pipe(out var pipeRead, out var pipeWrite));
            using var pipeOut = pipeRead!;
            using var pipeIn = pipeWrite!;
            var total = 0L;
            while (true)
            {
                // The pipe is empty here, so EAGAIN can only mean that the source has nothing to read.
                var error = UnixRights.Splice(source, pipeIn, ChunkLength, out var filled);
                if (error == Errno.EAGAIN)
                {
                    await reactor.WaitAsync(source, EpollEvents.In | EpollEvents.RdHup, stop.Token).ConfigureAwait(false);
                    continue;
                }
                Check(error);
                if (filled == 0)
                {
                    // End of stream: pass the half-close on. ENOTCONN: the destination is already gone both ways.
                    var shutdown = Sockets.Shutdown(destination, SocketConstants.SHUT_WR);
                    if (shutdown is not (Errno.Success or Errno.ENOTCONN))
                    {
                        Check(shutdown);
                    }
                    return total;
                }
                while (filled > 0)
                {
                    error = UnixRights.Splice(pipeOut, destination, filled, out var drained);
                    if (error == Errno.EAGAIN)
                    {
                        await reactor.WaitAsync(destination, EpollEvents.Out, stop.Token).ConfigureAwait(false);
                        continue;
                    }
                    Check(error);
                    filled -= drained;
                    total += drained;
                }
            }
        }
        catch
        {
            await stop.CancelAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static void Check(Errno error)
    {
        if (error != Errno.Success)
        {
            throw new SocketException((int)error.ToSocketError());
        }
    }
}
