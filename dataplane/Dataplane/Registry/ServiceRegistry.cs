using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Istio.AppSwitch.Dataplane.Configuration;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Interop;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Istio.AppSwitch.Dataplane.Registry;

/// <summary>
/// The applications running under ax and the services they listen on. Thread-safe. Every change publishes a new
/// routing snapshot to the <see cref="RoutingTable"/> before the call returns, so a connect that starts after
/// <see cref="AddService"/> returned can be routed to the new service.
/// </summary>
/// <remarks>
/// State is one immutable <see cref="State"/> replaced under <c>_gate</c>; readers take it without a lock.
/// <see cref="AddService"/> and <see cref="RemoveService"/> run on the notification path of <c>listen</c>, so they
/// log at debug level only.
/// </remarks>
public sealed partial class ServiceRegistry
{
    private readonly Lock _gate = new();
    private readonly RoutingTable _routing;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Func<uint, string> _userName;
    private readonly string _hostLabel;
    private State _state = State.Empty;
    private long _lastAppId;
    private long _lastServiceId;

    /// <summary>Creates an empty registry that publishes to <paramref name="routing"/>.</summary>
    public ServiceRegistry(RoutingTable routing, TimeProvider? timeProvider = null, ILogger<ServiceRegistry>? logger = null)
        : this(routing, timeProvider, logger, UserNames.Lookup, Environment.MachineName)
    {
    }

    /// <summary>Creates a registry with the user-name lookup and host name given (for tests).</summary>
    internal ServiceRegistry(RoutingTable routing, TimeProvider? timeProvider, ILogger? logger, Func<uint, string> userName, string hostName)
    {
        ArgumentNullException.ThrowIfNull(routing);
        _routing = routing;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _userName = userName;
        _hostLabel = Labels.SanitizeValue(hostName, "localhost");
    }

    /// <summary>Every application, in registration order.</summary>
    public IReadOnlyList<AppRecord> Apps => Volatile.Read(ref _state).Apps;

    /// <summary>
    /// Raised with the app's id after its services changed (outside the registry's lock). Handlers must be cheap: a
    /// trapped <c>listen</c> raises it.
    /// </summary>
    public event Action<string>? ServicesChanged;

    /// <summary>Every service, in registration order.</summary>
    public IReadOnlyList<ServiceRecord> Services => Volatile.Read(ref _state).Services;

    /// <summary>The application with id <paramref name="appId"/>, or null.</summary>
    public AppRecord? FindApp(string appId) => Volatile.Read(ref _state).AppsById.GetValueOrDefault(appId);

