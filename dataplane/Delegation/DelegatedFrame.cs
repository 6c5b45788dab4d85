using Istio.AppSwitch.Interop;
using Istio.AppSwitch.ProxyProtocol;

namespace Istio.AppSwitch.Delegation;

/// <summary>
/// One delegated connection as a sidecar receives it: the frame's fields, its parsed metadata and the fds it
/// brought, which this object owns. Disposing closes the fds that were not taken.
/// </summary>
public sealed class DelegatedFrame : IDisposable
{
    private SafeFd? _peerEnd;
    private SafeFd? _acceptedSocket;

    /// <summary>Creates a frame that owns <paramref name="peerEnd"/> and <paramref name="acceptedSocket"/>.</summary>
    public DelegatedFrame(DelegationKind kind, ulong id, ReadOnlyMemory<byte> metadata, ProxyHeader header, SafeFd peerEnd, SafeFd? acceptedSocket)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(peerEnd);
        Kind = kind;
        Id = id;
        Metadata = metadata;
        Header = header;
        _peerEnd = peerEnd;
        _acceptedSocket = acceptedSocket;
    }

    /// <summary>Outbound or inbound.</summary>
    public DelegationKind Kind { get; }

    /// <summary>The daemon's delegation id.</summary>
    public ulong Id { get; }

    /// <summary>The PROXY v2 header as it arrived (signature included), for passing on unchanged.</summary>
    public ReadOnlyMemory<byte> Metadata { get; }

    /// <summary>The parsed metadata: addresses and TLVs.</summary>
    public ProxyHeader Header { get; }

    /// <summary>The socketpair end whose other end the application holds.</summary>
    /// <exception cref="ObjectDisposedException">Taken or disposed.</exception>
    public SafeFd PeerEnd => _peerEnd ?? throw new ObjectDisposedException(nameof(PeerEnd));

    /// <summary>Inbound: the accepted TCP socket; outbound: null.</summary>
    public SafeFd? AcceptedSocket => _acceptedSocket;

    /// <summary>Hands the fds over to the caller, who closes them from then on.</summary>
    public (SafeFd PeerEnd, SafeFd? AcceptedSocket) TakeFds()
    {
        var taken = (PeerEnd, _acceptedSocket);
        _peerEnd = null;
        _acceptedSocket = null;
        return taken;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _peerEnd?.Dispose();
        _acceptedSocket?.Dispose();
        _peerEnd = null;
        _acceptedSocket = null;
    }
}
