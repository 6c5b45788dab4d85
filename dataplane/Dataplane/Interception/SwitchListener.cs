using System.Collections.Concurrent;
using Istio.AppSwitch.Dataplane.Registry;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>
/// The co-located fast path's state for one listening socket of a server under ax (docs/unix-switch.md): the server
/// ends of the Unix socket pairs that clients were switched to and that wait for the server's next accept, and the
/// doorbell, a loopback TCP connection of the daemon's own that makes the listener readable for epoll and poll users.
/// </summary>
/// <remarks>
/// Client connects and the server's accepts are answered on different threads (each application has its own receiver),
/// and the sweeper and an app's removal close everything through <see cref="Close"/>: the queue is concurrent, and the
/// doorbell, with its address, is claimed and swapped atomically, claimed before it connects, so that an accept on another
/// thread always knows it for what it is.
/// </remarks>
internal sealed class SwitchListener(ServiceRecord service)
{
    private Doorbell? _doorbell;
    private int _closed;

    /// <summary>The service the listener is registered as.</summary>
    public ServiceRecord Service { get; } = service;

    /// <summary>
    /// Set by the first connect that wants to switch to this listener: from then on every accept on it is performed by the
    /// daemon, never CONTINUEd, so that no doorbell reaches the application.
    /// </summary>
    public volatile bool Owned;

    /// <summary>
    /// Set once no thread of the server was found inside a kernel accept on the listener (one the daemon had let through
    /// before it owned the listener's accepts, which would take the next doorbell). Until then connects stay TCP.
    /// </summary>
    public volatile bool Verified;

    /// <summary>Server ends waiting for an accept.</summary>
    public ConcurrentQueue<PendingEnd> Queue { get; } = new();

    /// <summary>Threads whose blocking accept on this listener the daemon holds (they are not in the kernel's accept).</summary>
    public ConcurrentDictionary<int, byte> HeldTids { get; } = new();

    /// <summary>True while a doorbell is claimed: connecting, in flight, or waiting in the listener's accept queue.</summary>
    public bool HasDoorbell => Volatile.Read(ref _doorbell) is not null;

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>
    /// Claims the doorbell for the daemon's <paramref name="socket"/>, bound to <paramref name="local"/> and not connected
    /// yet; false (and the caller closes it) when one is outstanding already. Claimed before the connect, so that the
    /// connection can never reach an accept that does not know its address.
    /// </summary>
    public bool TryClaimDoorbell(SafeFd socket, InetEndpoint local) =>
        !IsClosed && Interlocked.CompareExchange(ref _doorbell, new Doorbell(socket, local), null) is null;

    /// <summary>True when an accepted connection is the outstanding doorbell (its peer is the doorbell's local address).</summary>
    public bool IsDoorbell(in InetEndpoint peer)
    {
        if (Volatile.Read(ref _doorbell) is not { } doorbell)
        {
            return false;
        }
        var local = doorbell.Local;
        return peer.Port == local.Port && (peer.Equals(local) || (peer.IsIPv4MappedIPv6 && peer.MapToIPv4().Equals(local)));
    }

    /// <summary>The doorbell was accepted by the daemon, or never connected: closes the daemon's end of it.</summary>
    public void ClearDoorbell() => Interlocked.Exchange(ref _doorbell, null)?.Socket.Dispose();

    private sealed record Doorbell(SafeFd Socket, InetEndpoint Local);

    /// <summary>
    /// The listener closed or its app is gone: closes every waiting server end (the client reads EOF) and the doorbell.
    /// Returns how many ends were dropped.
    /// </summary>
    public int Close()
    {
        Interlocked.Exchange(ref _closed, 1);
        ClearDoorbell();
        var dropped = 0;
        while (Queue.TryDequeue(out var end))
        {
            end.Socket.Dispose();
            dropped++;
        }
        return dropped;
    }
}

/// <summary>
/// The server end of a switched connection, waiting for the listener's accept: the socket, what accept writes as the
/// peer (the client's TCP-looking address), and the TCP-looking local address getsockname answers on it.
/// </summary>
internal sealed record PendingEnd(SafeFd Socket, byte[] PeerSockaddr, InetEndpoint Peer, InetEndpoint Local);
