// TEMPORARY, NOT COMMITTED: the wt-lb helper's API, so the routing integration compiles before the merge.
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Policy.LoadBalancing;

public enum UpstreamLbPolicy { RoundRobin, LeastRequest, Random, RingHash, Maglev }
public enum UpstreamHealth { Healthy, Degraded, Unhealthy }
public sealed record UpstreamEndpointSpec(InetEndpoint Address, uint Weight, uint Priority, UpstreamHealth Health);
public sealed record OutlierDetectionSpec(int ConsecutiveFailures, TimeSpan BaseEjectionTime, TimeSpan MaxEjectionTime, int MaxEjectionPercent);
public sealed record UpstreamClusterSpec(
    string Name, UpstreamLbPolicy LbPolicy, IReadOnlyList<UpstreamEndpointSpec> Endpoints,
    uint MaxConnections, TimeSpan ConnectTimeout, OutlierDetectionSpec? OutlierDetection,
    int ChoiceCount = 2, ulong MinimumRingSize = 1024, ulong MaximumRingSize = 8 * 1024 * 1024, ulong MaglevTableSize = 65537);

public sealed class UpstreamEndpoint
{
    internal int _active;
    public UpstreamEndpoint(UpstreamEndpointSpec s) { Address = s.Address; Weight = s.Weight; Priority = s.Priority; Health = s.Health; }
    public InetEndpoint Address { get; }
    public uint Weight { get; }
    public uint Priority { get; }
    public UpstreamHealth Health { get; }
    public int ActiveConnections => _active;
    public int ConsecutiveFailures { get; set; }
    public bool IsEjected(long nowTimestamp) => false;
    public int EjectionCount { get; }
}

public sealed class UpstreamCluster
{
    private int _active;
    private int _rr;
    private UpstreamCluster(UpstreamClusterSpec spec, UpstreamEndpoint[] endpoints) { Spec = spec; _endpoints = endpoints; }
    private readonly UpstreamEndpoint[] _endpoints;
    public static UpstreamCluster Create(UpstreamClusterSpec spec, UpstreamCluster? previous, TimeProvider time) =>
        new(spec, [.. spec.Endpoints.Select(e => previous?._endpoints.FirstOrDefault(p => p.Address == e.Address && p.Weight == e.Weight && p.Health == e.Health && p.Priority == e.Priority) ?? new UpstreamEndpoint(e))]);
    public string Name => Spec.Name;
    public UpstreamClusterSpec Spec { get; }
    public IReadOnlyList<UpstreamEndpoint> Endpoints => _endpoints;
    public int ActiveConnections => _active;
    public UpstreamEndpoint? Pick(ulong sourceHash, long nowTimestamp, UpstreamEndpoint? avoid = null)
    {
        for (var i = 0; i < _endpoints.Length; i++)
        {
            var e = _endpoints[(int)((uint)Interlocked.Increment(ref _rr) % (uint)_endpoints.Length)];
            if (e.Health != UpstreamHealth.Unhealthy && e != avoid) return e;
        }
        return null;
    }
    public bool TryAcquire(UpstreamEndpoint endpoint) { if (_active >= Spec.MaxConnections) return false; Interlocked.Increment(ref _active); Interlocked.Increment(ref endpoint._active); return true; }
    public void Release(UpstreamEndpoint endpoint) { Interlocked.Decrement(ref _active); Interlocked.Decrement(ref endpoint._active); }
    public void ReportConnect(UpstreamEndpoint endpoint, bool success, long nowTimestamp) => endpoint.ConsecutiveFailures = success ? 0 : endpoint.ConsecutiveFailures + 1;
    public static ulong HashSourceAddress(in InetEndpoint source) => (ulong)source.GetHashCode();
}
