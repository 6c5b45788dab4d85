using System.Globalization;
using Istio.AppSwitch.Dataplane.Interception;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Tests.Interception;

public sealed class DatagramPeersTests
{
    [Fact]
    public void TryGetVip_BackendRemembered_ReturnsTheVipItStandsFor()
    {
        var peers = new DatagramPeers(SocketConstants.AF_INET);
        peers.Remember(TestWorld.Ep("127.0.0.1:5353"), TestWorld.Ep("127.96.0.53:53"));
        peers.Remember(TestWorld.Ep("127.0.0.1:6000"), TestWorld.Ep("127.96.0.60:60"));

        Assert.True(peers.TryGetVip(TestWorld.Ep("127.0.0.1:5353"), out var vip));
        Assert.Equal(TestWorld.Ep("127.96.0.53:53"), vip);
        Assert.True(peers.TryGetVip(TestWorld.Ep("127.0.0.1:6000"), out vip));
        Assert.Equal(TestWorld.Ep("127.96.0.60:60"), vip);
        Assert.False(peers.TryGetVip(TestWorld.Ep("127.0.0.1:5354"), out _)); // another port is another peer
    }

    [Fact]
    public void Remember_SameBackendForAnotherVip_NewestWins()
    {
        var peers = new DatagramPeers(SocketConstants.AF_INET);
        peers.Remember(TestWorld.Ep("127.0.0.1:5353"), TestWorld.Ep("127.96.0.53:53"));
        peers.Remember(TestWorld.Ep("127.0.0.1:5353"), TestWorld.Ep("127.96.0.54:53"));

        Assert.True(peers.TryGetVip(TestWorld.Ep("127.0.0.1:5353"), out var vip));
        Assert.Equal(TestWorld.Ep("127.96.0.54:53"), vip);
    }

    [Fact]
    public void Remember_PastCapacity_DropsTheOldest()
    {
        var peers = new DatagramPeers(SocketConstants.AF_INET);
        for (var i = 0; i <= DatagramPeers.Capacity; i++)
        {
            peers.Remember(TestWorld.Ep($"127.0.0.1:{10000 + i}"), TestWorld.Ep($"127.96.1.1:{i + 1}"));
        }

        Assert.False(peers.TryGetVip(TestWorld.Ep("127.0.0.1:10000"), out _));
        Assert.True(peers.TryGetVip(TestWorld.Ep("127.0.0.1:10001"), out var second));
        Assert.Equal(TestWorld.Ep("127.96.1.1:2"), second);
        var last = (10000 + DatagramPeers.Capacity).ToString(CultureInfo.InvariantCulture);
        Assert.True(peers.TryGetVip(TestWorld.Ep($"127.0.0.1:{last}"), out _));
    }

    [Fact]
    public void Remember_Concurrently_KeepsEveryBackend()
    {
        var peers = new DatagramPeers(SocketConstants.AF_INET);

        Parallel.For(0, 32, i => peers.Remember(TestWorld.Ep($"127.0.0.1:{20000 + i}"), TestWorld.Ep($"127.96.2.1:{i + 1}")));

        for (var i = 0; i < 32; i++)
        {
            Assert.True(peers.TryGetVip(TestWorld.Ep($"127.0.0.1:{20000 + i}"), out var vip));
            Assert.Equal(TestWorld.Ep($"127.96.2.1:{i + 1}"), vip);
        }
    }

    [Fact]
    public void Remember_Ipv4VipOnIpv6Socket_KeptMappedAsTheKernelReportsSources()
    {
        var peers = new DatagramPeers(SocketConstants.AF_INET6);
        peers.Remember(TestWorld.Ep("[::ffff:127.0.0.1]:5353"), TestWorld.Ep("127.96.0.53:53"));

        Assert.True(peers.TryGetVip(TestWorld.Ep("[::ffff:127.0.0.1]:5353"), out var vip));
        Assert.Equal(TestWorld.Ep("[::ffff:127.96.0.53]:53"), vip);
    }
}
