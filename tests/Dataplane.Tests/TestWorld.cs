using System.Net;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Dataplane.Registry;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Tests;

/// <summary>A routing table with its registry and ref store, and short ways to fill them.</summary>
internal sealed class TestWorld
{
    private ulong _nextInode = 1000;

    public TestWorld()
    {
        Routing = new RoutingTable();
        Registry = new ServiceRegistry(Routing, TimeProvider.System, null, uid => uid == 0 ? "root" : "user" + uid, "test-host");
        Refs = new RefStore(Routing);
    }

    public RoutingTable Routing { get; }

    public ServiceRegistry Registry { get; }

    public RefStore Refs { get; }

    public static InetEndpoint Ep(string text) => InetEndpoint.FromIPEndPoint(IPEndPoint.Parse(text));

    public AppRecord App(string name, string labels = "", string? ip = null) =>
        Registry.RegisterApp(new AppRegistration(
            name,
            Labels.Parse(labels),
            ip is null ? null : IPAddress.Parse(ip),
            Pid: 4242,
            Uid: 1000,
            Command: ["/usr/bin/" + name]));

    public ServiceRecord Listen(AppRecord app, string requested, string? bound = null, TransportProtocol protocol = TransportProtocol.Tcp) =>
        Registry.AddService(app.Id, protocol, Ep(requested), Ep(bound ?? requested), _nextInode++);

    public ServiceRef Ref(string name, string vip, string selector, string? clients = null) =>
        Refs.Create(new RefSpec(name, vip, selector, clients));

    public ConnectDecision Resolve(AppRecord client, string destination) => Routing.Current.Resolve(client, Ep(destination));
}
