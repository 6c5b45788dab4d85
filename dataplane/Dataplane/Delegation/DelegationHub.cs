using System.Runtime.InteropServices;
using Istio.AppSwitch.Delegation;

namespace Istio.AppSwitch.Dataplane.Delegation;

/// <summary>What <see cref="DelegationHub.TryDelegate"/> did with a connection.</summary>
public enum DelegationResult
{
    /// <summary>The sidecar has the fds and the metadata: the caller closes its own copies and answers the application.</summary>
    Sent,

    /// <summary>No sidecar is registered for the direction.</summary>
    NoSidecar,

    /// <summary>The sidecar is not keeping up (its socket is full): refuse the call (ECONNREFUSED).</summary>
    Busy,

    /// <summary>The sidecar's connection broke; it is unregistered.</summary>
    Failed,
}

/// <summary>A registered sidecar, for <c>GET /v1/delegation</c>.</summary>
/// <param name="Name">The name it registered with.</param>
/// <param name="Directions">Outbound, inbound or both.</param>
/// <param name="Delegated">How many connections it was sent.</param>
/// <param name="RegisteredSince">When it registered.</param>
public sealed record SidecarInfo(string Name, DelegationDirections Directions, long Delegated, DateTimeOffset RegisteredSince);

/// <summary>
/// The sidecars registered for socket delegation (docs/delegation.md), one per direction at most, and the one call
/// the interception code makes: <see cref="TryDelegate"/>. Registration changes take a lock; the delegation path
/// reads one volatile field per direction and sends without any lock, so a slow registration never delays a
/// trapped syscall, and a send never holds up a registration.
/// </summary>
public sealed class DelegationHub
{
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly List<Registration> _registrations = [];
    private volatile Registration? _outbound;
    private volatile Registration? _inbound;
    private long _nextId;

    /// <summary>Creates an empty hub; sidecars may be launched by root and by this process's uid.</summary>
    public DelegationHub(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
        Roles = new SidecarRoles(Api.ProcessIdentity.EffectiveUserId);
    }

    /// <summary>The applications launched as sidecars (<c>ax run --sidecar NAME</c>): who, under ax, may register, and as what.</summary>
    public SidecarRoles Roles { get; }

    /// <summary>A sidecar is registered (and ready) for outbound connections. A volatile read, no lock.</summary>
    public bool HasOutbound => _outbound is not null;

    /// <summary>A sidecar is registered (and ready) for inbound connections.</summary>
    public bool HasInbound => _inbound is not null;

    /// <summary>
    /// Whether <paramref name="pid"/> is the process of an active sidecar. The interception asks it for chained
    /// connects: a sidecar's own connections, if it runs under ax, must not be delegated back to it. Two volatile reads.
    /// </summary>
    public bool IsSidecarProcess(int pid) =>
        pid > 0 && (_outbound is { } outbound && outbound.Pid == pid || _inbound is { } inbound && inbound.Pid == pid);

    /// <summary>The registered sidecars, ready or not.</summary>
    public IReadOnlyList<SidecarInfo> Sidecars
    {
        get
        {
            lock (_gate)
            {
                return _registrations.Select(r => r.Describe()).ToList();
            }
        }
    }

