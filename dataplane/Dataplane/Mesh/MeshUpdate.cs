using Istio.AppSwitch.Dataplane.Policy.LoadBalancing;

namespace Istio.AppSwitch.Dataplane.Mesh;

/// <summary>A validated <see cref="Api.MeshUpdateRequest"/>.</summary>
internal sealed record MeshUpdate(
    bool Replace,
    string? Version,
    IReadOnlyList<UpstreamClusterSpec> Clusters,
    IReadOnlyList<string> DeleteClusters,
    IReadOnlyList<MeshService> Services,
    IReadOnlyList<string> DeleteServices);
