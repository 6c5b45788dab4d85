using Istio.AppSwitch.Dataplane.Configuration;
using Istio.AppSwitch.Dataplane.Policy;

namespace Istio.AppSwitch.Dataplane.Tests.Policy;

public sealed class RefStoreTests
{
    [Fact]
    public void Create_ValidSpec_StoredAndPublished()
    {
        var world = new TestWorld();

        var created = world.Refs.Create(new RefSpec("redis", "10.0.0.1:6379", "app=redis", "tier=web", "Redis.Example.COM."));

        Assert.Equal("redis", created.Name);
        Assert.Equal("10.0.0.1:6379", created.Vip.ToString());
        Assert.Equal("app=redis", created.Selector.Text);
        Assert.Equal("tier=web", created.Clients.Text);
        Assert.Equal("redis.example.com", created.Dns);
        Assert.Same(created, world.Refs.Find("redis"));
        Assert.Same(created, Assert.Single(world.Routing.Current.Refs));
    }

    [Fact]
    public void Create_EveryFieldBad_ReportsEveryField()
    {
        var world = new TestWorld();

        var e = Assert.Throws<ValidationException>(() =>
            world.Refs.Create(new RefSpec("Bad_Name", "10.0.0.0/33:80", "app=", "=x", "-bad-.com")));

        Assert.Equal(["name", "vip", "clients", "dns"], e.Errors.Select(x => x.Field));
        Assert.Empty(world.Refs.All);
    }

    [Theory]
    [InlineData(null, "10.0.0.1:80", "app=x", "name")]
    [InlineData("a", null, "app=x", "vip")]
    [InlineData("a", "10.0.0.1:80", null, "selector")]
    [InlineData("a", "10.0.0.1:80", "", "selector")]
    [InlineData("a", "10.0.0.1:80", "app=x,", "selector")]
    [InlineData("a", "10.0.0.1:99999", "app=x", "vip")]
    [InlineData("a", "10.0.0.1/8:*", "app=x", "vip")]
    public void Create_MissingOrBadField_FieldNamed(string? name, string? vip, string? selector, string field)
    {
        var world = new TestWorld();

        var e = Assert.Throws<ValidationException>(() => world.Refs.Create(new RefSpec(name, vip, selector)));

        Assert.Equal(field, Assert.Single(e.Errors).Field);
    }

    [Fact]
    public void Create_DuplicateName_Conflict()
    {
        var world = new TestWorld();
        world.Ref("redis", "10.0.0.1:6379", "app=redis");

        var e = Assert.Throws<ConflictException>(() => world.Ref("redis", "10.0.0.2:6379", "app=redis"));

        Assert.Equal("name", e.Field);
        Assert.Contains("already exists", e.Message, StringComparison.Ordinal);
        Assert.Equal("10.0.0.1:6379", Assert.Single(world.Refs.All).Vip.ToString());
    }

    [Fact]
    public void Create_DuplicateDns_Conflict()
    {
        var world = new TestWorld();
        world.Refs.Create(new RefSpec("a", "10.0.0.1:80", "app=a", Dns: "svc.local"));

        var e = Assert.Throws<ConflictException>(() => world.Refs.Create(new RefSpec("b", "10.0.0.2:80", "app=b", Dns: "SVC.local")));

        Assert.Equal("dns", e.Field);
    }

    [Fact]
    public void Delete_ExistingAndMissing_TrueThenFalse()
    {
        var world = new TestWorld();
        world.Ref("redis", "10.0.0.1:6379", "app=redis");

        Assert.True(world.Refs.Delete("redis"));
        Assert.False(world.Refs.Delete("redis"));
        Assert.Empty(world.Refs.All);
        Assert.Empty(world.Routing.Current.Refs);
    }

    [Fact]
    public void All_SeveralRefs_OrderedByName()
    {
        var world = new TestWorld();
        world.Ref("b", "10.0.0.2:80", "app=b");
        world.Ref("a", "10.0.0.1:80", "app=a");
        world.Ref("c", "10.0.0.3:80", "app=c");

        Assert.Equal(["a", "b", "c"], world.Refs.All.Select(r => r.Name));
    }