    /// <summary>
    /// Hands a connection to the sidecar of its direction: <paramref name="peerEnd"/> (the socketpair end that is
    /// not the application's) and, inbound, <paramref name="acceptedSocket"/>, with <paramref name="proxyV2Header"/>
    /// as metadata. Never blocks and never throws for I/O. Whatever the result, the caller still owns its fds and
    /// closes them (on <see cref="DelegationResult.Sent"/> the sidecar holds duplicates).
    /// </summary>
    /// <exception cref="ArgumentException">A header that is not one PROXY v2 header, or an accepted socket given
    /// for outbound or missing for inbound: bugs in the caller.</exception>
    public DelegationResult TryDelegate(DelegationKind kind, ReadOnlySpan<byte> proxyV2Header, SafeHandle peerEnd, SafeHandle? acceptedSocket)
    {
        var registration = kind == DelegationKind.Inbound ? _inbound : _outbound;
        if (registration is null)
        {
            return DelegationResult.NoSidecar;
        }

        var id = (ulong)Interlocked.Increment(ref _nextId);
        switch (registration.Channel!.TrySend(kind, id, proxyV2Header, peerEnd, acceptedSocket))
        {
            case DelegationSendResult.Sent:
                registration.CountDelegated();
                return DelegationResult.Sent;
            case DelegationSendResult.Busy:
                return DelegationResult.Busy;
            default:
                registration.Dispose();
                return DelegationResult.Failed;
        }
    }

    /// <summary>
    /// Reserves <paramref name="directions"/> for a sidecar named <paramref name="name"/>, or returns null when
    /// another sidecar holds one of them (409). Nothing is delegated to it before
    /// <see cref="Registration.Activate"/>; disposing the registration frees the directions.
    /// </summary>
    public Registration? TryReserve(string name, DelegationDirections directions, int pid = 0)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        lock (_gate)
        {
            foreach (var other in _registrations)
            {
                if ((other.Directions & directions) != 0)
                {
                    return null;
                }
            }
            var registration = new Registration(this, name, directions, _time.GetUtcNow(), pid);
            _registrations.Add(registration);
            return registration;
        }
    }

    /// <summary>The sidecar that holds a direction, or null: for the 409 message.</summary>
    public string? HolderOf(DelegationDirections directions)
    {
        lock (_gate)
        {
            return _registrations.FirstOrDefault(r => (r.Directions & directions) != 0)?.Name;
        }
    }

    /// <summary>One sidecar's hold on its directions, from reservation to disconnection.</summary>
    public sealed class Registration : IDisposable
    {
        private readonly DelegationHub _hub;
        private long _delegated;
        private bool _disposed;

        internal Registration(DelegationHub hub, string name, DelegationDirections directions, DateTimeOffset since, int pid)
        {
            _hub = hub;
            Pid = pid;
            Name = name;
            Directions = directions;
            Since = since;
        }

        /// <summary>The sidecar's name.</summary>
        public string Name { get; }

        /// <summary>The process that registered (SO_PEERCRED), or 0 when unknown.</summary>
        public int Pid { get; }

        /// <summary>Its directions.</summary>
        public DelegationDirections Directions { get; }

        /// <summary>When it registered.</summary>
        public DateTimeOffset Since { get; }

        internal DelegationChannel? Channel { get; private set; }

        /// <summary>The sidecar is ready: connections of its directions go to <paramref name="channel"/> from now on.</summary>
        public void Activate(DelegationChannel channel)
        {
            ArgumentNullException.ThrowIfNull(channel);
            lock (_hub._gate)
            {
                if (_disposed)
                {
                    return;
                }
                Channel = channel;
                if ((Directions & DelegationDirections.Outbound) != 0)
                {
                    _hub._outbound = this;
                }
                if ((Directions & DelegationDirections.Inbound) != 0)
                {
                    _hub._inbound = this;
                }
            }
        }

        /// <summary>Unregisters: nothing more is delegated to it, and its directions are free. Idempotent.</summary>
        public void Dispose()
        {
            lock (_hub._gate)
            {
                if (_disposed)
                {
                    return;
                }
                _disposed = true;
                if (_hub._outbound == this)
                {
                    _hub._outbound = null;
                }
                if (_hub._inbound == this)
                {
                    _hub._inbound = null;
                }
                _hub._registrations.Remove(this);
            }
            Channel?.Fail();
        }

        internal void CountDelegated() => Interlocked.Increment(ref _delegated);

        internal SidecarInfo Describe() => new(Name, Directions, Interlocked.Read(ref _delegated), Since);
    }
}
