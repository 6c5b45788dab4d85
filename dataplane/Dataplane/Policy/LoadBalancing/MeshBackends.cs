namespace Istio.AppSwitch.Dataplane.Policy.LoadBalancing;

/// <summary>
/// The clusters of one mesh service in one snapshot, with their weights: what a connect to the service draws from.
/// Immutable; the clusters carry the mutable per-endpoint state.
/// </summary>
internal sealed class MeshBackends
{
    private readonly UpstreamCluster[] _clusters;
    private readonly uint[] _cumulative;
    private readonly uint _total;

    /// <param name="clusters">The clusters, each with its weight; weights of zero take no connections.</param>
    public MeshBackends(IReadOnlyList<(UpstreamCluster Cluster, uint Weight)> clusters)
    {
        _clusters = new UpstreamCluster[clusters.Count];
        _cumulative = new uint[clusters.Count];
        uint total = 0;
        for (var i = 0; i < clusters.Count; i++)
        {
            _clusters[i] = clusters[i].Cluster;
            total += clusters[i].Weight;
            _cumulative[i] = total;
        }
        _total = total;
    }

    /// <summary>The clusters, in the service's order.</summary>
    public IReadOnlyList<UpstreamCluster> Clusters => _clusters;

    /// <summary>
    /// One cluster, drawn by weight for this connection (Envoy's <c>weighted_clusters</c>), or null when the service
    /// has none. Lock-free and allocation-free: <see cref="Random.Shared"/> is thread-safe without locking.
    /// </summary>
    public UpstreamCluster? Draw()
    {
        if (_clusters.Length <= 1)
        {
            return _clusters.Length == 0 || _total == 0 ? null : _clusters[0];
        }
        var ticket = (uint)Random.Shared.NextInt64(_total);
        var at = 0;
        while (_cumulative[at] <= ticket)
        {
            at++;
        }
        return _clusters[at];
    }
}
