namespace Istio.AppSwitch.Dataplane.Api;

/// <summary>One connect decision ax made (<c>GET /v1/connections</c>), from the daemon's ring of recent decisions.</summary>
public sealed record ConnectionDto
{
    /// <summary>When ax decided.</summary>
    public required DateTimeOffset Time { get; init; }

    /// <summary>The application's id (app-N).</summary>
    public required string App { get; init; }

    /// <summary>The application's name.</summary>
    public required string AppName { get; init; }

    /// <summary>The pid of the process ax started for the application (the connecting thread may be a child).</summary>
    public required int Pid { get; init; }

    /// <summary>The address the application connected to (a VIP, or any address for a passthrough).</summary>
    public required string Destination { get; init; }

    /// <summary>Where ax connected it; absent for a refused or held connect.</summary>
    public string? Backend { get; init; }

    /// <summary>fast, unix, chain or passthrough.</summary>
    public required string Mode { get; init; }

    /// <summary>allowed, denied, refused or held.</summary>
    public required string Decision { get; init; }

    /// <summary>The ref (or mesh service key) that matched; absent when none did.</summary>
    public string? Ref { get; init; }
}

/// <summary>One line of <c>GET /v1/events</c> (JSON lines).</summary>
public sealed record EventDto
{
    /// <summary>When it happened.</summary>
    public required DateTimeOffset Time { get; init; }

    /// <summary>
    /// connect, held, released, service-up, service-down, ref-created, ref-deleted, mesh-applied, xds-acked, xds-nacked, or
    /// dropped (this subscriber lagged and <see cref="Dropped"/> events were not delivered).
    /// </summary>
    public required string Type { get; init; }

    /// <summary>The application's id.</summary>
    public string? App { get; init; }

    /// <summary>The ref or mesh service key.</summary>
    public string? Ref { get; init; }

    /// <summary>The service id (service-up, service-down).</summary>
    public string? Service { get; init; }

    /// <summary>The destination the application asked for, or the service's address.</summary>
    public string? Destination { get; init; }

    /// <summary>Where ax connected.</summary>
    public string? Backend { get; init; }

    /// <summary>fast, unix, chain or passthrough.</summary>
    public string? Mode { get; init; }

    /// <summary>allowed, denied, refused or held.</summary>
    public string? Decision { get; init; }

    /// <summary>How long a released connect was held, in seconds.</summary>
    public double? WaitSeconds { get; init; }

    /// <summary>The xDS type URL (xds-acked, xds-nacked).</summary>
    public string? TypeUrl { get; init; }

    /// <summary>The version applied, or the last good one after a NACK.</summary>
    public string? Version { get; init; }

    /// <summary>A NACK's error detail, or a short summary.</summary>
    public string? Message { get; init; }

    /// <summary>How many events this subscriber lost (type dropped).</summary>
    public long? Dropped { get; init; }
}

/// <summary><c>GET /v1/refs/{name}/describe</c>: a ref, what it matches now, and why it runs the way it does.</summary>
public sealed record RefDescriptionDto
{
    /// <summary>The ref itself.</summary>
    public required RefDto Ref { get; init; }

    /// <summary>Where it comes from: "api" (ax create ref) or "mesh" (the xds-agent's translation of Istio resources).</summary>
    public required string Origin { get; init; }

    /// <summary>fast, unix, chain, capture or blackhole.</summary>
    public required string Mode { get; init; }

    /// <summary>Why the connects go that way, one reason a line.</summary>
    public required List<string> Reasons { get; init; }

    /// <summary>The services its selector matches now.</summary>
    public required List<ServiceDto> Services { get; init; }

    /// <summary>For a mesh ref: the clusters it draws from, with their endpoints and policies.</summary>
    public List<string>? Clusters { get; init; }

    /// <summary>The Istio/Envoy resources that produced the rule (listener, route, cluster names).</summary>
    public List<string>? Sources { get; init; }

    /// <summary>Inbound RBAC that applies to the services it matches.</summary>
    public List<string>? Rbac { get; init; }

    /// <summary>
    /// The Istio resources that produced the rule, as <c>istioctl x describe</c> names them: for a mesh service its
    /// VirtualService, DestinationRule and Sidecar; for a ref, the AuthorizationPolicies on its services' inbound ports.
    /// Absent when istiod named none (or the rules came from elsewhere).
    /// </summary>
    public List<MeshIstioResourceDto>? IstioResources { get; init; }

    /// <summary>Its connection counts by mode and decision since the daemon started.</summary>
    public required Dictionary<string, long> Connections { get; init; }
}

/// <summary><c>GET /v1/apps/{id}/describe</c>: an application, its services and its recent connects.</summary>
public sealed record AppDescriptionDto
{
    /// <summary>The application.</summary>
    public required AppDto App { get; init; }

    /// <summary>The services it listens on.</summary>
    public required List<ServiceDto> Services { get; init; }

    /// <summary>The refs whose client selector takes its connects (all refs without one).</summary>
    public required List<string> Refs { get; init; }

    /// <summary>Its connects still in the daemon's ring of recent decisions, newest first.</summary>
    public required List<ConnectionDto> Connections { get; init; }
}
