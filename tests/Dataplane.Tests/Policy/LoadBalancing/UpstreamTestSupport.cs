using Istio.AppSwitch.Dataplane.Policy.LoadBalancing;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Tests.Policy.LoadBalancing;

/// <summary>Builders and counters the upstream load-balancing tests share.</summary>
internal static class Upstream
{
    /// <summary>10.0.x.y:port for endpoint <paramref name="index"/>.</summary>
    public static InetEndpoint Address(int index, ushort port = 8080) => new([10, 0, (byte)(index >> 8), (byte)index], port);

    public static UpstreamEndpointSpec Endpoint(int index, uint weight = 1, uint priority = 0, UpstreamHealth health = UpstreamHealth.Healthy) =>
        new(Address(index), weight, priority, health);

    public static UpstreamClusterSpec Spec(UpstreamLbPolicy policy, params UpstreamEndpointSpec[] endpoints) =>
        new("outbound|8080||svc.ns.svc.cluster.local", policy, endpoints, uint.MaxValue, TimeSpan.FromSeconds(5), null);

    public static UpstreamCluster Build(UpstreamClusterSpec spec, UpstreamCluster? previous = null, ManualClock? clock = null) =>
        UpstreamCluster.Create(spec, previous, clock ?? new ManualClock());

    /// <summary>How many of <paramref name="picks"/> went to each address; source hashes from a seeded generator.</summary>
    public static Dictionary<InetEndpoint, int> Count(UpstreamCluster cluster, int picks, long now = ManualClock.Start, int seed = 1)
    {
        var random = new Random(seed);
        var counts = new Dictionary<InetEndpoint, int>();
        for (var i = 0; i < picks; i++)
        {
            var picked = cluster.Pick((ulong)random.NextInt64(long.MinValue, long.MaxValue), now);
            Assert.NotNull(picked);
            counts[picked.Address] = counts.GetValueOrDefault(picked.Address) + 1;
        }

        return counts;
    }

    public static double Share(Dictionary<InetEndpoint, int> counts, int index) =>
        (double)counts.GetValueOrDefault(Address(index)) / counts.Values.Sum();

    /// <summary>Asserts that <paramref name="actual"/> is within <paramref name="tolerance"/> of <paramref name="expected"/>.</summary>
    public static void Near(double expected, double actual, double tolerance = 0.02) =>
        Assert.True(Math.Abs(expected - actual) <= tolerance, $"expected {expected:F4} ± {tolerance}, got {actual:F4}");
}

/// <summary>A clock that moves only when told: timestamps are 100 ns ticks.</summary>
internal sealed class ManualClock : TimeProvider
{
    public const long Start = 1_000_000_000;

    public long Now { get; private set; } = Start;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Now;

    public long Advance(TimeSpan by) => Now += by.Ticks;
}
