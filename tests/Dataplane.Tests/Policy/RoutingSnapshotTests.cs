using System.Globalization;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Dataplane.Registry;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Tests.Policy;

public sealed class RoutingSnapshotTests
{
    [Fact]
    public void Resolve_NoRefs_NoMatch()
    {
        var world = new TestWorld();
        var client = world.App("cli");

        var decision = world.Resolve(client, "10.0.0.1:80");

        Assert.Equal(ConnectDecisionKind.NoMatch, decision.Kind);
        Assert.Null(decision.Ref);
        Assert.Null(decision.Service);
    }

    [Fact]
    public void Resolve_ExactVip_RedirectsToServiceTarget()
    {
        var world = new TestWorld();
        var client = world.App("cli");
        var service = world.Listen(world.App("redis", "app=redis"), "0.0.0.0:6379");
        var reference = world.Ref("redis", "10.0.0.1:6379", "app=redis");

        var decision = world.Resolve(client, "10.0.0.1:6379");

        Assert.Equal(ConnectDecisionKind.Redirect, decision.Kind);
        Assert.Equal("127.0.0.1:6379", decision.Backend.ToString());
        Assert.Same(service, decision.Service);
        Assert.Same(reference, decision.Ref);
        Assert.Equal(ConnectDecisionKind.NoMatch, world.Resolve(client, "10.0.0.1:6380").Kind);
        Assert.Equal(ConnectDecisionKind.NoMatch, world.Resolve(client, "10.0.0.2:6379").Kind);
    }

    [Fact]
    public void Resolve_Precedence_ExactThenLongestPrefixThenExactPortThenAny()
    {
        var world = new TestWorld();
        var client = world.App("cli");
        foreach (var name in new[] { "exact", "p24port", "p24any", "p16port", "p8any" })
        {
            world.Listen(world.App(name, $"app={name}"), $"0.0.0.0:{7000 + name.Length}");
        }
        world.Ref("exact", "10.1.2.3:80", "app=exact");
        world.Ref("p24any", "10.1.2.0/24:*", "app=p24any");
        world.Ref("p24port", "10.1.2.0/24:80", "app=p24port");
        world.Ref("p16port", "10.1.0.0/16:443", "app=p16port");
        world.Ref("p8any", "10.0.0.0/8:*", "app=p8any");

        Assert.Equal("exact", world.Resolve(client, "10.1.2.3:80").Ref?.Name);
        Assert.Equal("p24any", world.Resolve(client, "10.1.2.3:81").Ref?.Name);
        Assert.Equal("p24port", world.Resolve(client, "10.1.2.4:80").Ref?.Name);
        Assert.Equal("p24any", world.Resolve(client, "10.1.2.4:443").Ref?.Name);
        Assert.Equal("p16port", world.Resolve(client, "10.1.3.4:443").Ref?.Name);
        Assert.Equal("p8any", world.Resolve(client, "10.1.3.4:444").Ref?.Name);
        Assert.Equal("p8any", world.Resolve(client, "10.200.0.1:1").Ref?.Name);
        Assert.Equal(ConnectDecisionKind.NoMatch, world.Resolve(client, "11.0.0.1:80").Kind);
    }

    [Fact]
    public void Resolve_IPv6AndMappedIPv4_Matched()
    {
        var world = new TestWorld();
        var client = world.App("cli");
        world.Listen(world.App("db", "app=db"), "[::]:5432");
        world.Ref("v6", "fd00::/64:*", "app=db");
        world.Ref("v4", "10.0.0.0/8:5432", "app=db");

        Assert.Equal("v6", world.Resolve(client, "[fd00::1:2]:5432").Ref?.Name);
        Assert.Equal("[::1]:5432", world.Resolve(client, "[fd00::1:2]:5432").Backend.ToString());
        Assert.Equal(ConnectDecisionKind.NoMatch, world.Resolve(client, "[fd01::1]:5432").Kind);
        Assert.Equal("v4", world.Resolve(client, "[::ffff:10.1.2.3]:5432").Ref?.Name);
    }

