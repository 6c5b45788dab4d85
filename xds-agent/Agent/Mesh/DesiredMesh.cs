using System.Collections.Immutable;
using Istio.AppSwitch.Dataplane.Api;

namespace Istio.AppSwitch.XdsAgent.Mesh;

/// <summary>
/// The mesh rules one translation asks the daemon to hold: services by key and clusters by name, as the API's DTOs.
/// Immutable by convention: the DTOs in it are never changed after <see cref="MeshRuleMapper"/> made them.
/// </summary>
/// <param name="Services">The outbound services to send, by key.</param>
/// <param name="Clusters">The clusters the services name, by name.</param>
/// <param name="Skipped">What the translation had and the daemon cannot use, counted.</param>
/// <param name="InboundPorts">The workload's inbound ports, by key; null for none.</param>
public sealed record DesiredMesh(
    ImmutableSortedDictionary<string, MeshServiceDto> Services,
    ImmutableSortedDictionary<string, MeshClusterDto> Clusters,
    MeshMappingSkips Skipped,
    ImmutableSortedDictionary<string, MeshInboundPortDto>? InboundPorts = null)
{
    private static readonly ImmutableSortedDictionary<string, MeshInboundPortDto> NoInbound =
        ImmutableSortedDictionary.Create<string, MeshInboundPortDto>(StringComparer.Ordinal);

    /// <summary>The inbound ports, by key (empty when none).</summary>
    public ImmutableSortedDictionary<string, MeshInboundPortDto> Inbound => InboundPorts ?? NoInbound;

    /// <summary>No services, no clusters: the state of a daemon the agent has not programmed yet.</summary>
    public static DesiredMesh Empty { get; } = new(
        ImmutableSortedDictionary.Create<string, MeshServiceDto>(StringComparer.Ordinal),
        ImmutableSortedDictionary.Create<string, MeshClusterDto>(StringComparer.Ordinal),
        MeshMappingSkips.None);
}

/// <summary>What the mapping left out or changed, for logs and for people.</summary>
/// <param name="DnsOnlyServices">Services without an address (a host name only): a connect carries an IP, so they cannot match.</param>
/// <param name="Unusable">Services the daemon would refuse: no VIP it accepts, or fast with no cluster to send to.</param>
/// <param name="NonIpEndpoints">Endpoints given as a DNS name or a pipe path: ax connects to IP addresses only.</param>
/// <param name="LbFallbacks">Clusters whose LB policy ax does not have (<c>cluster_provided</c>, <c>other</c>), sent as round robin.</param>
public sealed record MeshMappingSkips(int DnsOnlyServices, int Unusable, int NonIpEndpoints, ImmutableArray<string> LbFallbacks)
{
    /// <summary>Nothing skipped.</summary>
    public static MeshMappingSkips None { get; } = new(0, 0, 0, []);
}
