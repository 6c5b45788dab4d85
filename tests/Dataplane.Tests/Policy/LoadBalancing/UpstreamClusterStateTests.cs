using Istio.AppSwitch.Dataplane.Policy.LoadBalancing;
using static Istio.AppSwitch.Dataplane.Tests.Policy.LoadBalancing.Upstream;

namespace Istio.AppSwitch.Dataplane.Tests.Policy.LoadBalancing;

/// <summary>The circuit breaker, state carried across rebuilds, validation, allocation and concurrency.</summary>
public sealed class UpstreamClusterStateTests
{
    [Fact]
    public void TryAcquire_AtMaxConnections_FalseUntilARelease()
    {
        var cluster = Build(Spec(UpstreamLbPolicy.RoundRobin, Endpoint(1), Endpoint(2)) with { MaxConnections = 2 });
        var (a, b) = (cluster.Endpoints[0], cluster.Endpoints[1]);

        Assert.True(cluster.TryAcquire(a));
        Assert.True(cluster.TryAcquire(b));
        Assert.False(cluster.TryAcquire(a));
        Assert.Equal(2, cluster.ActiveConnections);
        Assert.Equal(1, a.ActiveConnections);

        cluster.Release(b);
        Assert.Equal(0, b.ActiveConnections);
        Assert.True(cluster.TryAcquire(a));
        Assert.Equal(2, a.ActiveConnections);
        Assert.Equal(2, cluster.ActiveConnections);
    }

    [Fact]
    public void TryAcquire_ZeroMaxConnections_AlwaysFalse()
    {
        var cluster = Build(Spec(UpstreamLbPolicy.RoundRobin, Endpoint(1)) with { MaxConnections = 0 });

        Assert.False(cluster.TryAcquire(cluster.Endpoints[0]));
        Assert.Equal(0, cluster.Endpoints[0].ActiveConnections);
    }

    [Fact]
    public void Create_WithPrevious_CarriesEndpointAndClusterState()
    {
        var clock = new ManualClock();
        var outlier = new OutlierDetectionSpec(2, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(300), 100);
        var before = Build(Spec(UpstreamLbPolicy.RoundRobin, Endpoint(1), Endpoint(2), Endpoint(3)) with { OutlierDetection = outlier }, clock: clock);
        before.TryAcquire(before.Endpoints[0]);
        before.ReportConnect(before.Endpoints[1], success: false, clock.Now);
        before.ReportConnect(before.Endpoints[2], success: false, clock.Now);
        before.ReportConnect(before.Endpoints[2], success: false, clock.Now);

        // Endpoint 1 changes weight and health, 2 stays, 3 stays ejected, 4 is new.
        var spec = Spec(UpstreamLbPolicy.RoundRobin, Endpoint(1, weight: 5, health: UpstreamHealth.Degraded), Endpoint(2), Endpoint(3), Endpoint(4));
        var after = Build(spec with { OutlierDetection = outlier }, before, clock);

        Assert.Equal(1, after.ActiveConnections);
        Assert.Equal(1, after.Endpoints[0].ActiveConnections);
        Assert.Equal(5u, after.Endpoints[0].Weight);
        Assert.Equal(1, after.Endpoints[1].ConsecutiveFailures);
        Assert.True(after.Endpoints[2].IsEjected(clock.Now));
        Assert.Equal(1, after.Endpoints[2].EjectionCount);
        Assert.Equal(0, after.Endpoints[3].ActiveConnections);

        // A connection acquired on the old build is released on the new one.
        after.Release(before.Endpoints[0]);
        Assert.Equal(0, after.ActiveConnections);
        Assert.Equal(0, after.Endpoints[0].ActiveConnections);
        Assert.Equal(0, before.ActiveConnections);
    }

    [Fact]
    public void Create_WithPrevious_RoundRobinContinuesItsTurn()
    {
        var spec = Spec(UpstreamLbPolicy.RoundRobin, Endpoint(1), Endpoint(2), Endpoint(3));
        var before = Build(spec);
        Assert.Equal(Address(1), before.Pick(0, ManualClock.Start)!.Address);

        var after = Build(spec, before);

        Assert.Equal(Address(2), after.Pick(0, ManualClock.Start)!.Address);
    }

    [Fact]
    public void Create_EndpointRemovedThenAddedBack_StartsFresh()
    {
        var clock = new ManualClock();
        var first = Build(Spec(UpstreamLbPolicy.RoundRobin, Endpoint(1), Endpoint(2)), clock: clock);
        first.ReportConnect(first.Endpoints[1], success: false, clock.Now);

        var second = Build(Spec(UpstreamLbPolicy.RoundRobin, Endpoint(1)), first, clock);
        var third = Build(Spec(UpstreamLbPolicy.RoundRobin, Endpoint(1), Endpoint(2)), second, clock);

        Assert.Equal(0, third.Endpoints[1].ConsecutiveFailures);
    }

