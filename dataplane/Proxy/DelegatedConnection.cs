using System.Net;
using Istio.AppSwitch.Delegation;
using Istio.AppSwitch.Interop;
using Istio.AppSwitch.ProxyProtocol;

namespace Istio.AppSwitch.Proxy;

/// <summary>
/// A connection the daemon delegated, as the plugins see it: its direction, the parsed PROXY v2 metadata (addresses,
/// ax labels, identity, DNS name, protocol, peeked bytes), and its fds, which it owns until disposed.
/// </summary>
public sealed class DelegatedConnection : IDisposable
{
    private readonly DelegatedFrame _frame;

    /// <summary>Wraps <paramref name="frame"/>, taking ownership of its fds.</summary>
    public DelegatedConnection(DelegatedFrame frame, EpollReactor reactor)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ArgumentNullException.ThrowIfNull(reactor);
        _frame = frame;
        Reactor = reactor;
    }

    /// <summary>Outbound (the application connected) or inbound (it accepted).</summary>
    public DelegationKind Direction => _frame.Kind;

    /// <summary>The daemon's delegation id.</summary>
    public ulong Id => _frame.Id;

    /// <summary>The parsed metadata.</summary>
    public ProxyHeader Header => _frame.Header;

    /// <summary>The metadata as received: a complete PROXY v2 header, to pass on unchanged.</summary>
    public ReadOnlyMemory<byte> Metadata => _frame.Metadata;

    /// <summary>The connection's source: the application (outbound) or the remote client (inbound).</summary>
    public IPEndPoint? Source => _frame.Header.Source;

    /// <summary>The original destination (outbound), or the local address the client reached (inbound).</summary>
    public IPEndPoint? Destination => _frame.Header.Destination;

    /// <summary>The socketpair end whose other end the application holds.</summary>
    public SafeFd PeerEnd => _frame.PeerEnd;

    /// <summary>Inbound: the accepted TCP socket from the remote client. Outbound: null.</summary>
    public SafeFd? AcceptedSocket => _frame.AcceptedSocket;

    /// <summary>The reactor that waits for readiness on the fds.</summary>
    public EpollReactor Reactor { get; }

    /// <summary>
    /// The socket that faces the network: the accepted TCP socket inbound; outbound, none yet (a plugin connects).
    /// </summary>
    public SafeFd? NetworkSide => _frame.AcceptedSocket;

    /// <summary>
    /// Makes closing the accepted TCP socket send a reset rather than a FIN (SO_LINGER 0), so that a dropped inbound
    /// client sees a refusal rather than an orderly end. Outbound there is nothing to reset: the application's
    /// socket is the socketpair's other end, which sees end of stream.
    /// </summary>
    public void ResetOnClose()
    {
        if (_frame.AcceptedSocket is { IsClosed: false } accepted)
        {
            // struct linger { int l_onoff = 1; int l_linger = 0; }
            Span<byte> linger = stackalloc byte[8];
            linger.Clear();
            linger[0] = 1;
            Sockets.SetSockOpt(accepted, SocketConstants.SOL_SOCKET, SocketConstants.SO_LINGER, linger);
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"{Direction.ToName()} #{Id} {Source?.ToString() ?? "?"} -> {Destination?.ToString() ?? "?"}";

    /// <summary>Closes the fds.</summary>
    public void Dispose() => _frame.Dispose();
}
