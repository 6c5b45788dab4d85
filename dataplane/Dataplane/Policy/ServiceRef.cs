using Istio.AppSwitch.Dataplane.Mesh;
using AxTlvs = Istio.AppSwitch.ProxyProtocol.AxTlvs;
using ProxyTlv = Istio.AppSwitch.ProxyProtocol.ProxyTlv;

namespace Istio.AppSwitch.Dataplane.Policy;

/// <summary>
/// A validated service reference: connections from matching clients to <see cref="Vip"/> go to a live service
/// whose labels match <see cref="Selector"/> or, for a ref the xds-agent programmed (<see cref="Mesh"/>), to an
/// endpoint of the mesh service's clusters. Immutable; replaced, never changed.
/// </summary>
public sealed class ServiceRef
{
    internal ServiceRef(string name, VipSpec vip, LabelSelector selector, LabelSelector clients, string? dns, DateTimeOffset createdAt,
        TimeSpan wait, NonblockingConnectMode nonblocking, CidrSet exclude, ProxyProtocolMode proxyProtocol, bool noUnix = false)
    {
        NoUnix = noUnix;
        Name = name;
        Vip = vip;
        Selector = selector;
        Clients = clients;
        Dns = dns;
        CreatedAt = createdAt;
        Wait = wait;
        Nonblocking = nonblocking;
        Exclude = exclude;
        ProxyProtocol = proxyProtocol;
    }

    private ServiceRef(MeshService mesh, TimeSpan wait, DateTimeOffset createdAt)
        : this(mesh.RouteName, mesh.Vip, LabelSelector.Everything, LabelSelector.Everything, null, createdAt, wait,
            NonblockingConnectMode.Hold, CidrSet.Empty, ProxyProtocolMode.None)
    {
        Mesh = mesh;
    }

    /// <summary>
    /// The route of a mesh service: every client, no selector (its backends are the clusters' endpoints), and a
    /// connect with no usable endpoint waits up to <paramref name="wait"/> (the cluster's connect timeout) for EDS to
    /// bring one.
    /// </summary>
    internal static ServiceRef ForMesh(MeshService mesh, TimeSpan wait, DateTimeOffset createdAt) => new(mesh, wait, createdAt);

    /// <summary>The mesh service this ref routes for, or null for a user's ref.</summary>
    public MeshService? Mesh { get; }

    /// <summary>How long a connect waits for a backend to listen when the ref has none; zero refuses at once.</summary>
    public TimeSpan Wait { get; }

    /// <summary>What a nonblocking connect gets while the ref has no backend.</summary>
    public NonblockingConnectMode Nonblocking { get; }

    /// <summary>Destinations the ref leaves alone even though its VIP covers them.</summary>
    public CidrSet Exclude { get; }

    /// <summary>Whether ax writes a PROXY header into the connections it opens for this ref.</summary>
    public ProxyProtocolMode ProxyProtocol { get; }

    /// <summary>
    /// True when connects through the ref always use TCP, even to a co-located service that the daemon would otherwise
    /// switch to a Unix socket pair (docs/unix-switch.md).
    /// </summary>
    public bool NoUnix { get; }

    /// <summary>The spec the ref was created from, as written; null for a mesh route's ref.</summary>
    public RefSpec? Spec { get; internal init; }

    /// <summary>
    /// True when the ref hands connections to a proxy (it writes a PROXY header). Such a ref never applies to its
    /// own backends, so that the proxy's own outbound connections are not sent back to itself.
    /// </summary>
    public bool IsCapture => ProxyProtocol != ProxyProtocolMode.None;

    /// <summary>The unique name.</summary>
    public string Name { get; }

    /// <summary>The virtual address clients connect to.</summary>
    public VipSpec Vip { get; }

    /// <summary>Selects the backing services by their app's labels; never empty, except for a mesh route (which selects none).</summary>
    public LabelSelector Selector { get; }

    /// <summary>Selects the clients the ref applies to; empty means every client.</summary>
    public LabelSelector Clients { get; }

    /// <summary>The DNS name for the VIP, lowercase without a trailing dot, or null.</summary>
    public string? Dns { get; }

    /// <summary>
    /// The PROXY TLV naming the destination in the headers ax writes for this ref: the ref's DNS name, or a mesh
    /// service's first host name. Built once per ref, on first use; null when there is no name.
    /// </summary>
    internal ProxyTlv? DnsTlv
    {
        get
        {
            if (!_dnsTlvBuilt)
            {
                var name = Dns ?? (Mesh is { DnsNames: { IsDefaultOrEmpty: false } names } ? names[0] : null);
                try
                {
                    _dnsTlv = name is { Length: > 0 } ? AxTlvs.OriginalDestinationName(name) : null;
                }
                catch (ArgumentException)
                {
                    _dnsTlv = null; // longer than a DNS name can be: no name rather than a cut one
                }
                _dnsTlvBuilt = true;
            }
            return _dnsTlv;
        }
    }

    private ProxyTlv? _dnsTlv;
    private bool _dnsTlvBuilt;

    /// <summary>When the ref was created.</summary>
    public DateTimeOffset CreatedAt { get; }

    /// <summary>The name and VIP, for logs.</summary>
    public override string ToString() => $"{Name} ({Vip})";
}
