using Istio.AppSwitch.Dataplane.Policy.LoadBalancing;
using static Istio.AppSwitch.Dataplane.Tests.Policy.LoadBalancing.Upstream;

namespace Istio.AppSwitch.Dataplane.Tests.Policy.LoadBalancing;

/// <summary>Priority failover, degraded endpoints and panic, as Envoy's priority load computes them.</summary>
public sealed class UpstreamClusterPriorityTests
{
    private const UpstreamHealth Healthy = UpstreamHealth.Healthy;
    private const UpstreamHealth Degraded = UpstreamHealth.Degraded;
    private const UpstreamHealth Unhealthy = UpstreamHealth.Unhealthy;

    [Theory]
    [InlineData(UpstreamLbPolicy.RoundRobin)]
    [InlineData(UpstreamLbPolicy.LeastRequest)]
    [InlineData(UpstreamLbPolicy.Maglev)]
    public void Pick_P0AllUnhealthy_P1TakesAll(UpstreamLbPolicy policy)
    {
        var cluster = Build(Spec(policy,
            Endpoint(1, priority: 0, health: Unhealthy), Endpoint(2, priority: 0, health: Unhealthy),
            Endpoint(3, priority: 1), Endpoint(4, priority: 1)));

        var counts = Count(cluster, 10_000);

        Assert.Equal(10_000, counts.GetValueOrDefault(Address(3)) + counts.GetValueOrDefault(Address(4)));
        Assert.Equal([0, 100], cluster.LoadsAt(ManualClock.Start).HealthyLoad.ToArray());
    }

    [Fact]
    public void Pick_P0HalfHealthy_SpillsThirtyPercentToP1()
    {
        // 50% healthy × 1.4 = 70% stays on P0; P1 takes the remaining 30%.
        var cluster = Build(Spec(UpstreamLbPolicy.RoundRobin,
            Endpoint(1, priority: 0), Endpoint(2, priority: 0),
            Endpoint(3, priority: 0, health: Unhealthy), Endpoint(4, priority: 0, health: Unhealthy),
            Endpoint(5, priority: 1), Endpoint(6, priority: 1)));

        var counts = Count(cluster, 100_000);

        Assert.Equal([70, 30], cluster.LoadsAt(ManualClock.Start).HealthyLoad.ToArray());
        Near(0.70, Share(counts, 1) + Share(counts, 2));
        Near(0.30, Share(counts, 5) + Share(counts, 6));
        Assert.Equal(0, counts.GetValueOrDefault(Address(3)) + counts.GetValueOrDefault(Address(4)));
    }

    [Fact]
    public void Pick_P0FourFifthsHealthy_P0StillTakesAll()
    {
        // 80% × 1.4 = 112%, capped at 100: the overprovisioning factor hides the loss.
        var cluster = Build(Spec(UpstreamLbPolicy.Random,
            Endpoint(1), Endpoint(2), Endpoint(3), Endpoint(4), Endpoint(5, health: Unhealthy),
            Endpoint(6, priority: 1)));

        var counts = Count(cluster, 10_000);

        Assert.Equal(0, counts.GetValueOrDefault(Address(6)));
        Assert.Equal(0, counts.GetValueOrDefault(Address(5)));
    }

    [Fact]
    public void Pick_PriorityValuesWithGaps_OrderedByValue()
    {
        var cluster = Build(Spec(UpstreamLbPolicy.RoundRobin, Endpoint(1, priority: 7), Endpoint(2, priority: 3, health: Unhealthy), Endpoint(3, priority: 5)));

        Assert.Equal([3u, 5u, 7u], cluster.Priorities);
        Assert.Equal(Address(3), cluster.Pick(0, ManualClock.Start)!.Address);
    }

    [Fact]
    public void Pick_HealthyAndDegradedInP0_DegradedTakesWhatHealthyCannot()
    {
        // Healthy availability 1/2 × 1.4 = 70%; the degraded endpoint takes the other 30%.
        var cluster = Build(Spec(UpstreamLbPolicy.RoundRobin, Endpoint(1), Endpoint(2, health: Degraded)));

        var counts = Count(cluster, 100_000);

        var loads = cluster.LoadsAt(ManualClock.Start);
        Assert.Equal([70], loads.HealthyLoad.ToArray());
        Assert.Equal([30], loads.DegradedLoad.ToArray());
        Near(0.70, Share(counts, 1));
        Near(0.30, Share(counts, 2));
    }

