using System.Net;

namespace Istio.AppSwitch.Dataplane.Registry;

/// <summary>An application running under ax, as the registry knows it. Immutable.</summary>
public sealed class AppRecord
{
    internal AppRecord(string id, string name, Labels labels, IPAddress? ip, int pid, uint uid, IReadOnlyList<string> command, DateTimeOffset startedAt)
    {
        Id = id;
        Name = name;
        Labels = labels;
        Ip = ip;
        Pid = pid;
        Uid = uid;
        Command = command;
        StartedAt = startedAt;
        SourceHash = ip is not null
            ? Policy.LoadBalancing.UpstreamCluster.HashSourceAddress(Interop.InetEndpoint.FromIPEndPoint(new IPEndPoint(ip, 0)))
            : HashId(id);
    }

    /// <summary>
    /// What consistent-hashing clusters hash for this client: its <c>--ip</c> as Envoy hashes a downstream address,
    /// or, without one, its id. Apps without <c>--ip</c> share the host's address, and hashing that would send every
    /// one of them to the same endpoint.
    /// </summary>
    internal ulong SourceHash { get; }

    /// <summary>The daemon-unique id: <c>app-1</c>, <c>app-2</c>, ...</summary>
    public string Id { get; }

    /// <summary><c>--name</c>, or the command's base name.</summary>
    public string Name { get; }

    /// <summary>The user's labels plus the system labels <c>ax.user</c>, <c>ax.host</c> and <c>ax.app</c>.</summary>
    public Labels Labels { get; }

    /// <summary><c>--ip</c>, or null.</summary>
    public IPAddress? Ip { get; }

    /// <summary>The pid of the process ax started.</summary>
    public int Pid { get; }

    /// <summary>The uid it runs as.</summary>
    public uint Uid { get; }

    /// <summary>The command line.</summary>
    public IReadOnlyList<string> Command { get; }

    /// <summary>When it was registered.</summary>
    public DateTimeOffset StartedAt { get; }

    /// <summary>
    /// The inode of the network namespace the app runs in (<c>ax run --netns</c>, <c>--new-netns</c>), or 0 when it
    /// shares the daemon's. Set, the daemon makes the app's TCP connects and mapped binds in its own namespace.
    /// </summary>
    public ulong NetworkNamespace { get; init; }

    /// <summary><c>--ports</c>: which application ports are bound in the host's namespace, and as which port.</summary>
    public IReadOnlyList<PortMapping> Ports { get; init; } = [];

    /// <summary>What the app's connects came to, counted by the interception as they happen.</summary>
    public ConnectCounters Connects { get; } = new();

    private static ulong HashId(string id)
    {
        // FNV-1a: stable across daemon restarts, unlike string.GetHashCode.
        var hash = 14695981039346656037UL;
        foreach (var c in id)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }
        return hash;
    }

    /// <summary>The id and name, for logs.</summary>
    public override string ToString() => $"{Id} ({Name})";
}