    /// <summary>
    /// Validates and registers an application. Throws <see cref="ValidationException"/> listing every bad field
    /// (<c>name</c>, <c>labels</c>, <c>ip</c>, <c>pid</c>, <c>command</c>); nothing is registered then.
    /// </summary>
    public AppRecord RegisterApp(AppRegistration registration)
    {
        ArgumentNullException.ThrowIfNull(registration);
        var errors = new List<FieldError>();

        var command = registration.Command?.ToArray() ?? [];
        if (command.Length == 0 || string.IsNullOrEmpty(command[0]))
        {
            errors.Add(new FieldError("command", "command is required"));
        }

        string name;
        if (registration.Name is not null)
        {
            name = registration.Name;
            if (name.Length == 0)
            {
                errors.Add(new FieldError("name", "invalid name \"\": must not be empty"));
            }
            else if (!Labels.IsValidValue(name, out var problem))
            {
                errors.Add(new FieldError("name", $"invalid name \"{name}\": {problem} (the name is the value of the ax.app label)"));
            }
        }
        else
        {
            name = Labels.SanitizeValue(command.Length > 0 ? Path.GetFileName(command[0]) : null, "app");
        }

        var userLabels = Labels.Create(registration.Labels ?? ImmutableDictionary<string, string>.Empty, "labels", errors);
        Labels.RejectSystemKeys(userLabels, "labels", errors);

        var ip = registration.Ip;
        if (ip is not null)
        {
            if (ip.IsIPv4MappedToIPv6)
            {
                ip = ip.MapToIPv4();
            }
            if (ip.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
            {
                errors.Add(new FieldError("ip", $"invalid ip \"{ip}\": not an IPv4 or IPv6 address"));
            }
            else if (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any))
            {
                errors.Add(new FieldError("ip", $"invalid ip \"{ip}\": the wildcard address cannot be an application's address"));
            }
            else if (IsMulticastOrBroadcast(ip))
            {
                errors.Add(new FieldError("ip", $"invalid ip \"{ip}\": multicast and broadcast addresses cannot be an application's address"));
            }
        }

        if (registration.Pid <= 0)
        {
            errors.Add(new FieldError("pid", $"invalid pid {registration.Pid}: must be positive"));
        }
        if (registration.Ports is { Count: > 0 } ports)
        {
            if (registration.NetworkNamespace == 0)
            {
                errors.Add(new FieldError("ports", "ports are mapped only for an application in its own network namespace"));
            }
            foreach (var problem in PortMapping.Validate(ports))
            {
                errors.Add(new FieldError("ports", $"invalid ports: {problem}"));
            }
        }
        ValidationException.ThrowIfAny(errors);

        // System labels are added after the check, and win over anything the user passed.
        var labels = userLabels.With(
        [
            new(Labels.UserKey, Labels.SanitizeValue(_userName(registration.Uid), registration.Uid.ToString(CultureInfo.InvariantCulture))),
            new(Labels.HostKey, _hostLabel),
            new(Labels.AppKey, name),
        ]);

        AppRecord app;
        lock (_gate)
        {
            string id;
            if (registration.Id is { } adopted)
            {
                // An application a previous daemon registered keeps its id; new ones are numbered after it.
                if (adopted.StartsWith("app-", StringComparison.Ordinal)
                    && long.TryParse(adopted.AsSpan(4), NumberStyles.None, CultureInfo.InvariantCulture, out var number))
                {
                    _lastAppId = Math.Max(_lastAppId, number);
                }
                if (_state.AppsById.ContainsKey(adopted))
                {
                    throw new ArgumentException($"app \"{adopted}\" is already registered");
                }
                id = adopted;
            }
            else
            {
                id = "app-" + (++_lastAppId).ToString(CultureInfo.InvariantCulture);
            }
            app = new AppRecord(id, name, labels, ip, registration.Pid, registration.Uid, command, _time.GetUtcNow())
            {
                NetworkNamespace = registration.NetworkNamespace,
                Ports = registration.Ports ?? [],
            };
            var state = _state;
            Commit(state with { Apps = state.Apps.Add(app), AppsById = state.AppsById.Add(id, app) }, servicesChanged: false);
        }
        Log.AppRegistered(_logger, app.Id, app.Name, app.Pid, labels.ToString());
        return app;
    }

    /// <summary>Removes an application and all its services (it exited). Unknown ids are ignored.</summary>
    public void RemoveApp(string appId)
    {
        ArgumentNullException.ThrowIfNull(appId);
        int dropped;
        lock (_gate)
        {
            var state = _state;
            if (!state.AppsById.TryGetValue(appId, out var app))
            {
                return;
            }
            var services = state.Services.RemoveAll(s => s.App == app);
            dropped = state.Services.Length - services.Length;
            Commit(new State(state.Apps.Remove(app), state.AppsById.Remove(appId), services), servicesChanged: dropped > 0);
        }
        Log.AppRemoved(_logger, appId, dropped);
    }

    /// <summary>
    /// Records a service of <paramref name="appId"/> at <c>listen</c>. When the app was started with <c>--ip</c>
    /// and bound the wildcard or that address, the service is advertised at <c>IP:port</c>. Calling again for the
    /// same socket replaces the record. Throws <see cref="KeyNotFoundException"/> when the app is not registered
    /// (it exited meanwhile).
    /// </summary>
    public ServiceRecord AddService(string appId, TransportProtocol protocol, InetEndpoint requested, InetEndpoint bound, ulong socketInode)
    {
        ArgumentNullException.ThrowIfNull(appId);
        ServiceRecord service;
        lock (_gate)
        {
            var state = _state;
            if (!state.AppsById.TryGetValue(appId, out var app))
            {
                throw new KeyNotFoundException($"app \"{appId}\" is not registered");
            }
            var existing = state.Services.FirstOrDefault(s => s.App == app && s.SocketInode == socketInode);
            if (existing is not null && existing.Protocol == protocol && existing.Requested == requested && existing.Bound == bound)
            {
                return existing;
            }
            var id = "svc-" + (++_lastServiceId).ToString(CultureInfo.InvariantCulture);
            service = new ServiceRecord(id, app, protocol, requested, bound, AdvertisedAddress(app.Ip, requested, bound), socketInode, _time.GetUtcNow());
            var services = existing is null ? state.Services.Add(service) : state.Services.Replace(existing, service);
            Commit(state with { Services = services }, servicesChanged: true);
        }
        Log.ServiceAdded(_logger, service.Id, appId, service.Protocol, service.Bound, service.Advertised);
        ServicesChanged?.Invoke(appId);
        return service;
    }

