using Istio.AppSwitch.Dataplane.Observability;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Interop;
using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>Dependency ordering: a connect to a ref with no live backend waits for one to listen.</summary>
internal sealed partial class SyscallHandler
{
    /// <summary>
    /// Decides what a connect to <paramref name="reference"/>, which has no live backend, gets: held until one
    /// listens (or the ref's wait runs out), <c>EAGAIN</c> for a nonblocking socket when the ref says so, or
    /// <c>ECONNREFUSED</c> at once for a ref with no wait. Returns true when the held call now owns
    /// <paramref name="appSocket"/>.
    /// </summary>
    private bool WaitForBackend(InterceptedApp app, ulong id, SafeFd appSocket, in AppSocketInfo info,
        in InetEndpoint destination, ServiceRef reference)
    {
        if (!IsUnconnected(appSocket))
        {
            // A second connect on a socket that is connected or connecting (the nonblocking idiom that asks for
            // the outcome): the kernel answers it (EISCONN, EALREADY) without sending anything.
            Continue(app, id);
            return false;
        }
        if (reference.Wait <= TimeSpan.Zero)
        {
            Refuse(app, id, in destination, reference.Name);
            return false;
        }
        if (info.NonBlocking && reference.Nonblocking == NonblockingConnectMode.EAgain)
        {
            Interlocked.Increment(ref app.Counters.Refused);
            _telemetry.Connect(app.Record, ConnectMode.Fast, ConnectOutcome.Refused, reference.Name, in destination, default);
            Log.ConnectEAgain(_logger, app.Record.Id, destination, reference.Name);
            Seccomp.Respond(app.Listener, id, -1, Errno.EAGAIN);
            return false;
        }

        ProcFs.GetInode(appSocket, out var inode);
        var since = _held.StartOf(app.Record.Id, inode);
        if (_held.Now - since >= reference.Wait)
        {
            // A restarted call whose wait had already run out when a signal interrupted it.
            Refuse(app, id, in destination, reference.Name);
            return false;
        }
        Interlocked.Increment(ref app.Counters.Held);
        _telemetry.Connect(app.Record, ConnectMode.Fast, ConnectOutcome.Held, reference.Name, in destination, default);
        Log.ConnectHeld(_logger, app.Record.Id, destination, reference.Name);
        _held.Add(new HeldConnect(app, id, appSocket, info, destination, reference.Name, inode, since));
        OnParked(app, id);
        return true;
    }

    /// <summary>True when the TCP socket is in CLOSE: no handshake started, nothing to answer for but ax.</summary>
    private static bool IsUnconnected(SafeFd socket)
    {
        // struct tcp_info starts with the state byte; TCP_CLOSE is 7.
        Span<byte> tcpInfo = stackalloc byte[8];
        return Sockets.GetSockOpt(socket, SocketConstants.IPPROTO_TCP, SocketConstants.TCP_INFO, tcpInfo, out var length) != Errno.Success
            || length < 1
            || tcpInfo[0] == TcpClose;
    }

    private const byte TcpClose = 7;

    private void Refuse(InterceptedApp app, ulong id, in InetEndpoint destination, string refName)
    {
        Interlocked.Increment(ref app.Counters.Refused);
        _telemetry.Connect(app.Record, ConnectMode.Fast, ConnectOutcome.Refused, refName.Length == 0 ? null : refName, in destination, default);
        Log.ConnectRefused(_logger, app.Record.Id, destination, refName);
        Seccomp.Respond(app.Listener, id, -1, Errno.ECONNREFUSED);
    }

    /// <summary>
    /// Settles held connects as backends appear, waits run out and threads go away, until
    /// <paramref name="stopping"/>. Runs off the reactor thread: a scan never delays a notification.
    /// </summary>
    public async Task RunHeldConnectsAsync(CancellationToken stopping)
    {
        _routing.Published += _held.Wake;
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                await _held.WaitForWorkAsync(stopping).ConfigureAwait(false);
                ScanHeld();
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        finally
        {
            _routing.Published -= _held.Wake;
        }
    }

    /// <summary>One pass over the held connects; those still waiting go back into the room.</summary>
    internal void ScanHeld()
    {
        var all = _held.TakeAll();
        if (all.Length == 0)
        {
            return;
        }
        var snapshot = _routing.Current;
        var now = _held.Now;
        for (var i = 0; i < all.Length; i++)
        {
            var held = all[i]!;
            var keep = false;
            try
            {
                keep = Settle(held, snapshot, now);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                Interlocked.Increment(ref held.App.Counters.Failed);
                Log.HandlerFailed(_logger, ex, held.App.Record.Id, "held connect");
                TryRespond(held, Errno.ENOSYS);
                held.Socket.Dispose();
            }
            if (!keep)
            {
                _held.Settled(all, i);
            }
        }
        _held.PutBack(all);
    }

    /// <summary>Settles one held connect if it can be; true to keep holding it.</summary>
    private bool Settle(HeldConnect held, RoutingSnapshot snapshot, DateTimeOffset now)
    {
        var app = held.App;
        if (app.IsDisposed || !Seccomp.IsIdValid(app.Listener, held.Id))
        {
            // The thread died, or a signal interrupted the call; a restarted call arrives as a new notification.
            if (!app.IsDisposed)
            {
                _held.RememberInterrupted(held);
            }
            _telemetry.Released(app.Record, held.RefName, held.Destination, now - held.Since, gone: true);
            Log.HeldConnectGone(_logger, app.Record.Id, held.Destination, held.RefName);
            held.Socket.Dispose();
            return false;
        }

        var destination = held.Destination;
        var decision = snapshot.Resolve(app.Record, in destination);
        if (decision.Kind != ConnectDecisionKind.NoBackend || now - held.Since >= decision.Ref!.Wait)
        {
            _telemetry.Released(app.Record, held.RefName, in destination, now - held.Since, gone: false);
        }
        switch (decision.Kind)
        {
            case ConnectDecisionKind.Redirect:
                Log.HeldConnectReleased(_logger, app.Record.Id, destination, held.RefName, (now - held.Since).TotalMilliseconds);
                if (!Redirect(app, held.Id, held.Socket, held.Info, in destination, in decision, writeHeader: decision.Ref is { IsCapture: true }))
                {
                    held.Socket.Dispose();
                }
                return false;

            case ConnectDecisionKind.NoBackend when now - held.Since < decision.Ref!.Wait:
                return true;

            case ConnectDecisionKind.NoBackend:
            case ConnectDecisionKind.Refuse:
                Refuse(app, held.Id, in destination, decision.Ref!.Name);
                held.Socket.Dispose();
                return false;

            case ConnectDecisionKind.Chain:
                if (!Chain(app, held.Id, held.Socket, held.Info, in destination, in decision))
                {
                    held.Socket.Dispose();
                }
                return false;

            default:
                // The ref went away (or no longer applies): the connect goes where it would without ax.
                Interlocked.Increment(ref app.Counters.Passthrough);
                _telemetry.Connect(app.Record, ConnectMode.Passthrough, ConnectOutcome.Allowed, null, in destination, in destination);
                Continue(app, held.Id);
                held.Socket.Dispose();
                return false;
        }
    }

    private static void TryRespond(HeldConnect held, Errno error)
    {
        try
        {
            Seccomp.Respond(held.App.Listener, held.Id, -1, error);
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
