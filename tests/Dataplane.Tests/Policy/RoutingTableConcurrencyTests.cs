using System.Diagnostics;
using System.Globalization;
using Istio.AppSwitch.Dataplane.Policy;

namespace Istio.AppSwitch.Dataplane.Tests.Policy;

public sealed class RoutingTableConcurrencyTests
{
    [Fact]
    public async Task Resolve_WhileRegistryAndRefsChange_AlwaysConsistent()
    {
        // Writers churn the registry and the refs for a second while readers resolve without a lock. Every
        // decision must be one that some published snapshot allows: the stable ref always redirects to a live
        // backend, the churned ref redirects, refuses or misses, and nothing throws.
        var world = new TestWorld();
        var client = world.App("cli");
        var stable = world.App("stable", "app=stable");
        world.Listen(stable, "0.0.0.0:7000");
        world.Ref("stable", "10.0.0.1:80", "app=stable");
        var destinationStable = TestWorld.Ep("10.0.0.1:80");
        var destinationChurn = TestWorld.Ep("10.1.0.1:80");
        var duration = TimeSpan.FromSeconds(1);
        long resolutions = 0, changes = 0;
        // Dedicated threads that start together: on a 2-core machine, pool tasks might not start within the second.
        using var ready = new Barrier(4);
        var stop = new Stopwatch();

        var readers = Enumerable.Range(0, 3).Select(_ => Task.Factory.StartNew(() =>
        {
            ready.SignalAndWait();
            long count = 0;
            while (stop.Elapsed < duration)
            {
                var snapshot = world.Routing.Current;
                var decision = snapshot.Resolve(client, destinationStable);
                Assert.Equal(ConnectDecisionKind.Redirect, decision.Kind);
                Assert.Equal("stable", decision.Service!.AppName);
                var churn = snapshot.Resolve(client, destinationChurn);
                if (churn.Kind == ConnectDecisionKind.Redirect)
                {
                    Assert.Equal("churn", churn.Ref!.Name);
                    Assert.Equal(7001, churn.Backend.Port);
                }
                count++;
            }
            Interlocked.Add(ref resolutions, count);
        }, TaskCreationOptions.LongRunning)).ToArray();

        var writer = Task.Factory.StartNew(() =>
        {
            stop.Start();
            ready.SignalAndWait();
            var i = 0;
            while (stop.Elapsed < duration)
            {
                var app = world.App("churn" + i.ToString(CultureInfo.InvariantCulture), "app=churn");
                world.Listen(app, "0.0.0.0:7001");
                if (i % 2 == 0)
                {
                    world.Ref("churn", "10.1.0.0/16:*", "app=churn");
                }
                else
                {
                    world.Refs.Delete("churn");
                }
                world.Registry.RemoveApp(app.Id);
                i++;
                Interlocked.Increment(ref changes);
            }
        }, TaskCreationOptions.LongRunning);

        await Task.WhenAll([.. readers, writer]);

        Assert.True(Interlocked.Read(ref resolutions) > 1000, $"only {resolutions} resolutions");
        Assert.True(Interlocked.Read(ref changes) > 10, $"only {changes} changes");
        Assert.Single(world.Registry.Services);
    }

    [Fact]
    public async Task Resolve_WhileBatchesApplied_SeesWholeBatchOrNone()
    {
        // A writer applies and removes a batch of two refs over and over. A reader that takes one snapshot must find
        // both refs of the batch or neither: a snapshot never holds half of a bulk apply.
        var world = new TestWorld();
        var client = world.App("cli");
        world.Listen(world.App("svc", "app=svc"), "0.0.0.0:7000");
        var first = TestWorld.Ep("10.2.0.1:80");
        var second = TestWorld.Ep("10.3.0.0:443");
        RefSpec[] batch = [new("first", "10.2.0.1:80", "app=svc"), new("second", "10.3.0.0/16:*", "app=svc")];
        var duration = TimeSpan.FromSeconds(1);
        long both = 0, neither = 0;
        using var ready = new Barrier(2);
        var stop = new Stopwatch();

        var reader = Task.Factory.StartNew(() =>
        {
            ready.SignalAndWait();
            while (stop.Elapsed < duration)
            {
                var snapshot = world.Routing.Current;
                var a = snapshot.Resolve(client, first).Kind;
                var b = snapshot.Resolve(client, second).Kind;
                Assert.Equal(a, b);
                if (a == ConnectDecisionKind.Redirect)
                {
                    both++;
                }
                else
                {
                    neither++;
                }
            }
        }, TaskCreationOptions.LongRunning);

        var writer = Task.Factory.StartNew(() =>
        {
            stop.Start();
            ready.SignalAndWait();
            while (stop.Elapsed < duration)
            {
                world.Refs.Apply(batch, []);
                world.Refs.Apply([], ["first", "second"]);
            }
        }, TaskCreationOptions.LongRunning);

        await Task.WhenAll(reader, writer);

        Assert.True(both + neither > 100, $"only {both + neither} resolutions");
    }
}
