using Istio.AppSwitch.Dataplane.Policy.LoadBalancing;
using static Istio.AppSwitch.Dataplane.Tests.Policy.LoadBalancing.Upstream;

namespace Istio.AppSwitch.Dataplane.Tests.Policy.LoadBalancing;

/// <summary>Outlier detection on connect outcomes: ejection, its length, its return, and the max-percent cap.</summary>
public sealed class UpstreamClusterOutlierTests
{
    private static readonly OutlierDetectionSpec ThreeFailures = new(3, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(300), 100);

    private static UpstreamCluster BuildWithOutlier(ManualClock clock, OutlierDetectionSpec outlier, int endpoints, UpstreamLbPolicy policy = UpstreamLbPolicy.RoundRobin) =>
        Build(Spec(policy, [.. Enumerable.Range(1, endpoints).Select(i => Endpoint(i))]) with { OutlierDetection = outlier }, clock: clock);

    private static void Fail(UpstreamCluster cluster, UpstreamEndpoint endpoint, int times, long now)
    {
        for (var i = 0; i < times; i++)
        {
            cluster.ReportConnect(endpoint, success: false, now);
        }
    }

    [Fact]
    public void ReportConnect_ConsecutiveFailuresReachThreshold_EjectsUntilBaseTimePasses()
    {
        var clock = new ManualClock();
        var cluster = BuildWithOutlier(clock, ThreeFailures, 3);
        var bad = cluster.Endpoints[1];

        Fail(cluster, bad, 2, clock.Now);
        Assert.False(bad.IsEjected(clock.Now));
        Assert.Equal(2, bad.ConsecutiveFailures);

        Fail(cluster, bad, 1, clock.Now);
        Assert.True(bad.IsEjected(clock.Now));
        Assert.Equal(1, bad.EjectionCount);
        Assert.Equal(0, bad.ConsecutiveFailures);
        Assert.DoesNotContain(Address(2), Count(cluster, 3_000, clock.Now).Keys);

        clock.Advance(TimeSpan.FromSeconds(29));
        Assert.True(bad.IsEjected(clock.Now));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.False(bad.IsEjected(clock.Now));
        Near(1.0 / 3, Share(Count(cluster, 3_000, clock.Now), 2));
    }

    [Fact]
    public void ReportConnect_SuccessBetweenFailures_ResetsTheCount()
    {
        var clock = new ManualClock();
        var cluster = BuildWithOutlier(clock, ThreeFailures, 2);
        var endpoint = cluster.Endpoints[0];

        Fail(cluster, endpoint, 2, clock.Now);
        cluster.ReportConnect(endpoint, success: true, clock.Now);
        Fail(cluster, endpoint, 2, clock.Now);

        Assert.False(endpoint.IsEjected(clock.Now));
        Assert.Equal(2, endpoint.ConsecutiveFailures);
    }

    [Fact]
    public void ReportConnect_EjectedAgain_LastsLongerUpToTheMaximum()
    {
        var clock = new ManualClock();
        var outlier = new OutlierDetectionSpec(1, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(25), 100);
        var cluster = BuildWithOutlier(clock, outlier, 2);
        var endpoint = cluster.Endpoints[0];

        // The n-th ejection lasts n × 10 s, capped at 25 s.
        foreach (var expected in new[] { 10, 20, 25, 25 })
        {
            Fail(cluster, endpoint, 1, clock.Now);
            clock.Advance(TimeSpan.FromSeconds(expected) - TimeSpan.FromTicks(1));
            Assert.True(endpoint.IsEjected(clock.Now));
            clock.Advance(TimeSpan.FromTicks(1));
            Assert.False(endpoint.IsEjected(clock.Now));
        }

        Assert.Equal(4, endpoint.EjectionCount);
    }

    [Fact]
    public void ReportConnect_TenPercentOfTen_EjectsOneAtATime()
    {
        var clock = new ManualClock();
        var cluster = BuildWithOutlier(clock, ThreeFailures with { MaxEjectionPercent = 10 }, 10);

        Fail(cluster, cluster.Endpoints[0], 3, clock.Now);
        Fail(cluster, cluster.Endpoints[1], 3, clock.Now);

        Assert.True(cluster.Endpoints[0].IsEjected(clock.Now));
        Assert.False(cluster.Endpoints[1].IsEjected(clock.Now));

        // Once the first is back, the second may go on its next failure.
        clock.Advance(TimeSpan.FromSeconds(30));
        Fail(cluster, cluster.Endpoints[1], 1, clock.Now);
        Assert.True(cluster.Endpoints[1].IsEjected(clock.Now));
    }

