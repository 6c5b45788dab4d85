using Istio.AppSwitch.Dataplane.Api;

namespace Istio.AppSwitch.XdsAgent.Mesh;

/// <summary>
/// The smallest <see cref="MeshUpdateRequest"/> that takes the daemon from the rules it holds to the rules wanted:
/// upserts of what is new or different (by value), deletes of what is gone. Pure.
/// </summary>
public static class MeshDiff
{
    /// <summary>
    /// The update from <paramref name="applied"/> to <paramref name="desired"/>. With <paramref name="replace"/> (the
    /// first push after the agent started, or after a push failed and the daemon's state is unknown), the whole desired
    /// state with <c>Replace = true</c>: the daemon drops whatever it holds that is not in it.
    /// </summary>
    public static MeshUpdateRequest Compute(DesiredMesh applied, DesiredMesh desired, bool replace, string? version = null)
    {
        ArgumentNullException.ThrowIfNull(applied);
        ArgumentNullException.ThrowIfNull(desired);
        if (replace)
        {
            return new MeshUpdateRequest
            {
                Replace = true,
                Version = version,
                Clusters = [.. desired.Clusters.Values],
                Services = [.. desired.Services.Values],
                Inbound = [.. desired.Inbound.Values],
            };
        }

        var clusters = desired.Clusters
            .Where(c => !applied.Clusters.TryGetValue(c.Key, out var old) || (!ReferenceEquals(old, c.Value) && !MeshDtoEquality.Equal(old, c.Value)))
            .Select(c => c.Value).ToList();
        var services = desired.Services
            .Where(s => !applied.Services.TryGetValue(s.Key, out var old) || (!ReferenceEquals(old, s.Value) && !MeshDtoEquality.Equal(old, s.Value)))
            .Select(s => s.Value).ToList();
        var inbound = desired.Inbound
            .Where(i => !applied.Inbound.TryGetValue(i.Key, out var old) || (!ReferenceEquals(old, i.Value) && !MeshDtoEquality.Equal(old, i.Value)))
            .Select(i => i.Value).ToList();
        var deleteInbound = applied.Inbound.Keys.Where(k => !desired.Inbound.ContainsKey(k)).ToList();
        var deleteClusters = applied.Clusters.Keys.Where(k => !desired.Clusters.ContainsKey(k)).ToList();
        var deleteServices = applied.Services.Keys.Where(k => !desired.Services.ContainsKey(k)).ToList();
        return new MeshUpdateRequest
        {
            Replace = false,
            Version = version,
            Clusters = clusters.Count == 0 ? null : clusters,
            DeleteClusters = deleteClusters.Count == 0 ? null : deleteClusters,
            Services = services.Count == 0 ? null : services,
            DeleteServices = deleteServices.Count == 0 ? null : deleteServices,
            Inbound = inbound.Count == 0 ? null : inbound,
            DeleteInbound = deleteInbound.Count == 0 ? null : deleteInbound,
        };
    }

    /// <summary>Whether the update changes nothing (a delta with no upsert and no delete).</summary>
    public static bool IsEmpty(MeshUpdateRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return !request.Replace && Count(request.Clusters) + Count(request.DeleteClusters) + Count(request.Services) + Count(request.DeleteServices)
            + Count(request.Inbound) + Count(request.DeleteInbound) == 0;
    }

    private static int Count<T>(List<T>? list) => list?.Count ?? 0;
}

/// <summary>
/// Value equality of the mesh DTOs. The records compare their lists by reference, so two equal mappings of the same
/// translation would otherwise always differ.
/// </summary>
internal static class MeshDtoEquality
{
    public static bool Equal(MeshServiceDto a, MeshServiceDto b) =>
        a.Key == b.Key && a.Vip == b.Vip && a.Mode == b.Mode && a.HashOnSourceIp == b.HashOnSourceIp &&
        a.ConnectRetries == b.ConnectRetries && a.Listener == b.Listener &&
        SequenceEqual(a.DnsNames, b.DnsNames) && SequenceEqual(a.Reasons, b.Reasons) && SequenceEqual(a.Clusters, b.Clusters) &&
        SequenceEqual(a.IstioResources, b.IstioResources);

    public static bool Equal(MeshClusterDto a, MeshClusterDto b) =>
        a.Name == b.Name && a.LbPolicy == b.LbPolicy && a.ChoiceCount == b.ChoiceCount &&
        a.MinimumRingSize == b.MinimumRingSize && a.MaximumRingSize == b.MaximumRingSize && a.MaglevTableSize == b.MaglevTableSize &&
        a.ConnectTimeout == b.ConnectTimeout && a.MaxConnections == b.MaxConnections && Equals(a.OutlierDetection, b.OutlierDetection) &&
        a.HealthyPanicThreshold == b.HealthyPanicThreshold && SequenceEqual(a.Endpoints, b.Endpoints);

    public static bool Equal(MeshInboundPortDto a, MeshInboundPortDto b) =>
        a.Key == b.Key && a.Selector == b.Selector && a.Port == b.Port && a.Mode == b.Mode && SequenceEqual(a.Reasons, b.Reasons) &&
        (a.Rbac?.GetRawText() ?? "") == (b.Rbac?.GetRawText() ?? "") && SequenceEqual(a.IstioResources, b.IstioResources);

    // The element records (weighted clusters, endpoints, Istio resources) hold no lists, so their own equality is by value.
    private static bool SequenceEqual<T>(List<T>? a, List<T>? b) =>
        (a is null || a.Count == 0) ? (b is null || b.Count == 0) : b is not null && a.SequenceEqual(b);
}
