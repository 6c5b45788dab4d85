using Istio.AppSwitch.Dataplane.Configuration;
using Istio.AppSwitch.Dataplane.Policy;

namespace Istio.AppSwitch.Dataplane.Tests.Policy;

/// <summary>The ref fields of dependency ordering and outbound capture, and how resolution honours them.</summary>
public sealed class DependencyOrderingPolicyTests
{
    [Theory]
    [InlineData("0", 0)]
    [InlineData("30s", 30_000)]
    [InlineData("1m30s", 90_000)]
    [InlineData("250ms", 250)]
    [InlineData("1.5s", 1_500)]
    [InlineData("1h", 3_600_000)]
    [InlineData(" 2m ", 120_000)]
    public void Duration_Parses(string text, long milliseconds)
    {
        Assert.True(DurationText.TryParse(text, TimeSpan.FromHours(1), out var value, out var problem), problem);
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), value);
    }

    [Theory]
    [InlineData("", "a duration is required")]
    [InlineData("30", "number without a unit")]
    [InlineData("s", "is not a duration")]
    [InlineData("1 s", "is not a duration")]
    [InlineData("-1s", "is not a duration")]
    [InlineData("5d", "unknown unit \"d\"")]
    [InlineData("61m", "longer than the most allowed, 1h")]
    [InlineData("1..2s", "is not a duration")]
    public void Duration_Rejects(string text, string message)
    {
        Assert.False(DurationText.TryParse(text, TimeSpan.FromHours(1), out _, out var problem));
        Assert.Contains(message, problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, "0")]
    [InlineData(30_000, "30s")]
    [InlineData(90_000, "1m30s")]
    [InlineData(250, "250ms")]
    [InlineData(1_500, "1.5s")]
    [InlineData(3_600_000, "1h")]
    [InlineData(3_723_000, "1h2m3s")]
    public void Duration_FormatsToTextThatParsesBack(long milliseconds, string text)
    {
        Assert.Equal(text, DurationText.Format(TimeSpan.FromMilliseconds(milliseconds)));
        Assert.True(DurationText.TryParse(text, TimeSpan.FromHours(2), out var back, out _));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), back);
    }

    [Fact]
    public void Create_Defaults_Wait30sHoldNoExcludeNoHeader()
    {
        var world = new TestWorld();

        var reference = world.Ref("redis", "10.0.0.1:6379", "app=redis");

        Assert.Equal(TimeSpan.FromSeconds(30), reference.Wait);
        Assert.Equal(NonblockingConnectMode.Hold, reference.Nonblocking);
        Assert.True(reference.Exclude.IsEmpty);
        Assert.Equal(ProxyProtocolMode.None, reference.ProxyProtocol);
        Assert.False(reference.IsCapture);
    }

    [Theory]
    [InlineData("0.0.0.0/0:*", ProxyProtocolMode.V2)]
    [InlineData("::/0:*", ProxyProtocolMode.V2)]
    [InlineData("0.0.0.0/0:80", ProxyProtocolMode.None)]
    [InlineData("10.0.0.0/8:*", ProxyProtocolMode.None)]
    public void Create_CatchAllVip_WritesProxyHeaderByDefault(string vip, ProxyProtocolMode expected)
    {
        var world = new TestWorld();

        Assert.Equal(expected, world.Refs.Create(new RefSpec("r", vip, "app=sidecar")).ProxyProtocol);
    }

    [Fact]
    public void Create_ExplicitFields_Kept()
    {
        var world = new TestWorld();

        var reference = world.Refs.Create(new RefSpec("sidecar", "0.0.0.0/0:*", "app=sidecar", "app=web",
            Wait: "0", Nonblocking: "EAGAIN", Exclude: "10.0.0.0/8, 127.0.0.53", ProxyProtocol: "none"));

        Assert.Equal(TimeSpan.Zero, reference.Wait);
        Assert.Equal(NonblockingConnectMode.EAgain, reference.Nonblocking);
        Assert.Equal("10.0.0.0/8,127.0.0.53/32", reference.Exclude.ToString());
        Assert.Equal(ProxyProtocolMode.None, reference.ProxyProtocol);
    }

    [Fact]
    public void Create_SeveralBadNewFields_EachNamed()
    {
        var world = new TestWorld();

        var e = Assert.Throws<ValidationException>(() => world.Refs.Create(new RefSpec("r", "0.0.0.0/0:*", "app=x",
            Wait: "forever", Nonblocking: "spin", Exclude: "300.0.0.0/8", ProxyProtocol: "v3")));

        Assert.Equal(["wait", "nonblocking", "exclude", "proxyProtocol"], e.Errors.Select(x => x.Field));
    }

    [Fact]
    public void Resolve_NoBackend_NamesTheRef()
    {
        var world = new TestWorld();
        var reference = world.Ref("redis", "10.0.0.1:6379", "app=redis");

        var decision = world.Resolve(world.App("cli"), "10.0.0.1:6379");

        Assert.Equal(ConnectDecisionKind.NoBackend, decision.Kind);
        Assert.Same(reference, decision.Ref);
    }

    [Fact]
    public void Resolve_CatchAll_CapturesClientsButNotTheSidecarItself()
    {
        var world = new TestWorld();
        var sidecar = world.App("haproxy", "app=sidecar");
        world.Listen(sidecar, "127.0.0.1:15001");
        world.Refs.Create(new RefSpec("sidecar", "0.0.0.0/0:*", "app=sidecar"));
        var web = world.App("curl", "app=web");

        var captured = world.Resolve(web, "127.0.0.1:8080");
        var own = world.Resolve(sidecar, "127.0.0.1:8080");

        Assert.Equal(ConnectDecisionKind.Redirect, captured.Kind);
        Assert.Equal("127.0.0.1:15001", captured.Backend.ToString());
        Assert.Equal(ConnectDecisionKind.NoMatch, own.Kind);
    }

    [Fact]
    public void Resolve_Exclude_LeavesThoseDestinationsToLessSpecificRefsOrTheKernel()
    {
        var world = new TestWorld();
        world.Listen(world.App("haproxy", "app=sidecar"), "127.0.0.1:15001");
        world.Listen(world.App("dns", "app=dns"), "127.0.0.1:5353");
        world.Refs.Create(new RefSpec("sidecar", "0.0.0.0/0:*", "app=sidecar", "app=web", Exclude: "127.0.0.53,10.0.0.0/8"));
        world.Refs.Create(new RefSpec("private", "10.0.0.0/8:*", "app=dns", "app=web"));
        var web = world.App("curl", "app=web");

        Assert.Equal("sidecar", world.Resolve(web, "127.0.0.1:80").Ref?.Name);
        Assert.Equal(ConnectDecisionKind.NoMatch, world.Resolve(web, "127.0.0.53:53").Kind);
        Assert.Equal("private", world.Resolve(web, "10.1.2.3:53").Ref?.Name);
    }

    [Fact]
    public void Resolve_ExactRefWinsOverCatchAll()
    {
        var world = new TestWorld();
        world.Listen(world.App("haproxy", "app=sidecar"), "127.0.0.1:15001");
        world.Listen(world.App("redis", "app=redis"), "127.0.0.1:6379");
        world.Refs.Create(new RefSpec("sidecar", "0.0.0.0/0:*", "app=sidecar"));
        world.Ref("redis", "127.96.0.1:6379", "app=redis");
        var web = world.App("curl", "app=web");

        Assert.Equal("redis", world.Resolve(web, "127.96.0.1:6379").Ref?.Name);
        Assert.Equal("sidecar", world.Resolve(web, "127.96.0.1:6380").Ref?.Name);
        Assert.Equal("sidecar", world.Resolve(web, "[::ffff:127.96.0.2]:80").Ref?.Name);
    }
}
