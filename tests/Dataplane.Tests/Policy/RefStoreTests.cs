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
}
