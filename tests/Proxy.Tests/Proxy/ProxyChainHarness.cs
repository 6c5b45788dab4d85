using Istio.AppSwitch.Delegation;
using Istio.AppSwitch.Interop;
using Istio.AppSwitch.Proxy.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace Istio.AppSwitch.Proxy.Tests.Proxy;

/// <summary>
/// <c>ax proxy</c>'s chain in the test process, fed by frames the test sends on a real Unix socket pair, as the
/// daemon would: the test plays the daemon, the chain plays the sidecar.
/// </summary>
internal sealed class ProxyChainHarness : IAsyncDisposable
{
    private readonly EpollReactor _reactor = new("test-proxy");
    private readonly SafeFd _daemonEnd;
    private readonly DelegationReader _reader;
    private readonly ProxyChain _chain;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _running;
    private ulong _nextId;

    public ProxyChainHarness(string configJson)
    {
        Assert.Equal(Errno.Success, UnixRights.StreamPair(nonBlocking: true, out var daemonEnd, out var sidecarEnd));
        _daemonEnd = daemonEnd!;
        _reader = new DelegationReader(sidecarEnd!, _reactor);
        _chain = ProxyChain.Create(ProxyConfigReader.Parse(configJson), NullLogger.Instance);
        Proxy = new DelegationProxy(_chain, _reactor, NullLogger.Instance);
        Channel = new DelegationChannel(_daemonEnd);
        _running = Task.Run(() => Proxy.RunAsync(_reader, _stop.Token));
    }

    public DelegationProxy Proxy { get; }

    public DelegationChannel Channel { get; }

    /// <summary>Delegates an outbound connection with <paramref name="header"/>; returns the application's end.</summary>
    public System.Net.Sockets.Socket Outbound(byte[] header)
    {
        var (application, peer) = TestSupport.Pair();
        using (peer)
        {
            Assert.Equal(DelegationSendResult.Sent, Channel.TrySend(DelegationKind.Outbound, ++_nextId, header, peer, null));
        }
        return TestSupport.ToSocket(application);
    }

    /// <summary>Delegates an inbound connection (the accepted socket given); returns the application's end.</summary>
    public System.Net.Sockets.Socket Inbound(byte[] header, System.Runtime.InteropServices.SafeHandle accepted)
    {
        var (application, peer) = TestSupport.Pair();
        using (peer)
        {
            Assert.Equal(DelegationSendResult.Sent, Channel.TrySend(DelegationKind.Inbound, ++_nextId, header, peer, accepted));
        }
        return TestSupport.ToSocket(application);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _daemonEnd.Dispose();
        try
        {
            await _running.WaitAsync(TestSupport.Timeout);
        }
        catch (OperationCanceledException)
        {
        }
        _reader.Dispose();
        _chain.Dispose();
        _reactor.Dispose();
        _stop.Dispose();
    }
}