    [Fact]
    public void ReportConnect_TenPercentOfThree_StillEjectsOne()
    {
        // Envoy ejects while the ejected share is below the maximum, so the first ejection always passes.
        var clock = new ManualClock();
        var cluster = BuildWithOutlier(clock, ThreeFailures with { MaxEjectionPercent = 10 }, 3);

        Fail(cluster, cluster.Endpoints[0], 3, clock.Now);
        Fail(cluster, cluster.Endpoints[1], 3, clock.Now);

        Assert.True(cluster.Endpoints[0].IsEjected(clock.Now));
        Assert.False(cluster.Endpoints[1].IsEjected(clock.Now));
    }

    [Fact]
    public void ReportConnect_FiftyPercentOfThree_EjectsTwo()
    {
        // 0% < 50% and 33% < 50% pass; 67% does not.
        var clock = new ManualClock();
        var cluster = BuildWithOutlier(clock, ThreeFailures with { MaxEjectionPercent = 50 }, 3);

        foreach (var endpoint in cluster.Endpoints)
        {
            Fail(cluster, endpoint, 3, clock.Now);
        }

        Assert.Equal(2, cluster.Endpoints.Count(e => e.IsEjected(clock.Now)));
    }

    [Fact]
    public void ReportConnect_ZeroPercent_NeverEjects()
    {
        var clock = new ManualClock();
        var cluster = BuildWithOutlier(clock, ThreeFailures with { MaxEjectionPercent = 0 }, 3);

        Fail(cluster, cluster.Endpoints[0], 10, clock.Now);

        Assert.False(cluster.Endpoints[0].IsEjected(clock.Now));
    }

    [Fact]
    public void ReportConnect_NoOutlierDetection_CountsButNeverEjects()
    {
        var clock = new ManualClock();
        var cluster = Build(Spec(UpstreamLbPolicy.RoundRobin, Endpoint(1), Endpoint(2)), clock: clock);

        Fail(cluster, cluster.Endpoints[0], 50, clock.Now);

        Assert.False(cluster.Endpoints[0].IsEjected(clock.Now));
        Assert.Equal(50, cluster.Endpoints[0].ConsecutiveFailures);
    }

    [Fact]
    public void Pick_AllOfP0Ejected_P1TakesAllUntilTheyReturn()
    {
        var clock = new ManualClock();
        var spec = Spec(UpstreamLbPolicy.RoundRobin, Endpoint(1), Endpoint(2), Endpoint(3, priority: 1), Endpoint(4, priority: 1));
        var cluster = Build(spec with { OutlierDetection = ThreeFailures }, clock: clock);

        Fail(cluster, cluster.Endpoints[0], 3, clock.Now);
        Fail(cluster, cluster.Endpoints[1], 3, clock.Now);

        var loads = cluster.LoadsAt(clock.Now);
        Assert.Equal([0, 100], loads.HealthyLoad.ToArray());
        Assert.Equal(clock.Now + TimeSpan.FromSeconds(30).Ticks, loads.NextExpiry);
        var counts = Count(cluster, 2_000, clock.Now);
        Assert.Equal(2_000, counts.GetValueOrDefault(Address(3)) + counts.GetValueOrDefault(Address(4)));

        clock.Advance(TimeSpan.FromSeconds(30));
        counts = Count(cluster, 2_000, clock.Now);
        Assert.Equal(2_000, counts.GetValueOrDefault(Address(1)) + counts.GetValueOrDefault(Address(2)));
        Assert.Equal([100, 0], cluster.LoadsAt(clock.Now).HealthyLoad.ToArray());
    }

    [Fact]
    public void Pick_CallerTimestampOlderThanTheLoads_StillPicks()
    {
        // Loads computed after the ejections ended, then a pick from a thread whose timestamp is older: at its moment
        // everything is ejected, and it picks as a panic would instead of returning nothing.
        var clock = new ManualClock();
        var cluster = BuildWithOutlier(clock, ThreeFailures, 2);
        var ejectedAt = clock.Now;
        Fail(cluster, cluster.Endpoints[0], 3, ejectedAt);
        Fail(cluster, cluster.Endpoints[1], 3, ejectedAt);
        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.NotNull(cluster.Pick(0, clock.Now));

        Assert.NotNull(cluster.Pick(0, ejectedAt + 1));
        Assert.Null(Build(Spec(UpstreamLbPolicy.RoundRobin, Endpoint(1), Endpoint(2)) with { HealthyPanicThreshold = 0, OutlierDetection = ThreeFailures }, cluster, clock)
            .Pick(0, ejectedAt + 1));
    }

    [Fact]
    public void Pick_HalfOfP0Ejected_SpillsPerOverprovisioningFactor()
    {
        var clock = new ManualClock();
        var cluster = Build(Spec(UpstreamLbPolicy.Random, Endpoint(1), Endpoint(2), Endpoint(3, priority: 1)) with { OutlierDetection = ThreeFailures }, clock: clock);

        Fail(cluster, cluster.Endpoints[0], 3, clock.Now);

        var counts = Count(cluster, 100_000, clock.Now);
        Near(0.70, Share(counts, 2));
        Near(0.30, Share(counts, 3));
    }
}
