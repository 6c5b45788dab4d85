using BenchmarkDotNet.Attributes;
using Istio.AppSwitch.Dataplane.Policy.LoadBalancing;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Bench.Micro;

/// <summary>
/// <see cref="UpstreamCluster.Pick"/> over 1,000 healthy endpoints of one priority, per policy, with equal weights
/// and with weights 1 to 4. The source hash changes on every pick, as it does between clients.
/// </summary>
[MemoryDiagnoser]
public class LoadBalancingBenchmarks
{
    private UpstreamCluster _cluster = null!;
    private ulong _hash;

    [Params(UpstreamLbPolicy.RoundRobin, UpstreamLbPolicy.LeastRequest, UpstreamLbPolicy.Random, UpstreamLbPolicy.RingHash, UpstreamLbPolicy.Maglev)]
    public UpstreamLbPolicy Policy { get; set; }

    [Params(false, true)]
    public bool Weighted { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var endpoints = new UpstreamEndpointSpec[1000];
        for (var i = 0; i < endpoints.Length; i++)
        {
            var address = new InetEndpoint([127, 1, (byte)(i >> 8), (byte)i], 8080);
            endpoints[i] = new UpstreamEndpointSpec(address, Weighted ? (uint)(i % 4) + 1 : 1, 0, UpstreamHealth.Healthy);
        }
        var spec = new UpstreamClusterSpec("outbound|8080||svc.ns.svc.cluster.local", Policy, endpoints, uint.MaxValue, TimeSpan.FromSeconds(5), null);
        _cluster = UpstreamCluster.Create(spec, null, TimeProvider.System);
        if (_cluster.Pick(1, _cluster.Time.GetTimestamp()) is null)
        {
            throw new InvalidOperationException("The cluster picked nothing.");
        }
    }

    /// <summary>One pick, with the clock read as the daemon reads it.</summary>
    [Benchmark]
    public UpstreamEndpoint? Pick()
    {
        _hash += 0x9E3779B97F4A7C15;
        return _cluster.Pick(_hash, _cluster.Time.GetTimestamp());
    }
}
