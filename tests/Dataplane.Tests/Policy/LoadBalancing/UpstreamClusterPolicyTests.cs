using Istio.AppSwitch.Dataplane.Policy.LoadBalancing;
using static Istio.AppSwitch.Dataplane.Tests.Policy.LoadBalancing.Upstream;

namespace Istio.AppSwitch.Dataplane.Tests.Policy.LoadBalancing;

/// <summary>How each policy shares connects among the endpoints of one priority.</summary>
public sealed class UpstreamClusterPolicyTests
{
    [Theory]
    [InlineData(UpstreamLbPolicy.RoundRobin)]
    [InlineData(UpstreamLbPolicy.Random)]
    [InlineData(UpstreamLbPolicy.LeastRequest)]
    [InlineData(UpstreamLbPolicy.RingHash)]
    [InlineData(UpstreamLbPolicy.Maglev)]
    public void Pick_Weights1To3_SharesFollowWeights(UpstreamLbPolicy policy)
    {
        // A large ring keeps ketama's own spread of a host's points well inside the tolerance.
        var cluster = Build(Spec(policy, Endpoint(1, weight: 1), Endpoint(2, weight: 3)) with { MinimumRingSize = 16384 });

        var counts = Count(cluster, 100_000);

        Near(0.25, Share(counts, 1));
        Near(0.75, Share(counts, 2));
    }

    [Theory]
    [InlineData(UpstreamLbPolicy.RoundRobin)]
    [InlineData(UpstreamLbPolicy.Random)]
    [InlineData(UpstreamLbPolicy.LeastRequest)]
    [InlineData(UpstreamLbPolicy.RingHash)]
    [InlineData(UpstreamLbPolicy.Maglev)]
    public void Pick_FiveEqualEndpoints_EachGetsAFifth(UpstreamLbPolicy policy)
    {
        var cluster = Build(Spec(policy, [.. Enumerable.Range(1, 5).Select(i => Endpoint(i))]) with { MinimumRingSize = 16384 });

        var counts = Count(cluster, 100_000);

        for (var i = 1; i <= 5; i++)
        {
            Near(0.2, Share(counts, i));
        }
    }

    [Fact]
    public void Pick_RoundRobinEqualWeights_TakesEndpointsInTurn()
    {
        var cluster = Build(Spec(UpstreamLbPolicy.RoundRobin, Endpoint(1), Endpoint(2), Endpoint(3)));

        var picked = Enumerable.Range(0, 6).Select(_ => cluster.Pick(0, ManualClock.Start)!.Address).ToArray();

        Assert.Equal([Address(1), Address(2), Address(3), Address(1), Address(2), Address(3)], picked);
    }

    [Fact]
    public void Pick_RoundRobinWeights1To3_ShareHoldsInEveryShortWindow()
    {
        var cluster = Build(Spec(UpstreamLbPolicy.RoundRobin, Endpoint(1, weight: 1), Endpoint(2, weight: 3)));
        var light = Address(1);

        // The golden-ratio sequence is smooth: every run of 40 turns gives the light endpoint its 10, give or take 2.
        for (var window = 0; window < 500; window++)
        {
            var lightCount = 0;
            for (var i = 0; i < 40; i++)
            {
                lightCount += cluster.Pick(0, ManualClock.Start)!.Address == light ? 1 : 0;
            }

            Assert.InRange(lightCount, 8, 12);
        }
    }

    [Fact]
    public void Pick_LeastRequest_AvoidsTheBusyEndpoint()
    {
        var cluster = Build(Spec(UpstreamLbPolicy.LeastRequest, Endpoint(1), Endpoint(2), Endpoint(3)));
        var busy = cluster.Endpoints[0];
        for (var i = 0; i < 10; i++)
        {
            Assert.True(cluster.TryAcquire(busy));
        }

        var counts = Count(cluster, 30_000);

        // P2C takes the busy endpoint only when both draws land on it: 1/9 of the time.
        Near(1.0 / 9, Share(counts, 1));
        Near(4.0 / 9, Share(counts, 2));
        Near(4.0 / 9, Share(counts, 3));
    }

    [Fact]
    public void Pick_LeastRequestWithManyChoices_TakesTheLeastLoadedEndpoint()
    {
        var cluster = Build(Spec(UpstreamLbPolicy.LeastRequest, Endpoint(1), Endpoint(2), Endpoint(3)) with { ChoiceCount = 32 });
        cluster.TryAcquire(cluster.Endpoints[0]);
        cluster.TryAcquire(cluster.Endpoints[0]);
        cluster.TryAcquire(cluster.Endpoints[2]);

        var counts = Count(cluster, 1_000);

        Assert.Equal(1_000, counts.GetValueOrDefault(Address(2)));
    }

