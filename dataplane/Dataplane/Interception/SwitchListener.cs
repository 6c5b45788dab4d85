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
/// Client connects and the server's accepts are all answered on the reactor thread, so the queue and the doorbell
/// change on that thread only; the sweeper and an app's removal (other threads) only close everything through
/// <see cref="Close"/>, which is why the doorbell is swapped atomically.
/// </remarks>
internal sealed class SwitchListener(ServiceRecord service)
{
    private SafeFd? _doorbell;
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

    /// <summary>The doorbell's local address (the peer the listener sees), while one is outstanding.</summary>
    public InetEndpoint DoorbellAddress { get; private set; }

    /// <summary>True while a doorbell connection is in flight or waits in the listener's accept queue.</summary>
    public bool HasDoorbell => Volatile.Read(ref _doorbell) is not null;

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>Keeps the daemon's end of a new doorbell; false (and the caller closes it) when one is outstanding already.</summary>
    public bool TrySetDoorbell(SafeFd socket, InetEndpoint local)
    {
        if (IsClosed || Interlocked.CompareExchange(ref _doorbell, socket, null) is not null)
        {
            return false;
        }
        DoorbellAddress = local;
        return true;
    }

    /// <summary>True when an accepted connection is the outstanding doorbell (its peer is the doorbell's local address).</summary>
    public bool IsDoorbell(in InetEndpoint peer)
    {
        if (!HasDoorbell)
        {
            return false;
        }
        var doorbell = DoorbellAddress;
        return peer.Port == doorbell.Port && (peer.Equals(doorbell) || (peer.IsIPv4MappedIPv6 && peer.MapToIPv4().Equals(doorbell)));
    }

    /// <summary>The doorbell was accepted by the daemon: closes the daemon's end of it.</summary>
    public void ClearDoorbell() => Interlocked.Exchange(ref _doorbell, null)?.Dispose();

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
