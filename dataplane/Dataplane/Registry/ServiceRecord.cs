using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Registry;

/// <summary>
/// A socket an application under ax listens on (TCP) or has bound (UDP), recorded at <c>listen</c>. Immutable;
/// removed when the socket closes or the application exits.
/// </summary>
public sealed class ServiceRecord
{
    internal ServiceRecord(
        string id,
        AppRecord app,
        TransportProtocol protocol,
        InetEndpoint requested,
        InetEndpoint bound,
        InetEndpoint? advertised,
        ulong socketInode,
        DateTimeOffset createdAt)
    {
        Id = id;
        App = app;
        Protocol = protocol;
        Requested = requested;
        Bound = bound;
        Advertised = advertised;
        SocketInode = socketInode;
        CreatedAt = createdAt;
        Target = TargetOf(bound);
    }

    /// <summary>The daemon-unique id: <c>svc-1</c>, <c>svc-2</c>, ...</summary>
    public string Id { get; }

    /// <summary>The application that owns the socket.</summary>
    public AppRecord App { get; }

    /// <summary>The application's id.</summary>
    public string AppId => App.Id;

    /// <summary>The application's name.</summary>
    public string AppName => App.Name;

    /// <summary>The application's labels, which selectors match.</summary>
    public Labels Labels => App.Labels;

    /// <summary>TCP or UDP.</summary>
    public TransportProtocol Protocol { get; }

    /// <summary>What the application passed to <c>bind</c> (<c>0.0.0.0:6379</c>, or a hard-coded address).</summary>
    public InetEndpoint Requested { get; }

    /// <summary>What is really bound.</summary>
    public InetEndpoint Bound { get; }

    /// <summary>
    /// With <c>ax run --ip IP</c>, when the application bound the wildcard or that IP: <c>IP:port</c>, the address
    /// clients may connect to as if the application had it. Null otherwise.
    /// </summary>
    public InetEndpoint? Advertised { get; }

    /// <summary>The inode of the socket: the key of the service within its application.</summary>
    public ulong SocketInode { get; }

    /// <summary>
    /// How many connections to the service ax switched to a Unix socket pair (docs/unix-switch.md). The one field that
    /// changes: a counter, updated with <see cref="Interlocked"/>.
    /// </summary>
    public long Switched;

    /// <summary>When <c>listen</c> registered it.</summary>
    public DateTimeOffset CreatedAt { get; }

    /// <summary>
    /// Where a client connects to reach the service: <see cref="Bound"/>, with a wildcard address replaced by the
    /// loopback address of the same family (a socket bound to 0.0.0.0 accepts on 127.0.0.1).
    /// </summary>
    public InetEndpoint Target { get; }

    /// <summary>The id, app and bound address, for logs.</summary>
    public override string ToString() => $"{Id} ({AppName} {Protocol} {Bound})";

    private static InetEndpoint TargetOf(InetEndpoint bound)
    {
        if (!bound.IsAnyAddress)
        {
            return bound;
        }
        ReadOnlySpan<byte> loopback4 = [127, 0, 0, 1];
        ReadOnlySpan<byte> loopback6 = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        return new InetEndpoint(bound.IsIPv4 ? loopback4 : loopback6, bound.Port);
    }
}