    /// <summary>Removes the service of <paramref name="appId"/> on socket <paramref name="socketInode"/>; false when there was none.</summary>
    public bool RemoveService(string appId, ulong socketInode)
    {
        ArgumentNullException.ThrowIfNull(appId);
        ServiceRecord? removed;
        lock (_gate)
        {
            var state = _state;
            removed = state.Services.FirstOrDefault(s => s.AppId == appId && s.SocketInode == socketInode);
            if (removed is null)
            {
                return false;
            }
            Commit(state with { Services = state.Services.Remove(removed) }, servicesChanged: true);
        }
        Log.ServiceRemoved(_logger, removed.Id, appId);
        ServicesChanged?.Invoke(appId);
        return true;
    }

    /// <summary>
    /// The <c>--ip</c> address with the bound port, when the app bound the wildcard (of the IP's family, or the IPv6
    /// wildcard, which also accepts IPv4 unless <c>IPV6_V6ONLY</c>) or the IP itself; else null.
    /// </summary>
    internal static InetEndpoint? AdvertisedAddress(IPAddress? ip, InetEndpoint requested, InetEndpoint bound)
    {
        if (ip is null)
        {
            return null;
        }
        var advertised = InetEndpoint.FromIPEndPoint(new IPEndPoint(ip, bound.Port));
        var asked = requested.MapToIPv4();
        var wildcardMatches = asked.IsAnyAddress && (asked.Family == advertised.Family || asked.IsIPv6);
        var ipMatches = asked.Family == advertised.Family && asked.AddressBytes.SequenceEqual(advertised.AddressBytes);
        return wildcardMatches || ipMatches ? advertised : null;
    }

    private static bool IsMulticastOrBroadcast(IPAddress ip)
    {
        if (ip.AddressFamily == AddressFamily.InterNetworkV6)
        {
            return ip.IsIPv6Multicast;
        }
        Span<byte> bytes = stackalloc byte[4];
        ip.TryWriteBytes(bytes, out _);
        return bytes[0] is >= 224 and <= 239 || ip.Equals(IPAddress.Broadcast);
    }

    /// <summary>Swaps in <paramref name="next"/>; caller holds <c>_gate</c>, which keeps publications in order.</summary>
    private void Commit(State next, bool servicesChanged)
    {
        if (servicesChanged)
        {
            _routing.PublishServices(next.Services);
        }
        Volatile.Write(ref _state, next);
    }

    private sealed record State(
        ImmutableArray<AppRecord> Apps,
        ImmutableDictionary<string, AppRecord> AppsById,
        ImmutableArray<ServiceRecord> Services)
    {
        public static State Empty { get; } = new([], ImmutableDictionary.Create<string, AppRecord>(StringComparer.Ordinal), []);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1001, EventName = "AppRegistered", Level = LogLevel.Debug, Message = "Registered {AppId} ({Name}, pid {Pid}) with labels {Labels}")]
        public static partial void AppRegistered(ILogger logger, string appId, string name, int pid, string labels);

        [LoggerMessage(EventId = 1002, EventName = "AppRemoved", Level = LogLevel.Debug, Message = "Removed {AppId} and its {Services} service(s)")]
        public static partial void AppRemoved(ILogger logger, string appId, int services);

        [LoggerMessage(EventId = 1003, EventName = "ServiceAdded", Level = LogLevel.Debug, Message = "Added {ServiceId} of {AppId}: {Protocol} {Bound}, advertised {Advertised}")]
        public static partial void ServiceAdded(ILogger logger, string serviceId, string appId, TransportProtocol protocol, InetEndpoint bound, InetEndpoint? advertised);

        [LoggerMessage(EventId = 1004, EventName = "ServiceRemoved", Level = LogLevel.Debug, Message = "Removed {ServiceId} of {AppId}")]
        public static partial void ServiceRemoved(ILogger logger, string serviceId, string appId);
    }
}