    [Fact]
    public void Resolve_ClientsSelector_OnlyMatchingClientsRedirected()
    {
        var world = new TestWorld();
        var web = world.App("web", "tier=web");
        var batch = world.App("batch", "tier=batch");
        world.Listen(world.App("redis", "app=redis"), "0.0.0.0:6379");
        world.Ref("redis", "10.0.0.1:6379", "app=redis", clients: "tier=web");

        Assert.Equal(ConnectDecisionKind.Redirect, world.Resolve(web, "10.0.0.1:6379").Kind);
        Assert.Equal(ConnectDecisionKind.NoMatch, world.Resolve(batch, "10.0.0.1:6379").Kind);
    }

    [Fact]
    public void Resolve_SharedVip_MostSpecificMatchingClientSelectorWins()
    {
        var world = new TestWorld();
        var canaryWeb = world.App("web1", "tier=web,track=canary");
        var web = world.App("web2", "tier=web");
        var other = world.App("other");
        world.Listen(world.App("stable", "app=db,track=stable"), "0.0.0.0:5001");
        world.Listen(world.App("canary", "app=db,track=canary"), "0.0.0.0:5002");
        world.Ref("db-default", "10.0.0.5:5432", "app=db,track=stable");
        world.Ref("db-canary", "10.0.0.5:5432", "app=db,track=canary", clients: "tier=web,track=canary");
        world.Ref("db-web", "10.0.0.5:5432", "app=db,track=stable", clients: "tier=web");

        Assert.Equal("db-canary", world.Resolve(canaryWeb, "10.0.0.5:5432").Ref?.Name);
        Assert.Equal("db-web", world.Resolve(web, "10.0.0.5:5432").Ref?.Name);
        Assert.Equal("db-default", world.Resolve(other, "10.0.0.5:5432").Ref?.Name);
    }

    [Fact]
    public void Resolve_ExactRefNotForClient_FallsBackToCidr()
    {
        var world = new TestWorld();
        var client = world.App("cli", "tier=batch");
        world.Listen(world.App("a", "app=a"), "0.0.0.0:1001");
        world.Listen(world.App("b", "app=b"), "0.0.0.0:1002");
        world.Ref("exact", "10.0.0.1:80", "app=a", clients: "tier=web");
        world.Ref("block", "10.0.0.0/24:*", "app=b");

        Assert.Equal("block", world.Resolve(client, "10.0.0.1:80").Ref?.Name);
    }

    [Fact]
    public void Resolve_RoundRobin_EvenSpreadOverBackends()
    {
        var world = new TestWorld();
        var client = world.App("cli");
        var backends = Enumerable.Range(0, 3)
            .Select(i => world.Listen(world.App($"web{i}", "app=web"), $"0.0.0.0:{8080 + i}"))
            .ToArray();
        world.Ref("web", "10.0.0.1:80", "app=web");

        var picks = Enumerable.Range(0, 300).Select(_ => world.Resolve(client, "10.0.0.1:80").Service!).ToList();

        Assert.All(backends, b => Assert.Equal(100, picks.Count(p => p == b)));
        Assert.Equal(backends, picks.Take(3));
    }

    [Fact]
    public void Resolve_BackendOnVipPort_PreferredOverOtherPortsOfTheApp()
    {
        var world = new TestWorld();
        var client = world.App("cli");
        var redis = world.App("redis", "app=redis");
        var main = world.Listen(redis, "0.0.0.0:6379");
        var metrics = world.Listen(redis, "0.0.0.0:9121");
        world.Ref("redis", "10.0.0.1:6379", "app=redis");
        world.Ref("redis-any", "10.0.1.0/24:*", "app=redis");
        world.Ref("redis-other-port", "10.0.0.2:7000", "app=redis");

        Assert.All(Enumerable.Range(0, 4), _ => Assert.Same(main, world.Resolve(client, "10.0.0.1:6379").Service));
        Assert.Same(metrics, world.Resolve(client, "10.0.1.9:9121").Service);
        var spread = Enumerable.Range(0, 4).Select(_ => world.Resolve(client, "10.0.0.2:7000").Service).ToHashSet();
        Assert.Equal(2, spread.Count);
    }

