using Istio.AppSwitch.Dataplane.Interception;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Dataplane.Registry;

namespace Istio.AppSwitch.Dataplane.Api;

/// <summary>Turns the daemon's model into the API's JSON shapes.</summary>
public static class ApiMapper
{
    /// <summary>An application.</summary>
    public static AppDto ToDto(AppRecord app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return new AppDto
        {
            Id = app.Id,
            Name = app.Name,
            Labels = ToDictionary(app.Labels),
            Ip = app.Ip?.ToString(),
            Pid = app.Pid,
            Uid = app.Uid,
            Command = [.. app.Command],
            StartedAt = app.StartedAt,
            Netns = app.NetworkNamespace == 0 ? null : app.NetworkNamespace,
            Ports = app.Ports.Count == 0 ? null : [.. app.Ports.Select(p => p.ToString())],
            Connects = new ConnectCountersDto
            {
                Notifications = Interlocked.Read(ref app.Connects.Notifications),
                Redirected = Interlocked.Read(ref app.Connects.Redirected),
                Refused = Interlocked.Read(ref app.Connects.Refused),
                Passthrough = Interlocked.Read(ref app.Connects.Passthrough),
                Chained = Interlocked.Read(ref app.Connects.Chained),
                Delegated = Interlocked.Read(ref app.Connects.Delegated),
                Switched = Interlocked.Read(ref app.Connects.Switched),
                AcceptProxied = Interlocked.Read(ref app.Connects.AcceptProxied),
                Failed = Interlocked.Read(ref app.Connects.Failed),
                Devirtualised = Interlocked.Read(ref app.Connects.Devirtualised),
                AcceptAllowed = Interlocked.Read(ref app.Connects.AcceptAllowed),
                AcceptDenied = Interlocked.Read(ref app.Connects.AcceptDenied),
            },
        };
    }

    /// <summary>A service.</summary>
    public static ServiceDto ToDto(ServiceRecord service)
    {
        ArgumentNullException.ThrowIfNull(service);
        return new ServiceDto
        {
            Id = service.Id,
            AppId = service.AppId,
            AppName = service.AppName,
            Labels = ToDictionary(service.Labels),
            Protocol = service.Protocol == TransportProtocol.Tcp ? "tcp" : "udp",
            Requested = service.Requested.ToString(),
            Bound = service.Bound.ToString(),
            Advertised = service.Advertised?.ToString(),
            Target = service.Target.ToString(),
            SocketInode = service.SocketInode,
            Switched = Interlocked.Read(ref service.Switched),
            CreatedAt = service.CreatedAt,
        };
    }

    /// <summary>
    /// A ref, with the number of live backends its selector matches now and the connects it holds (as of
    /// <paramref name="now"/>).
    /// </summary>
    public static RefDto ToDto(ServiceRef reference, int backends, HeldStats held = default, DateTimeOffset now = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        return new RefDto
        {
            Name = reference.Name,
            Vip = reference.Vip.ToString(),
            Selector = reference.Selector.Text,
            Clients = reference.Clients.IsEmpty ? null : reference.Clients.Text,
            Dns = reference.Dns,
            Wait = DurationText.Format(reference.Wait),
            Nonblocking = reference.Nonblocking == NonblockingConnectMode.EAgain ? "eagain" : "hold",
            Exclude = reference.Exclude.IsEmpty ? null : reference.Exclude.ToString(),
            ProxyProtocol = reference.ProxyProtocol == ProxyProtocolMode.V2 ? "v2" : "none",
            NoUnix = reference.NoUnix,
            Backends = backends,
            Held = held.Count,
            HeldLongestSeconds = held.Count == 0 ? 0 : Math.Max(0, Math.Round((now - held.OldestSince).TotalSeconds, 3)),
            CreatedAt = reference.CreatedAt,
        };
    }

    private static Dictionary<string, string> ToDictionary(Labels labels)
    {
        var result = new Dictionary<string, string>(labels.Count, StringComparer.Ordinal);
        foreach (var (key, value) in labels)
        {
            result[key] = value;
        }
        return result;
    }
}
