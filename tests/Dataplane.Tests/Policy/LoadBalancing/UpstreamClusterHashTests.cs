using Istio.AppSwitch.Dataplane.Policy.LoadBalancing;
using Istio.AppSwitch.Interop;
using static Istio.AppSwitch.Dataplane.Tests.Policy.LoadBalancing.Upstream;

namespace Istio.AppSwitch.Dataplane.Tests.Policy.LoadBalancing;

/// <summary>RING_HASH and MAGLEV: stickiness, and how few keys move when the endpoints change.</summary>
public sealed class UpstreamClusterHashTests
{
    private const int Keys = 20_000;

    [Theory]
    [InlineData(UpstreamLbPolicy.RingHash)]
    [InlineData(UpstreamLbPolicy.Maglev)]
    public void Pick_SameSourceHash_SameEndpointInEveryBuild(UpstreamLbPolicy policy)
    {
        var spec = Spec(policy, [.. Enumerable.Range(1, 8).Select(i => Endpoint(i))]);
        var first = Build(spec);
        var second = Build(spec);
        var source = UpstreamCluster.HashSourceAddress(new InetEndpoint([192, 168, 1, 20], 40000));

        var picked = first.Pick(source, ManualClock.Start)!;

        for (var i = 0; i < 100; i++)
        {
            Assert.Same(picked, first.Pick(source, ManualClock.Start));
            Assert.Equal(picked.Address, second.Pick(source, ManualClock.Start)!.Address);
        }
    }

    [Fact]
    public void Pick_MaglevOneOfTenEndpointsRemoved_MovesAboutATenthOfTheKeys()
    {
        var (moved, movedElsewhere) = MovedKeys(UpstreamLbPolicy.Maglev);

        Assert.InRange(moved, 0.06, 0.15);
        Assert.True(movedElsewhere < 0.02, $"{movedElsewhere:P1} of the keys of other endpoints moved");
    }

    [Fact]
    public void Pick_RingHashOneOfTenEndpointsRemoved_MovesItsKeysPlusWhatTheRescaledRingTakes()
    {
        // Envoy sizes the ring from the host count: 10 hosts get 103 points each in a 1024 ring, 9 get 114, and the
        // 11 new points of each remaining host take their arcs from the others. So about 1/N plus as much again moves.
        var (moved, movedElsewhere) = MovedKeys(UpstreamLbPolicy.RingHash);

        Assert.InRange(moved, 0.06, 0.2);
        Assert.InRange(movedElsewhere, 0.0, 0.1);
    }

    [Fact]
    public void Pick_RingHashOneOfTenEndpointsRemovedFromAFixedSizeRing_MovesOnlyItsKeys()
    {
        // With a minimum ring size of 1, each host gets weight / lightest weight points, whatever the host count: a
        // light host of weight 1 that stays keeps the other hosts at 100 points each, and only the removed host's keys move.
        var (moved, movedElsewhere) = MovedKeys(UpstreamLbPolicy.RingHash, weight: 100, ringSize: 1, Endpoint(11, weight: 1));

        Assert.InRange(moved, 0.06, 0.15);
        Assert.Equal(0, movedElsewhere);
    }

    /// <summary>The share of keys that change endpoint when endpoint 4 of 10 goes, and the share of those that were
    /// not on endpoint 4.</summary>
    private static (double Moved, double MovedElsewhere) MovedKeys(UpstreamLbPolicy policy, uint weight = 1, ulong ringSize = 1024, params UpstreamEndpointSpec[] others)
    {
        var all = Enumerable.Range(1, 10).Select(i => Endpoint(i, weight)).Concat(others).ToArray();
        var before = Build(Spec(policy, all) with { MinimumRingSize = ringSize });
        var after = Build(Spec(policy, [.. all.Where(e => e.Address != Address(4))]) with { MinimumRingSize = ringSize });
        var random = new Random(11);

        int moved = 0, movedElsewhere = 0;
        for (var i = 0; i < Keys; i++)
        {
            var hash = (ulong)random.NextInt64(long.MinValue, long.MaxValue);
            var was = before.Pick(hash, ManualClock.Start)!.Address;
            var now = after.Pick(hash, ManualClock.Start)!.Address;
            if (was != now)
            {
                moved++;
                movedElsewhere += was == Address(4) ? 0 : 1;
            }
        }

        return ((double)moved / Keys, (double)movedElsewhere / Keys);
    }

    [Theory]
    [InlineData(UpstreamLbPolicy.RingHash)]
    [InlineData(UpstreamLbPolicy.Maglev)]
    public void Pick_EndpointUnhealthy_ItsKeysWalkOnAndTheOthersStay(UpstreamLbPolicy policy)
    {
        var healthy = Enumerable.Range(1, 10).Select(i => Endpoint(i)).ToArray();
        var oneDown = healthy.Select(e => e.Address == Address(4) ? e with { Health = UpstreamHealth.Unhealthy } : e).ToArray();
        var before = Build(Spec(policy, healthy));
        var after = Build(Spec(policy, oneDown));
        var random = new Random(5);

        for (var i = 0; i < Keys; i++)
        {
            var hash = (ulong)random.NextInt64(long.MinValue, long.MaxValue);
            var was = before.Pick(hash, ManualClock.Start)!.Address;
            var now = after.Pick(hash, ManualClock.Start)!.Address;
            Assert.NotEqual(Address(4), now);
            if (was != Address(4))
            {
                Assert.Equal(was, now);
            }
        }
    }

    [Fact]
    public void Maglev_Weights1To3_SlotsFollowWeights()
    {
        var cluster = Build(Spec(UpstreamLbPolicy.Maglev, Endpoint(1, weight: 1), Endpoint(2, weight: 3)));
        var table = cluster.Groups[0].Maglev!;

        Assert.Equal(65537, table.Size);
        Near(0.25, (double)table.SlotsOf(cluster.Endpoints[0]) / table.Size, 0.005);
    }

    [Fact]
    public void RingHash_Size_FollowsEnvoysScaling()
    {
        // Envoy: scale = min(ceil(min_weight × min_size) / min_weight, max_size), weights normalized to sum 1.
        var small = Build(Spec(UpstreamLbPolicy.RingHash, Endpoint(1), Endpoint(2), Endpoint(3)));
        var capped = Build(Spec(UpstreamLbPolicy.RingHash, Endpoint(1), Endpoint(2), Endpoint(3)) with { MinimumRingSize = 100, MaximumRingSize = 100 });
        var many = Build(Spec(UpstreamLbPolicy.RingHash, [.. Enumerable.Range(1, 2000).Select(i => Endpoint(i))]));

        Assert.Equal(1026, small.Groups[0].Ring!.Size);
        Assert.Equal(100, capped.Groups[0].Ring!.Size);
        Assert.Equal(2000, many.Groups[0].Ring!.Size);
    }

    [Fact]
    public void Create_MaglevTableSizeNotPrime_Throws()
    {
        var spec = Spec(UpstreamLbPolicy.Maglev, Endpoint(1)) with { MaglevTableSize = 65536 };

        var error = Assert.Throws<ArgumentException>(() => Build(spec));

        Assert.Contains("maglevTableSize", error.Message, StringComparison.Ordinal);
    }
}