    [Fact]
    public void Pick_DegradedP0HealthyP1_HealthyLowerPriorityWins()
    {
        var cluster = Build(Spec(UpstreamLbPolicy.RoundRobin, Endpoint(1, health: Degraded), Endpoint(2, priority: 1)));

        var counts = Count(cluster, 1_000);

        Assert.Equal(1_000, counts.GetValueOrDefault(Address(2)));
    }

    [Fact]
    public void Pick_OnlyDegradedEndpoints_TheyTakeAll()
    {
        var cluster = Build(Spec(UpstreamLbPolicy.RoundRobin, Endpoint(1, health: Degraded), Endpoint(2, health: Degraded), Endpoint(3, health: Unhealthy)));

        var counts = Count(cluster, 1_000);

        Assert.Equal(1_000, counts.GetValueOrDefault(Address(1)) + counts.GetValueOrDefault(Address(2)));
    }

    [Fact]
    public void Pick_AllUnhealthyWithPanicThreshold_PanicsAcrossAllEndpoints()
    {
        var cluster = Build(Spec(UpstreamLbPolicy.RoundRobin,
            Endpoint(1, health: Unhealthy), Endpoint(2, health: Unhealthy),
            Endpoint(3, priority: 1, health: Unhealthy), Endpoint(4, priority: 1, health: Unhealthy)));

        var counts = Count(cluster, 100_000);

        // Total panic: the load splits by endpoint count, and each level picks among all its endpoints.
        var loads = cluster.LoadsAt(ManualClock.Start);
        Assert.Equal([true, true], loads.Panic.ToArray());
        Assert.Equal([50, 50], loads.HealthyLoad.ToArray());
        for (var i = 1; i <= 4; i++)
        {
            Near(0.25, Share(counts, i));
        }
    }

    [Fact]
    public void Pick_AllUnhealthyPanicDisabled_ReturnsNull()
    {
        var cluster = Build(Spec(UpstreamLbPolicy.RoundRobin, Endpoint(1, health: Unhealthy), Endpoint(2, health: Unhealthy)) with { HealthyPanicThreshold = 0 });

        Assert.Null(cluster.Pick(0, ManualClock.Start));
    }

    [Fact]
    public void Pick_QuarterHealthy_PanicUsesUnhealthyToo()
    {
        // 25% healthy is under the 50% threshold, and 35% availability is not enough to skip the panic check.
        var cluster = Build(Spec(UpstreamLbPolicy.RoundRobin, Endpoint(1), Endpoint(2, health: Unhealthy), Endpoint(3, health: Unhealthy), Endpoint(4, health: Unhealthy)));

        var counts = Count(cluster, 10_000);

        for (var i = 1; i <= 4; i++)
        {
            Near(0.25, Share(counts, i));
        }
    }

    [Fact]
    public void Pick_QuarterHealthyPanicDisabled_OnlyTheHealthyOne()
    {
        var spec = Spec(UpstreamLbPolicy.RoundRobin, Endpoint(1), Endpoint(2, health: Unhealthy), Endpoint(3, health: Unhealthy), Endpoint(4, health: Unhealthy));
        var cluster = Build(spec with { HealthyPanicThreshold = 0 });

        var counts = Count(cluster, 1_000);

        Assert.Equal(1_000, counts.GetValueOrDefault(Address(1)));
    }

    [Fact]
    public void Pick_P0LowButP1Healthy_NoPanicBecauseTotalIsEnough()
    {
        // P0 is 25% healthy (35% load) but P1 fills the rest: the total is 100%, so no level panics.
        var cluster = Build(Spec(UpstreamLbPolicy.RoundRobin,
            Endpoint(1), Endpoint(2, health: Unhealthy), Endpoint(3, health: Unhealthy), Endpoint(4, health: Unhealthy),
            Endpoint(5, priority: 1)));

        var counts = Count(cluster, 100_000);

        var loads = cluster.LoadsAt(ManualClock.Start);
        Assert.Equal([35, 65], loads.HealthyLoad.ToArray());
        Assert.Equal([false, false], loads.Panic.ToArray());
        Near(0.35, Share(counts, 1));
        Near(0.65, Share(counts, 5));
    }
}
