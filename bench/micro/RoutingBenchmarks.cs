using System.Globalization;
using System.Net;
using BenchmarkDotNet.Attributes;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Dataplane.Registry;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Bench.Micro;

/// <summary>
/// <see cref="RoutingSnapshot.Resolve"/> over 10,001 refs built through the <see cref="RefStore"/>, as the daemon
/// builds them: a third exact VIPs (/32), two thirds /24 CIDRs (any port, or one port), and one /10 under them.
/// </summary>
[MemoryDiagnoser]
public class RoutingBenchmarks
{
    private RoutingSnapshot _snapshot = RoutingSnapshot.Empty;
    private AppRecord _client = null!;
    private InetEndpoint _exact;
    private InetEndpoint _cidr24;
    private InetEndpoint _cidr10;
    private InetEndpoint _miss;

    [GlobalSetup]
    public void Setup()
    {
        var world = RoutingWorld.Create(10_000);
        _snapshot = world.Routing.Current;
        _client = world.Client;
        _exact = RoutingWorld.Ep("127.96.9.9:80");
        _cidr24 = RoutingWorld.Ep("127.109.10.33:443");
        _cidr10 = RoutingWorld.Ep("127.80.1.2:80");
        _miss = RoutingWorld.Ep("127.1.2.3:80");
        RoutingWorld.Expect(_snapshot.Resolve(_client, _exact), "r2259");
        RoutingWorld.Expect(_snapshot.Resolve(_client, _cidr24), "r2260");
        RoutingWorld.Expect(_snapshot.Resolve(_client, _cidr10), "wide");
        RoutingWorld.Expect(_snapshot.Resolve(_client, _miss), null);
    }

    /// <summary>An exact VIP:port: one hash lookup.</summary>
    [Benchmark]
    public ConnectDecision ExactVipHit() => _snapshot.Resolve(_client, in _exact);

    /// <summary>The longest prefix, a /24, after the exact table missed.</summary>
    [Benchmark]
    public ConnectDecision Cidr24Hit() => _snapshot.Resolve(_client, in _cidr24);

    /// <summary>A /10 hit: the /24 table is tried (port, then any port) and missed first.</summary>
    [Benchmark]
    public ConnectDecision Cidr10Hit() => _snapshot.Resolve(_client, in _cidr10);

    /// <summary>No ref matches: every table is tried, and the connect is left to the kernel.</summary>
    [Benchmark]
    public ConnectDecision Miss() => _snapshot.Resolve(_client, in _miss);
}

/// <summary>The registry, routing table and refs of a daemon, filled as the API would fill them.</summary>
internal sealed class RoutingWorld
{
    private RoutingWorld(RoutingTable routing, AppRecord client)
    {
        Routing = routing;
        Client = client;
    }

    public RoutingTable Routing { get; }

    public AppRecord Client { get; }

    public static InetEndpoint Ep(string text) => InetEndpoint.FromIPEndPoint(IPEndPoint.Parse(text));

    /// <summary>
    /// <paramref name="count"/> refs, ref <c>i</c> being (by <c>i % 3</c>) the exact VIP 127.96.b.c:80, the CIDR
    /// 127.(100+b).c.0/24:* or 127.(140+b).c.0/24:(1000+c), with b = i / 250 and c = i % 250; plus "wide",
    /// 127.64.0.0/10:*. All select one service listening on 0.0.0.0:80.
    /// </summary>
    public static RoutingWorld Create(int count)
    {
        var routing = new RoutingTable();
        var registry = new ServiceRegistry(routing);
        var refs = new RefStore(routing);
        var client = App(registry, "cli", "app=cli");
        var server = App(registry, "svc", "app=svc");
        registry.AddService(server.Id, TransportProtocol.Tcp, Ep("0.0.0.0:80"), Ep("0.0.0.0:80"), socketInode: 1000);

        var specs = new List<RefSpec>(count + 1);
        for (var i = 0; i < count; i++)
        {
            var (b, c) = (i / 250, i % 250);
            var vip = (i % 3) switch
            {
                0 => $"127.96.{b}.{c}:80",
                1 => $"127.{100 + b}.{c}.0/24:*",
                _ => $"127.{140 + b}.{c}.0/24:{1000 + c}",
            };
            specs.Add(new RefSpec(string.Create(CultureInfo.InvariantCulture, $"r{i}"), vip, "app=svc"));
        }
        specs.Add(new RefSpec("wide", "127.64.0.0/10:*", "app=svc"));
        refs.Apply(specs, []);
        return new RoutingWorld(routing, client);
    }

    /// <summary>Fails the setup when a benchmark would measure something other than what its name says.</summary>
    public static void Expect(ConnectDecision decision, string? refName)
    {
        var expected = refName is null ? ConnectDecisionKind.NoMatch : ConnectDecisionKind.Redirect;
        if (decision.Kind != expected || decision.Ref?.Name != refName)
        {
            throw new InvalidOperationException($"Expected {expected} by {refName ?? "no ref"}, got {decision.Kind} by {decision.Ref?.Name ?? "no ref"}.");
        }
    }

    private static AppRecord App(ServiceRegistry registry, string name, string labels) =>
        registry.RegisterApp(new AppRegistration(name, Labels.Parse(labels), null, Pid: 4242, Uid: 1000, Command: ["/usr/bin/" + name]));
}
