namespace Istio.AppSwitch.Dataplane.Api;

/// <summary>An application under ax (<c>GET /v1/apps</c>).</summary>
public sealed record AppDto
{
    /// <summary>The id, <c>app-N</c>.</summary>
    public required string Id { get; init; }

    /// <summary>The name (<c>--name</c> or the command's base name).</summary>
    public required string Name { get; init; }

    /// <summary>User and system labels.</summary>
    public required Dictionary<string, string> Labels { get; init; }

    /// <summary><c>--ip</c>, or absent.</summary>
    public string? Ip { get; init; }

    /// <summary>The pid of the process ax started.</summary>
    public required int Pid { get; init; }

    /// <summary>The uid it runs as.</summary>
    public required uint Uid { get; init; }

    /// <summary>The command line.</summary>
    public required List<string> Command { get; init; }

    /// <summary>When it was registered.</summary>
    public required DateTimeOffset StartedAt { get; init; }

    /// <summary>The inode of the network namespace it runs in (<c>--netns</c>, <c>--new-netns</c>); absent when it shares the daemon's.</summary>
    public ulong? Netns { get; init; }

    /// <summary><c>--ports</c> as <c>HOST:APP</c>; absent when none.</summary>
    public List<string>? Ports { get; init; }

    /// <summary>What its trapped calls came to.</summary>
    public required ConnectCountersDto Connects { get; init; }
}

/// <summary>An application's counts of trapped calls and redirected connects.</summary>
public sealed record ConnectCountersDto
{
    /// <summary>Trapped calls answered.</summary>
    public required long Notifications { get; init; }

    /// <summary>Connects sent to a ref's backend.</summary>
    public required long Redirected { get; init; }

    /// <summary>Redirected connects that failed (no live backend, or the backend refused).</summary>
    public required long Refused { get; init; }

    /// <summary>Connects left to the kernel (no ref matched).</summary>
    public required long Passthrough { get; init; }

    /// <summary>Connects of chain services connected to the chained proxy (Envoy) with a PROXY header.</summary>
    public long Chained { get; init; }

    /// <summary>Connections handed to the delegation sidecar as live sockets, either way.</summary>
    public long Delegated { get; init; }

    /// <summary>Of the redirected connects, those switched to a Unix socket pair (a co-located service, docs/unix-switch.md).</summary>
    public long Switched { get; init; }

    /// <summary>Accepted connections from a trusted proxy whose PROXY header ax took off.</summary>
    public long AcceptProxied { get; init; }

    /// <summary>Sockets made in the host's namespace for an app in its own (its TCP connects and mapped binds).</summary>
    public long Devirtualised { get; init; }

    /// <summary>Calls a handler failed on (a bug in ax).</summary>
    public required long Failed { get; init; }

    /// <summary>Connections accepted on a port with inbound policy and handed to the app.</summary>
    public long AcceptAllowed { get; init; }

    /// <summary>Connections accepted on a port with inbound policy and reset by its RBAC before the app saw them.</summary>
    public long AcceptDenied { get; init; }
}

/// <summary>A service an application listens on (<c>GET /v1/services</c>).</summary>
public sealed record ServiceDto
{
    /// <summary>The id, <c>svc-N</c>.</summary>
    public required string Id { get; init; }

    /// <summary>The app's id.</summary>
    public required string AppId { get; init; }

    /// <summary>The app's name.</summary>
    public required string AppName { get; init; }

    /// <summary>The app's labels.</summary>
    public required Dictionary<string, string> Labels { get; init; }

    /// <summary><c>tcp</c> or <c>udp</c>.</summary>
    public required string Protocol { get; init; }

    /// <summary>What the application passed to <c>bind</c>, e.g. <c>0.0.0.0:6379</c>.</summary>
    public required string Requested { get; init; }

    /// <summary>What is really bound.</summary>
    public required string Bound { get; init; }

    /// <summary>With <c>ax run --ip</c>: the address clients may use; absent otherwise.</summary>
    public string? Advertised { get; init; }

    /// <summary>Where ax connects clients to reach the service.</summary>
    public required string Target { get; init; }

    /// <summary>The inode of the listening socket.</summary>
    public required ulong SocketInode { get; init; }

    /// <summary>How many connections to the service ax switched to a Unix socket pair (docs/unix-switch.md).</summary>
    public long Switched { get; init; }

    /// <summary>When the service was registered (at <c>listen</c>).</summary>
    public required DateTimeOffset CreatedAt { get; init; }
}

/// <summary>A service reference (<c>GET /v1/refs</c>).</summary>
public sealed record RefDto
{
    /// <summary>The unique name.</summary>
    public required string Name { get; init; }

    /// <summary>The VIP in canonical form.</summary>
    public required string Vip { get; init; }

    /// <summary>The service selector in canonical form.</summary>
    public required string Selector { get; init; }

    /// <summary>The client selector, or absent for every client.</summary>
    public string? Clients { get; init; }

    /// <summary>The DNS name, or absent.</summary>
    public string? Dns { get; init; }

    /// <summary>How long a connect waits for a backend (<c>30s</c>, <c>0</c> refuses at once).</summary>
    public required string Wait { get; init; }

