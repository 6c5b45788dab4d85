using System.Net;
using Istio.AppSwitch.Dataplane.Configuration;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Dataplane.Registry;

namespace Istio.AppSwitch.Dataplane.Tests.Registry;

public sealed class ServiceRegistryTests
{
    private static AppRegistration Registration(string? name = null, string labels = "", string? ip = null, int pid = 100, string[]? command = null) =>
        new(name, Labels.Parse(labels), ip is null ? null : IPAddress.Parse(ip), pid, 1000, command ?? ["/usr/bin/redis-server", "--port", "6379"]);

    [Fact]
    public void RegisterApp_NoName_NamedAfterCommandWithSystemLabels()
    {
        var world = new TestWorld();

        var app = world.Registry.RegisterApp(Registration(labels: "tier=db"));

        Assert.Equal("app-1", app.Id);
        Assert.Equal("redis-server", app.Name);
        Assert.Equal("db", app.Labels["tier"]);
        Assert.Equal("redis-server", app.Labels["ax.app"]);
        Assert.Equal("user1000", app.Labels["ax.user"]);
        Assert.Equal("test-host", app.Labels["ax.host"]);
        Assert.Equal(["/usr/bin/redis-server", "--port", "6379"], app.Command);
        Assert.Same(app, world.Registry.FindApp("app-1"));
    }

    [Fact]
    public void RegisterApp_Twice_SequentialIds()
    {
        var world = new TestWorld();

        Assert.Equal("app-1", world.Registry.RegisterApp(Registration()).Id);
        Assert.Equal("app-2", world.Registry.RegisterApp(Registration()).Id);
        Assert.Equal(2, world.Registry.Apps.Count);
    }

    [Fact]
    public void RegisterApp_EverythingBad_ReportsEveryField()
    {
        var world = new TestWorld();

        var e = Assert.Throws<ValidationException>(() => world.Registry.RegisterApp(
            Registration(name: "bad name", labels: "ax.user=me", ip: "0.0.0.0", pid: 0, command: [])));

        Assert.Equal(["command", "name", "labels", "ip", "pid"], e.Errors.Select(x => x.Field));
        Assert.Empty(world.Registry.Apps);
    }

    [Theory]
    [InlineData("224.0.0.1")]
    [InlineData("255.255.255.255")]
    [InlineData("ff02::1")]
    [InlineData("::")]
    public void RegisterApp_UnusableIp_Rejected(string ip)
    {
        var world = new TestWorld();

        var e = Assert.Throws<ValidationException>(() => world.Registry.RegisterApp(Registration(ip: ip)));

        Assert.Equal("ip", Assert.Single(e.Errors).Field);
    }

    [Fact]
    public void RegisterApp_InNetworkNamespace_KeepsItsInodeAndPorts()
    {
        var world = new TestWorld();

        var app = world.Registry.RegisterApp(Registration() with { NetworkNamespace = 4026532246, Ports = [new PortMapping(16379, 6379)] });

        Assert.Equal(4026532246UL, app.NetworkNamespace);
        Assert.Equal([new PortMapping(16379, 6379)], app.Ports);
    }

    [Fact]
    public void RegisterApp_BadPorts_ReportsEachAndRegistersNothing()
    {
        var world = new TestWorld();

        var withoutNamespace = Assert.Throws<ValidationException>(() => world.Registry.RegisterApp(Registration() with { Ports = [new PortMapping(80, 80)] }));
        var badRanges = Assert.Throws<ValidationException>(() => world.Registry.RegisterApp(
            Registration() with { NetworkNamespace = 1, Ports = [new PortMapping(0, 80), new PortMapping(81, 80), new PortMapping(81, 70000), new PortMapping(82, 80)] }));

        Assert.Equal("ports", Assert.Single(withoutNamespace.Errors).Field);
        Assert.Equal(["invalid ports: \"0:80\": ports are numbers from 1 to 65535", "invalid ports: \"81:70000\": ports are numbers from 1 to 65535",
            "invalid ports: application port 80 is mapped twice"], badRanges.Errors.Select(e => e.Message));
        Assert.Empty(world.Registry.Apps);
    }

    [Fact]
    public void AddService_Wildcard_TargetIsLoopback()
    {
        var world = new TestWorld();
        var app = world.App("redis", "app=redis");

        var v4 = world.Listen(app, "0.0.0.0:6379");
        var v6 = world.Listen(app, "[::]:6380");
        var specific = world.Listen(app, "10.9.9.9:6381");

        Assert.Equal("svc-1", v4.Id);
        Assert.Equal("127.0.0.1:6379", v4.Target.ToString());
        Assert.Equal("[::1]:6380", v6.Target.ToString());
        Assert.Equal("10.9.9.9:6381", specific.Target.ToString());
        Assert.Equal("redis", v4.AppName);
        Assert.Same(app.Labels, v4.Labels);
        Assert.Null(v4.Advertised);
        Assert.Equal(3, world.Registry.Services.Count);
        Assert.Equal(3, world.Routing.Current.Services.Count);
    }