    [Fact]
    public void Pick_LeastRequestWeighted_ComparesConnectionsPerWeight()
    {
        // 1 connection on weight 1 is a heavier load than 2 on weight 4.
        var cluster = Build(Spec(UpstreamLbPolicy.LeastRequest, Endpoint(1, weight: 1), Endpoint(2, weight: 4)) with { ChoiceCount = 16 });
        cluster.TryAcquire(cluster.Endpoints[0]);
        cluster.TryAcquire(cluster.Endpoints[1]);
        cluster.TryAcquire(cluster.Endpoints[1]);

        var counts = Count(cluster, 1_000);

        Assert.Equal(1_000, counts.GetValueOrDefault(Address(2)));
    }

    [Theory]
    [InlineData(UpstreamLbPolicy.RoundRobin)]
    [InlineData(UpstreamLbPolicy.Random)]
    [InlineData(UpstreamLbPolicy.LeastRequest)]
    [InlineData(UpstreamLbPolicy.RingHash)]
    [InlineData(UpstreamLbPolicy.Maglev)]
    public void Pick_Avoid_NeverPicksTheAvoidedEndpoint(UpstreamLbPolicy policy)
    {
        var cluster = Build(Spec(policy, Endpoint(1), Endpoint(2), Endpoint(3)));
        var random = new Random(7);

        for (var i = 0; i < 2_000; i++)
        {
            var hash = (ulong)random.NextInt64();
            var first = cluster.Pick(hash, ManualClock.Start)!;
            var retry = cluster.Pick(hash, ManualClock.Start, avoid: first);
            Assert.NotNull(retry);
            Assert.NotSame(first.State, retry.State);
        }
    }

    [Theory]
    [InlineData(UpstreamLbPolicy.RoundRobin)]
    [InlineData(UpstreamLbPolicy.Random)]
    [InlineData(UpstreamLbPolicy.LeastRequest)]
    [InlineData(UpstreamLbPolicy.RingHash)]
    [InlineData(UpstreamLbPolicy.Maglev)]
    public void Pick_AvoidTheOnlyEndpoint_PicksItAnyway(UpstreamLbPolicy policy)
    {
        var cluster = Build(Spec(policy, Endpoint(1)));
        var only = cluster.Endpoints[0];

        Assert.Same(only, cluster.Pick(5, ManualClock.Start, avoid: only));
    }

    [Fact]
    public void Pick_AvoidTheOnlyHealthyEndpoint_PicksItRatherThanAnUnhealthyOne()
    {
        var cluster = Build(Spec(UpstreamLbPolicy.RoundRobin, Endpoint(1), Endpoint(2, health: UpstreamHealth.Unhealthy)));
        var healthy = cluster.Endpoints[0];

        for (var i = 0; i < 10; i++)
        {
            Assert.Same(healthy, cluster.Pick(0, ManualClock.Start, avoid: healthy));
        }
    }

    [Fact]
    public void Pick_AvoidAnEndpointOfAnEarlierBuild_StillAvoidsItsAddress()
    {
        var spec = Spec(UpstreamLbPolicy.Maglev, Endpoint(1), Endpoint(2));
        var before = Build(spec);
        var after = Build(spec, before);
        var random = new Random(3);

        for (var i = 0; i < 500; i++)
        {
            var hash = (ulong)random.NextInt64();
            var first = before.Pick(hash, ManualClock.Start)!;
            Assert.NotEqual(first.Address, after.Pick(hash, ManualClock.Start, avoid: first)!.Address);
        }
    }

    [Theory]
    [InlineData(UpstreamLbPolicy.RoundRobin, 50)]
    [InlineData(UpstreamLbPolicy.RingHash, 50)]
    [InlineData(UpstreamLbPolicy.Maglev, 0)]
    public void Pick_NoEndpoints_ReturnsNull(UpstreamLbPolicy policy, int panicThreshold)
    {
        var cluster = Build(Spec(policy) with { HealthyPanicThreshold = panicThreshold });

        Assert.Null(cluster.Pick(1, ManualClock.Start));
        Assert.Empty(cluster.Endpoints);
    }
}