    [Fact]
    public void Resolve_RefWithoutLiveBackend_Refuse()
    {
        var world = new TestWorld();
        var client = world.App("cli");
        world.Listen(world.App("udp", "app=redis"), "0.0.0.0:6379", protocol: TransportProtocol.Udp);
        var reference = world.Ref("redis", "10.0.0.1:6379", "app=redis");

        var decision = world.Resolve(client, "10.0.0.1:6379");

        Assert.Equal(ConnectDecisionKind.NoBackend, decision.Kind);
        Assert.Same(reference, decision.Ref);
        Assert.Null(decision.Service);
        Assert.Equal(1, world.Routing.Current.CountBackends(reference)); // the UDP service, which only datagrams reach
    }

    [Fact]
    public void Resolve_BackendAppearsLater_RedirectsOnceRegistered()
    {
        var world = new TestWorld();
        var client = world.App("cli");
        world.Ref("redis", "10.0.0.1:6379", "app=redis");
        Assert.Equal(ConnectDecisionKind.NoBackend, world.Resolve(client, "10.0.0.1:6379").Kind);

        world.Listen(world.App("redis", "app=redis"), "0.0.0.0:6379");

        Assert.Equal(ConnectDecisionKind.Redirect, world.Resolve(client, "10.0.0.1:6379").Kind);
    }

    [Fact]
    public void Resolve_ClientReachesItsOwnService_Allowed()
    {
        var world = new TestWorld();
        var app = world.App("redis", "app=redis");
        var service = world.Listen(app, "0.0.0.0:6379");
        world.Ref("redis", "10.0.0.1:6379", "app=redis");

        Assert.Same(service, world.Resolve(app, "10.0.0.1:6379").Service);
    }

    [Fact]
    public void Resolve_AdvertisedIp_ReachableAsIfByExactRef()
    {
        var world = new TestWorld();
        var client = world.App("cli");
        var web = world.Listen(world.App("web", ip: "10.1.1.1"), "0.0.0.0:80");

        var decision = world.Resolve(client, "10.1.1.1:80");

        Assert.Equal(ConnectDecisionKind.Redirect, decision.Kind);
        Assert.Same(web, decision.Service);
        Assert.Null(decision.Ref);
        Assert.Equal("127.0.0.1:80", decision.Backend.ToString());
        Assert.Equal(ConnectDecisionKind.NoMatch, world.Resolve(client, "10.1.1.1:81").Kind);
    }

    [Fact]
    public void Resolve_AdvertisedIp_ExactRefWinsCidrLoses()
    {
        var world = new TestWorld();
        var client = world.App("cli");
        var advertised = world.Listen(world.App("web", ip: "10.1.1.1"), "0.0.0.0:80");
        var other = world.Listen(world.App("other", "app=other"), "0.0.0.0:8080");
        world.Ref("block", "10.0.0.0/8:*", "app=other");
        Assert.Same(advertised, world.Resolve(client, "10.1.1.1:80").Service);

        world.Ref("exact", "10.1.1.1:80", "app=other");

        Assert.Same(other, world.Resolve(client, "10.1.1.1:80").Service);
        Assert.Equal("exact", world.Resolve(client, "10.1.1.1:80").Ref?.Name);
    }

    [Fact]
    public void Resolve_AfterRefDeleted_NoMatch()
    {
        var world = new TestWorld();
        var client = world.App("cli");
        world.Listen(world.App("redis", "app=redis"), "0.0.0.0:6379");
        world.Ref("redis", "10.0.0.1:6379", "app=redis");

        world.Refs.Delete("redis");

        Assert.Equal(ConnectDecisionKind.NoMatch, world.Resolve(client, "10.0.0.1:6379").Kind);
    }

