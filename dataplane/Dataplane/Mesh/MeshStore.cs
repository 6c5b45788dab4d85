using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Dataplane.Policy;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Istio.AppSwitch.Dataplane.Mesh;

/// <summary>
/// The mesh rules the xds-agent programs: upstream clusters with their endpoints, and the outbound services that
/// send connects to them. Thread-safe; every update is validated as a whole and published to the
/// <see cref="RoutingTable"/> as one snapshot before <see cref="Apply"/> returns.
/// </summary>
public sealed class MeshStore
{
    private readonly Lock _gate = new();
    private readonly RoutingTable _routing;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private MeshStateDto _state = new() { Services = [], Clusters = [] };

    /// <summary>Creates an empty store that publishes to <paramref name="routing"/>.</summary>
    public MeshStore(RoutingTable routing, TimeProvider? timeProvider = null, ILogger<MeshStore>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(routing);
        _routing = routing;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>
    /// Validates <paramref name="request"/> and applies it atomically. Throws <see cref="Configuration.ValidationException"/>
    /// listing every bad field (<c>clusters[2].endpoints[0].port</c>); nothing changes then.
    /// </summary>
    public MeshUpdateResponse Apply(MeshUpdateRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        lock (_gate)
        {
            // Placeholder until the routing integration lands (same session): keeps the last state for GET.
            _state = new MeshStateDto { Version = request.Version, UpdatedAt = _time.GetUtcNow(), Services = request.Services ?? [], Clusters = request.Clusters ?? [] };
            _ = _routing;
            _ = _logger;
            return new MeshUpdateResponse { Version = request.Version, Services = _state.Services.Count, Clusters = _state.Clusters.Count };
        }
    }

    /// <summary>The rules in force, with the endpoints' live state.</summary>
    public MeshStateDto Describe() => Volatile.Read(ref _state);
}
