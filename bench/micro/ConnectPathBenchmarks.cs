using BenchmarkDotNet.Attributes;
using Istio.AppSwitch.Dataplane.Interception;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Dataplane.Registry;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Bench.Micro;

/// <summary>
/// What SyscallHandler.HandleConnect does in user space for one connect, without the kernel round trip and the
/// syscalls around it (process_vm_readv of the sockaddr, pidfd_getfd, connect): parse the application's sockaddr,
/// resolve it against the current snapshot (10,001 refs), and write the backend's sockaddr for the application
/// socket's family.
/// </summary>
[MemoryDiagnoser]
public class ConnectPathBenchmarks
{
    private RoutingTable _routing = null!;
    private AppRecord _client = null!;
    private byte[] _redirected = [];
    private byte[] _passedThrough = [];

    [GlobalSetup]
    public void Setup()
    {
        var world = RoutingWorld.Create(10_000);
        _routing = world.Routing;
        _client = world.Client;
        _redirected = Sockaddr("127.96.9.9:80");
        _passedThrough = Sockaddr("127.1.2.3:80");
        if (Redirect() == 0 || PassThrough() != 0)
        {
            throw new InvalidOperationException("The redirect did not redirect, or the pass-through did not pass through.");
        }
    }

    /// <summary>An exact VIP redirected to the service's loopback address: the fast path.</summary>
    [Benchmark]
    public int Redirect() => Decide(_redirected);

    /// <summary>A destination no ref matches: the daemon answers CONTINUE.</summary>
    [Benchmark]
    public int PassThrough() => Decide(_passedThrough);

    /// <summary>The length of the backend sockaddr written, or 0 when the kernel is to decide.</summary>
    private int Decide(ReadOnlySpan<byte> sockaddrFromApp)
    {
        if (!InetEndpoint.TryParse(sockaddrFromApp, out var destination, out _))
        {
            return -1;
        }
        var decision = _routing.Current.Resolve(_client, in destination);
        if (decision.Kind != ConnectDecisionKind.Redirect)
        {
            return 0;
        }
        if (!SyscallHandler.TryBackendFor(destination.Family, decision.Backend, decision.Service, out var backend))
        {
            return -1;
        }
        Span<byte> sockaddr = stackalloc byte[128];
        return backend.Write(sockaddr);
    }

    private static byte[] Sockaddr(string endpoint)
    {
        var buffer = new byte[128];
        return buffer[..RoutingWorld.Ep(endpoint).Write(buffer)];
    }
}