    [Fact]
    public void Create_SameAddressTwice_SharesOneState()
    {
        var cluster = Build(Spec(UpstreamLbPolicy.RoundRobin, Endpoint(1), Endpoint(1, weight: 2)));

        cluster.TryAcquire(cluster.Endpoints[0]);

        Assert.Equal(1, cluster.Endpoints[1].ActiveConnections);
    }

    [Fact]
    public void Validate_SeveralProblems_ListsThemAll()
    {
        var spec = Spec(UpstreamLbPolicy.RingHash, Endpoint(1, weight: 0), Endpoint(2, weight: 0)) with
        {
            MinimumRingSize = 10,
            MaximumRingSize = 5,
            ChoiceCount = 0,
            HealthyPanicThreshold = 101,
            OutlierDetection = new OutlierDetectionSpec(1, TimeSpan.FromSeconds(-1), TimeSpan.Zero, 200),
        };

        var problems = UpstreamCluster.Validate(spec);

        Assert.Equal(
            [
                "endpoints[0].weight: must be at least 1",
                "endpoints[1].weight: must be at least 1",
                "choiceCount: must be at least 1",
                "minimumRingSize: 10 is above maximumRingSize 5",
                "healthyPanicThreshold: must be 0 to 100",
                "outlierDetection.baseEjectionTime: negative",
                "outlierDetection.maxEjectionPercent: must be 0 to 100",
            ],
            problems);
        Assert.Throws<ArgumentException>(() => Build(spec));
    }

    [Theory]
    [InlineData(UpstreamLbPolicy.RoundRobin, 1u)]
    [InlineData(UpstreamLbPolicy.RoundRobin, 3u)]
    [InlineData(UpstreamLbPolicy.Random, 3u)]
    [InlineData(UpstreamLbPolicy.LeastRequest, 1u)]
    [InlineData(UpstreamLbPolicy.LeastRequest, 3u)]
    [InlineData(UpstreamLbPolicy.RingHash, 3u)]
    [InlineData(UpstreamLbPolicy.Maglev, 3u)]
    public void Pick_HotPath_AllocatesNothing(UpstreamLbPolicy policy, uint secondWeight)
    {
        var clock = new ManualClock();
        var cluster = Build(Spec(policy,
            Endpoint(1), Endpoint(2, weight: secondWeight), Endpoint(3, health: UpstreamHealth.Degraded),
            Endpoint(4, health: UpstreamHealth.Unhealthy), Endpoint(5, priority: 1)) with
        {
            OutlierDetection = new OutlierDetectionSpec(5, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(300), 10),
            MaxConnections = 1_000_000,
        }, clock: clock);
        var source = new Istio.AppSwitch.Interop.InetEndpoint([10, 1, 2, 3], 5000);

        void Run(int count)
        {
            for (var i = 0; i < count; i++)
            {
                var hash = UpstreamCluster.HashSourceAddress(source) + (ulong)i;
                var endpoint = cluster.Pick(hash, clock.Now)!;
                var retry = cluster.Pick(hash, clock.Now, avoid: endpoint)!;
                cluster.TryAcquire(retry);
                cluster.ReportConnect(retry, success: true, clock.Now);
                cluster.Release(retry);
            }
        }

        Run(10_000);
        var before = GC.GetAllocatedBytesForCurrentThread();
        Run(10_000);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
    }

    [Fact]
    public async Task PickAcquireRelease_ManyThreads_CountsReturnToZeroAndNeverPassTheLimit()
    {
        var clock = new ManualClock();
        var cluster = Build(Spec(UpstreamLbPolicy.LeastRequest, [.. Enumerable.Range(1, 6).Select(i => Endpoint(i, weight: (uint)i))]) with
        {
            MaxConnections = 8,
            OutlierDetection = new OutlierDetectionSpec(3, TimeSpan.FromTicks(50), TimeSpan.FromTicks(500), 50),
        }, clock: clock);
        var highest = 0;
        var acquired = 0;
        var tick = clock.Now;

        var workers = Enumerable.Range(0, 8).Select(worker => Task.Run(() =>
        {
            for (var i = 0; i < 20_000; i++)
            {
                // One clock for all threads, as TimeProvider.System gives; ejections of 50 ticks come and go.
                var now = Interlocked.Increment(ref tick);
                var endpoint = cluster.Pick((ulong)(worker * 100_000 + i), now);
                Assert.NotNull(endpoint);
                if (!cluster.TryAcquire(endpoint))
                {
                    continue;
                }

                Interlocked.Increment(ref acquired);
                var active = cluster.ActiveConnections;
                InterlockedMax(ref highest, active);
                cluster.ReportConnect(endpoint, success: i % 7 != 0, now);
                cluster.Release(endpoint);
            }
        }));
        await Task.WhenAll(workers);

        Assert.True(acquired > 0);
        Assert.InRange(highest, 1, 8);
        Assert.Equal(0, cluster.ActiveConnections);
        Assert.All(cluster.Endpoints, e => Assert.Equal(0, e.ActiveConnections));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