    [Fact]
    public void AddService_AppWithIpBindsWildcardOrThatIp_Advertised()
    {
        var world = new TestWorld();
        var app = world.App("web", ip: "10.1.1.1");

        var wildcard = world.Listen(app, "0.0.0.0:80", "0.0.0.0:80");
        var dualStack = world.Listen(app, "[::]:81");
        var ownIp = world.Listen(app, "10.1.1.1:82", "127.0.0.1:82");
        var other = world.Listen(app, "127.0.0.1:83");

        Assert.Equal("10.1.1.1:80", wildcard.Advertised?.ToString());
        Assert.Equal("10.1.1.1:81", dualStack.Advertised?.ToString());
        Assert.Equal("10.1.1.1:82", ownIp.Advertised?.ToString());
        Assert.Equal("127.0.0.1:82", ownIp.Target.ToString());
        Assert.Null(other.Advertised);
    }

    [Fact]
    public void AddService_UnknownApp_Throws()
    {
        var world = new TestWorld();

        Assert.Throws<KeyNotFoundException>(() =>
            world.Registry.AddService("app-9", TransportProtocol.Tcp, TestWorld.Ep("0.0.0.0:1"), TestWorld.Ep("0.0.0.0:1"), 1));
    }

    [Fact]
    public void AddService_SameSocketAgain_ReplacedNotDuplicated()
    {
        var world = new TestWorld();
        var app = world.App("redis");
        var first = world.Registry.AddService(app.Id, TransportProtocol.Tcp, TestWorld.Ep("0.0.0.0:1"), TestWorld.Ep("0.0.0.0:1"), 7);

        var same = world.Registry.AddService(app.Id, TransportProtocol.Tcp, TestWorld.Ep("0.0.0.0:1"), TestWorld.Ep("0.0.0.0:1"), 7);
        var changed = world.Registry.AddService(app.Id, TransportProtocol.Tcp, TestWorld.Ep("0.0.0.0:2"), TestWorld.Ep("0.0.0.0:2"), 7);

        Assert.Same(first, same);
        Assert.Same(changed, Assert.Single(world.Registry.Services));
    }

    [Fact]
    public void RemoveService_BySocket_RemovedOnce()
    {
        var world = new TestWorld();
        var app = world.App("redis");
        var service = world.Listen(app, "0.0.0.0:6379");

        Assert.True(world.Registry.RemoveService(app.Id, service.SocketInode));
        Assert.False(world.Registry.RemoveService(app.Id, service.SocketInode));
        Assert.Empty(world.Registry.Services);
        Assert.Empty(world.Routing.Current.Services);
    }

    [Fact]
    public void RemoveApp_AppExits_ItsServicesDropAndRefsRefuse()
    {
        var world = new TestWorld();
        var client = world.App("cli");
        var redis = world.App("redis", "app=redis");
        var other = world.App("web", "app=web");
        world.Listen(redis, "0.0.0.0:6379");
        world.Listen(redis, "0.0.0.0:16379");
        var web = world.Listen(other, "0.0.0.0:80");
        world.Ref("redis", "10.0.0.1:6379", "app=redis");
        Assert.Equal(ConnectDecisionKind.Redirect, world.Resolve(client, "10.0.0.1:6379").Kind);

        world.Registry.RemoveApp(redis.Id);

        Assert.Null(world.Registry.FindApp(redis.Id));
        Assert.Same(web, Assert.Single(world.Registry.Services));
        Assert.Equal(ConnectDecisionKind.NoBackend, world.Resolve(client, "10.0.0.1:6379").Kind);
        world.Registry.RemoveApp(redis.Id);
        world.Registry.RemoveApp("app-404");
    }

    [Fact]
    public void UserNames_PasswdFile_FindsNameByUid()
    {
        var passwd = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(passwd, ["root:x:0:0:root:/root:/bin/bash", "# comment", "alice:x:1000:1000::/home/alice:/bin/sh"]);

            Assert.Equal("root", UserNames.Find(0, passwd));
            Assert.Equal("alice", UserNames.Find(1000, passwd));
            Assert.Null(UserNames.Find(4, passwd));
            Assert.Null(UserNames.Find(0, "/nonexistent/passwd"));
        }
        finally
        {
            File.Delete(passwd);
        }
    }
}