    [Fact]
    public void Apply_NewRefs_AllPublishedInOneSnapshot()
    {
        var world = new TestWorld();
        var client = world.App("cli");
        world.Listen(world.App("web", "app=web"), "0.0.0.0:8080");
        var version = world.Routing.Current.Version;

        var applied = world.Refs.Apply(
            [new RefSpec("b", "10.0.0.2:80", "app=web"), new RefSpec("a", "10.0.0.0/24:*", "app=web", Dns: "A.local.")],
            []);

        Assert.Equal(["b", "a"], applied.Select(r => r.Name));
        Assert.Equal(version + 1, world.Routing.Current.Version);
        Assert.Equal(["a", "b"], world.Routing.Current.Refs.Select(r => r.Name));
        Assert.Equal(["a", "b"], world.Refs.All.Select(r => r.Name));
        Assert.Equal("a.local", world.Refs.Find("a")?.Dns);
        Assert.Equal("b", world.Resolve(client, "10.0.0.2:80").Ref?.Name);
        Assert.Equal("a", world.Resolve(client, "10.0.0.9:1").Ref?.Name);
    }

    [Fact]
    public void Apply_ExistingName_ReplacedKeepingCreationTime()
    {
        var time = new ManualTime(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var routing = new RoutingTable();
        var refs = new RefStore(routing, time);
        var created = refs.Create(new RefSpec("db", "10.0.0.1:5432", "app=db"));
        time.Now = time.Now.AddHours(1);

        var replaced = Assert.Single(refs.Apply([new RefSpec("db", "10.0.0.2:5432", "app=db2")], []));
        var added = Assert.Single(refs.Apply([new RefSpec("cache", "10.0.0.3:6379", "app=cache")], []));

        Assert.Equal("10.0.0.2:5432", replaced.Vip.ToString());
        Assert.Equal("app=db2", replaced.Selector.Text);
        Assert.Equal(created.CreatedAt, replaced.CreatedAt);
        Assert.Equal(time.Now, added.CreatedAt);
        Assert.Same(replaced, refs.Find("db"));
        Assert.Equal(2, routing.Current.RefCount);
        var client = new TestWorld().App("cli");
        Assert.Equal(ConnectDecisionKind.NoMatch, routing.Current.Resolve(client, TestWorld.Ep("10.0.0.1:5432")).Kind);
        Assert.Same(replaced, routing.Current.Resolve(client, TestWorld.Ep("10.0.0.2:5432")).Ref);
    }

    [Fact]
    public void Apply_Deletes_RemovedAndUnknownNamesSkipped()
    {
        var world = new TestWorld();
        var client = world.App("cli");
        world.Ref("a", "10.0.0.1:80", "app=a");
        world.Ref("b", "10.0.0.2:80", "app=b");
        world.Refs.Create(new RefSpec("c", "10.0.0.3:80", "app=c", Dns: "c.local"));

        world.Refs.Apply([new RefSpec("d", "10.0.0.4:80", "app=d", Dns: "c.local")], ["a", "c", "nope"]);

        Assert.Equal(["b", "d"], world.Refs.All.Select(r => r.Name));
        Assert.Equal(["b", "d"], world.Routing.Current.Refs.Select(r => r.Name));
        Assert.Equal(ConnectDecisionKind.NoMatch, world.Resolve(client, "10.0.0.1:80").Kind);
        Assert.Equal("d", world.Resolve(client, "10.0.0.4:80").Ref?.Name);
    }

    [Fact]
    public void Apply_SeveralBadSpecs_ReportsEveryProblemAndChangesNothing()
    {
        var world = new TestWorld();
        world.Ref("keep", "10.0.0.1:80", "app=keep");
        var version = world.Routing.Current.Version;

        var e = Assert.Throws<ValidationException>(() => world.Refs.Apply(
            [
                new RefSpec("ok", "10.0.0.2:80", "app=ok"),
                new RefSpec("Bad_Name", "10.0.0.0/33:80", "app=x"),
                new RefSpec("ok", "10.0.0.3:80", "app=ok"),
                new RefSpec("gone", "10.0.0.4:80", "app=x"),
            ],
            ["keep", "", "gone"]));

        Assert.Equal(
            ["upserts[1].name", "upserts[1].vip", "upserts[2].name", "deletes[1]", "deletes[2]"],
            e.Errors.Select(x => x.Field));
        Assert.All(e.Errors, x => Assert.StartsWith(x.Field.Split('.')[0] + ":", x.Message, StringComparison.Ordinal));
        Assert.Equal(["keep"], world.Refs.All.Select(r => r.Name));
        Assert.Equal(version, world.Routing.Current.Version);
    }

    [Fact]
    public void Apply_DnsTakenByRefOutsideBatch_ConflictAndNothingChanges()
    {
        var world = new TestWorld();
        world.Refs.Create(new RefSpec("owner", "10.0.0.1:80", "app=a", Dns: "svc.local"));
        var version = world.Routing.Current.Version;

        var e = Assert.Throws<ConflictException>(() => world.Refs.Apply(
            [new RefSpec("new", "10.0.0.2:80", "app=b"), new RefSpec("thief", "10.0.0.3:80", "app=b", Dns: "SVC.local")],
            []));

        Assert.Equal("dns", e.Field);
        Assert.Contains("owner", e.Message, StringComparison.Ordinal);
        Assert.Equal(["owner"], world.Refs.All.Select(r => r.Name));
        Assert.Equal(version, world.Routing.Current.Version);
        // The failed batch left the DNS names as they were: the owner still holds its name, and nobody else got one.
        Assert.Throws<ConflictException>(() => world.Refs.Create(new RefSpec("x", "10.0.0.5:80", "app=x", Dns: "svc.local")));
    }

    [Fact]
    public void Apply_TwoRefsSwapDnsNames_Allowed()
    {
        var world = new TestWorld();
        world.Refs.Create(new RefSpec("a", "10.0.0.1:80", "app=a", Dns: "one.local"));
        world.Refs.Create(new RefSpec("b", "10.0.0.2:80", "app=b", Dns: "two.local"));

        world.Refs.Apply(
            [new RefSpec("a", "10.0.0.1:80", "app=a", Dns: "two.local"), new RefSpec("b", "10.0.0.2:80", "app=b", Dns: "one.local")],
            []);

        Assert.Equal("two.local", world.Refs.Find("a")?.Dns);
        Assert.Equal("one.local", world.Refs.Find("b")?.Dns);
        Assert.Throws<ConflictException>(() => world.Refs.Create(new RefSpec("c", "10.0.0.3:80", "app=c", Dns: "one.local")));
    }

    [Fact]
    public void Apply_Empty_PublishesNothing()
    {
        var world = new TestWorld();
        var version = world.Routing.Current.Version;

        Assert.Empty(world.Refs.Apply([], ["missing"]));

        Assert.Equal(version, world.Routing.Current.Version);
        Assert.Empty(world.Refs.All);
    }

    [Fact]
    public void Create_ManyRefsExist_CostIndependentOfTheirNumber()
    {
        // One create must change the routing snapshot by path copying, not rebuild it: with 2,000 refs a rebuild
        // allocated about a megabyte per create, and 1,000 creates left half a gigabyte of garbage.
        var world = new TestWorld();
        world.Listen(world.App("svc", "app=svc"), "0.0.0.0:80");
        world.Refs.Apply([.. Enumerable.Range(0, 2000).Select(i => new RefSpec($"r{i}", $"10.{i / 250}.{i % 250}.1:80", "app=svc"))], []);
        world.Ref("warm", "10.200.0.1:80", "app=svc");
        world.Ref("warm-cidr", "10.201.0.0/16:*", "app=svc");

        var before = GC.GetAllocatedBytesForCurrentThread();
        world.Ref("one-more", "10.200.0.2:80", "app=svc");
        world.Ref("one-more-cidr", "10.202.0.0/16:*", "app=svc");
        world.Refs.Delete("r7");
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(allocated < 48 * 1024, $"two creates and a delete allocated {allocated} bytes");
        Assert.Equal(2003, world.Routing.Current.RefCount);
    }

    private sealed class ManualTime(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