    /// <summary>What a nonblocking connect gets while there is no backend: <c>hold</c> or <c>eagain</c>.</summary>
    public required string Nonblocking { get; init; }

    /// <summary>Destinations the ref leaves alone (<c>CIDR[,CIDR]</c>), or absent.</summary>
    public string? Exclude { get; init; }

    /// <summary>Whether ax writes a PROXY header into the ref's connections: <c>none</c> or <c>v2</c>.</summary>
    public required string ProxyProtocol { get; init; }

    /// <summary>True when the ref's connections stay TCP even to a co-located service (docs/unix-switch.md).</summary>
    public bool NoUnix { get; init; }

    /// <summary>How many live TCP services the selector matches now.</summary>
    public required int Backends { get; init; }

    /// <summary>How many connects the ref is holding now, waiting for a backend.</summary>
    public int Held { get; init; }

    /// <summary>How long the oldest held connect has waited, in seconds; 0 when none is held.</summary>
    public double HeldLongestSeconds { get; init; }

    /// <summary>When the ref was created.</summary>
    public required DateTimeOffset CreatedAt { get; init; }
}

/// <summary>The body of <c>POST /v1/refs</c>.</summary>
public sealed record CreateRefRequest
{
    /// <summary>The name: lowercase letters, digits, '-' and '.'.</summary>
    public string? Name { get; init; }

    /// <summary><c>IP:PORT</c>, <c>IP/PREFIX:PORT</c>, <c>IP/PREFIX:*</c>, <c>[v6]:PORT</c>, <c>v6/PREFIX:*</c>.</summary>
    public string? Vip { get; init; }

    /// <summary><c>k=v[,k=v]</c>.</summary>
    public string? Selector { get; init; }

    /// <summary><c>k=v[,k=v]</c>, or absent for every client.</summary>
    public string? Clients { get; init; }

    /// <summary>A DNS name for the VIP, or absent.</summary>
    public string? Dns { get; init; }

    /// <summary>How long a connect waits for a backend (<c>30s</c>, <c>1m</c>, <c>0</c>); absent for 30s.</summary>
    public string? Wait { get; init; }

    /// <summary><c>hold</c> or <c>eagain</c>; absent for <c>hold</c>.</summary>
    public string? Nonblocking { get; init; }

    /// <summary>Destinations to leave alone, <c>CIDR[,CIDR]</c>; absent for none.</summary>
    public string? Exclude { get; init; }

    /// <summary><c>none</c> or <c>v2</c>; absent for the default (<c>v2</c> for a catch-all VIP, else <c>none</c>).</summary>
    public string? ProxyProtocol { get; init; }

    /// <summary>True to keep the ref's connections on TCP even to a co-located service; absent for false.</summary>
    public bool? NoUnix { get; init; }
}

/// <summary>The body of <c>GET /v1/version</c>.</summary>
public sealed record VersionDto
{
    /// <summary>The daemon's informational version.</summary>
    public required string Version { get; init; }

    /// <summary>The API version: <c>v1</c>.</summary>
    public required string ApiVersion { get; init; }

    /// <summary>The .NET runtime the daemon runs on.</summary>
    public required string Runtime { get; init; }
}

/// <summary>The body of <c>GET /healthz</c>.</summary>
public sealed record HealthDto
{
    /// <summary><c>ok</c>.</summary>
    public required string Status { get; init; }
}

/// <summary>The body of every error response: <c>{"error": {...}}</c>.</summary>
public sealed record ErrorResponse
{
    /// <summary>The error.</summary>
    public required ErrorBody Error { get; init; }
}

/// <summary>What went wrong.</summary>
public sealed record ErrorBody
{
    /// <summary>The HTTP status, repeated for clients that only keep the body.</summary>
    public required int Status { get; init; }

    /// <summary>A stable code from <see cref="ApiErrorCodes"/>.</summary>
    public required string Code { get; init; }

    /// <summary>A sentence for a person.</summary>
    public required string Message { get; init; }

    /// <summary>The field at fault, when exactly one is.</summary>
    public string? Field { get; init; }

    /// <summary>Every field problem, when validation found several (or one).</summary>
    public List<ErrorDetail>? Details { get; init; }
}

/// <summary>One field problem.</summary>
public sealed record ErrorDetail
{
    /// <summary>The field.</summary>
    public required string Field { get; init; }

    /// <summary>What is wrong with it.</summary>
    public required string Message { get; init; }
}

/// <summary>The stable error codes of the API (gRPC's canonical names, in snake case).</summary>
public static class ApiErrorCodes
{
    /// <summary>400: a field or the body is invalid.</summary>
    public const string InvalidArgument = "invalid_argument";

    /// <summary>404: no such resource or endpoint.</summary>
    public const string NotFound = "not_found";

    /// <summary>405: the endpoint exists but not with this method.</summary>
    public const string MethodNotAllowed = "method_not_allowed";

    /// <summary>409: the name is taken.</summary>
    public const string AlreadyExists = "already_exists";

    /// <summary>403: the caller may not write.</summary>
    public const string PermissionDenied = "permission_denied";

    /// <summary>415: the body is not JSON.</summary>
    public const string UnsupportedMediaType = "unsupported_media_type";

    /// <summary>500: a bug in the daemon; details are in its log.</summary>
    public const string Internal = "internal";
}