    [Fact]
    public void Resolve_HotPath_AllocatesNothing()
    {
        var world = new TestWorld();
        var client = world.App("cli", "tier=web");
        world.Listen(world.App("a", "app=a"), "0.0.0.0:1001");
        world.Listen(world.App("b", "app=b", ip: "10.9.9.9"), "[::]:1002");
        world.Ref("exact", "10.0.0.1:80", "app=a", clients: "tier=web");
        world.Ref("block", "10.0.0.0/16:*", "app=a");
        world.Ref("none", "10.2.0.0/16:*", "app=nobody");
        world.Ref("v6", "fd00::/48:*", "app=a");
        var snapshot = world.Routing.Current;
        InetEndpoint[] destinations =
        [
            TestWorld.Ep("10.0.0.1:80"), TestWorld.Ep("10.0.5.5:9"), TestWorld.Ep("10.2.0.1:1"),
            TestWorld.Ep("10.9.9.9:1002"), TestWorld.Ep("[fd00::5]:80"), TestWorld.Ep("[::ffff:10.0.0.1]:80"),
            TestWorld.Ep("192.168.1.1:80"),
        ];
        foreach (var destination in destinations)
        {
            snapshot.Resolve(client, destination);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            foreach (var destination in destinations)
            {
                snapshot.Resolve(client, destination);
            }
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Resolve_TenThousandRefs_LongestPrefixAndExactFound()
    {
        // Issue 8's scale: the lookup cost must not grow with the number of refs, only with the prefix lengths in use.
        var world = new TestWorld();
        var client = world.App("cli");
        world.Listen(world.App("svc", "app=svc"), "0.0.0.0:80");
        var specs = new List<RefSpec>();
        for (var i = 0; i < 10_000; i++)
        {
            var (b, c) = (i / 250, i % 250);
            var vip = (i % 3) switch
            {
                0 => $"10.{b}.{c}.7:80",
                1 => $"10.{b}.{c}.0/24:*",
                _ => $"172.16.{b}.0/24:{1000 + c}",
            };
            specs.Add(new RefSpec($"r{i}", vip, "app=svc"));
        }
        specs.Add(new RefSpec("wide", "10.0.0.0/8:*", "app=svc"));
        world.Refs.Apply(specs, []);
        var snapshot = world.Routing.Current;

        Assert.Equal(10_001, snapshot.Refs.Count);
        Assert.Equal("r0", snapshot.Resolve(client, TestWorld.Ep("10.0.0.7:80")).Ref?.Name);
        Assert.Equal("r1", snapshot.Resolve(client, TestWorld.Ep("10.0.1.9:80")).Ref?.Name);
        Assert.Equal("wide", snapshot.Resolve(client, TestWorld.Ep("10.0.0.9:80")).Ref?.Name);
        Assert.Equal("r2", snapshot.Resolve(client, TestWorld.Ep("172.16.0.44:1002")).Ref?.Name);
        Assert.Equal(ConnectDecisionKind.NoMatch, snapshot.Resolve(client, TestWorld.Ep("172.16.0.44:999")).Kind);
        var second = (9_997 / 250).ToString(CultureInfo.InvariantCulture);
        Assert.Equal("r9997", snapshot.Resolve(client, TestWorld.Ep($"10.{second}.247.1:5")).Ref?.Name);
    }

    [Fact]
    public void CountBackends_SelectorMatches_CountsLiveTcpServices()
    {
        var world = new TestWorld();
        world.Listen(world.App("a", "app=web"), "0.0.0.0:1");
        world.Listen(world.App("b", "app=web"), "0.0.0.0:2");
        world.Listen(world.App("c", "app=db"), "0.0.0.0:3");
        var web = world.Ref("web", "10.0.0.1:80", "app=web");
        var notWeb = world.Ref("not-web", "10.0.0.2:80", "app!=web");
        var labelled = world.Ref("labelled", "10.0.0.3:80", "app");

        Assert.Equal(2, world.Routing.Current.CountBackends(web));
        Assert.Equal(1, world.Routing.Current.CountBackends(notWeb));
        Assert.Equal(3, world.Routing.Current.CountBackends(labelled));
        Assert.Equal(0, RoutingSnapshot.Empty.CountBackends(web));
    }

    [Fact]
    public void Build_RegistryChange_KeepsRoundRobinTurn()
    {
        var world = new TestWorld();
        var client = world.App("cli");
        var a = world.Listen(world.App("a", "app=web"), "0.0.0.0:8001");
        var b = world.Listen(world.App("b", "app=web"), "0.0.0.0:8002");
        world.Ref("web", "10.0.0.1:80", "app=web");
        Assert.Same(a, world.Resolve(client, "10.0.0.1:80").Service);

        world.Listen(world.App("unrelated", "app=other"), "0.0.0.0:9000");

        Assert.Same(b, world.Resolve(client, "10.0.0.1:80").Service);
        Assert.True(world.Routing.Current.Version > 1);
    }

    [Fact]
    public void WithServices_ServiceOfOtherRef_KeepsBackendsOfUnaffectedRefs()
    {
        var world = new TestWorld();
        world.Listen(world.App("web", "app=web"), "0.0.0.0:8080");
        world.Ref("web", "10.0.0.1:80", "app=web");
        world.Ref("db", "10.0.0.2:5432", "app=db");
        var before = world.Routing.Current;

        world.Listen(world.App("db", "app=db"), "0.0.0.0:5432");
        var after = world.Routing.Current;

        Assert.True(before.Index.ByName.TryGetValue("web", out var webBefore));
        Assert.True(after.Index.ByName.TryGetValue("web", out var webAfter));
        Assert.Same(webBefore, webAfter);
        Assert.Equal(0, before.CountBackends(world.Refs.Find("db")!));
        Assert.Equal(1, after.CountBackends(world.Refs.Find("db")!));
    }

    [Fact]
    public void Resolve_DatagramToVip_PicksUdpServiceNotTcp()
    {
        var world = new TestWorld();
        var client = world.App("cli");
        var dns = world.App("dns", "app=dns");
        world.Ref("dns", "127.96.0.53:53", "app=dns");
        world.Listen(dns, "127.0.0.1:5353", protocol: TransportProtocol.Udp);
        world.Listen(dns, "127.0.0.1:5354");

        var udp = world.Routing.Current.Resolve(client, TestWorld.Ep("127.96.0.53:53"), protocol: TransportProtocol.Udp);
        var tcp = world.Routing.Current.Resolve(client, TestWorld.Ep("127.96.0.53:53"));

        Assert.Equal(ConnectDecisionKind.Redirect, udp.Kind);
        Assert.Equal(TestWorld.Ep("127.0.0.1:5353"), udp.Backend);
        Assert.Equal(TransportProtocol.Udp, udp.Service!.Protocol);
        Assert.Equal(ConnectDecisionKind.Redirect, tcp.Kind);
        Assert.Equal(TestWorld.Ep("127.0.0.1:5354"), tcp.Backend);
    }

    [Fact]
    public void Resolve_DatagramToTcpOnlyRef_NoBackend()
    {
        var world = new TestWorld();
        var client = world.App("cli");
        world.Ref("web", "127.96.0.80:80", "app=web");
        world.Listen(world.App("web", "app=web"), "127.0.0.1:8080");

        var decision = world.Routing.Current.Resolve(client, TestWorld.Ep("127.96.0.80:80"), protocol: TransportProtocol.Udp);

        Assert.Equal(ConnectDecisionKind.NoBackend, decision.Kind);
    }

    [Fact]
    public void WithRefs_SharedVipChurn_BucketOrderAndPrefixTablesFollow()
    {
        var world = new TestWorld();
        var canaryWeb = world.App("web1", "tier=web,track=canary");
        var web = world.App("web2", "tier=web");
        var other = world.App("other");
        world.Ref("any", "10.0.0.5:5432", "app=db");
        world.Ref("canary", "10.0.0.5:5432", "app=db", clients: "tier=web,track=canary");
        world.Ref("web", "10.0.0.5:5432", "app=db", clients: "tier=web");
        world.Ref("block16", "10.1.0.0/16:*", "app=db");
        world.Ref("block24", "10.1.2.0/24:*", "app=db");
        Assert.Equal([24, 16], world.Routing.Current.Index.V4.Select(t => t.PrefixLength));

        world.Refs.Delete("canary");
        world.Refs.Delete("block24");

        Assert.Equal("web", world.Resolve(canaryWeb, "10.0.0.5:5432").Ref?.Name);
        Assert.Equal("web", world.Resolve(web, "10.0.0.5:5432").Ref?.Name);
        Assert.Equal("any", world.Resolve(other, "10.0.0.5:5432").Ref?.Name);
        Assert.Equal("block16", world.Resolve(other, "10.1.2.3:1").Ref?.Name);
        Assert.Equal([16], world.Routing.Current.Index.V4.Select(t => t.PrefixLength));

        world.Refs.Delete("block16");
        world.Refs.Delete("web");
        world.Refs.Delete("any");

        Assert.Empty(world.Routing.Current.Index.V4);
        Assert.Equal(0, world.Routing.Current.Index.Exact.Count);
        Assert.Equal(ConnectDecisionKind.NoMatch, world.Resolve(other, "10.0.0.5:5432").Kind);
    }
}
