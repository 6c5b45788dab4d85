using Istio.AppSwitch.Tests.Common.Xds;
using Istio.AppSwitch.Xds.Ads;
using Istio.AppSwitch.Xds.Client;
using Istio.AppSwitch.Xds.Tests.Ads;
using static Istio.AppSwitch.Tests.Common.Xds.XdsTestResources;

namespace Istio.AppSwitch.Xds.Tests.Client;

/// <summary>The client's surface: watchers, start and stop, what it ignores.</summary>
public sealed class XdsClientTests
{
    private sealed class ThrowingWatcher : IXdsWatcher
    {
        public void OnChanged(XdsSnapshot snapshot, XdsChange change) => throw new InvalidOperationException("watcher bug");

        public void OnResourceError(string typeUrl, string name, string reason) => throw new InvalidOperationException("watcher bug");

        public void OnAmbientError(XdsAmbientError error) => throw new InvalidOperationException("watcher bug");
    }

    /// <summary>Fails if two callbacks ever overlap.</summary>
    private sealed class OverlapWatcher : IXdsWatcher
    {
        private int _inside;

        public int Calls { get; private set; }

        public bool Overlapped { get; private set; }

        public void OnChanged(XdsSnapshot snapshot, XdsChange change) => Enter();

        public void OnResourceError(string typeUrl, string name, string reason) => Enter();

        public void OnAmbientError(XdsAmbientError error) => Enter();

        private void Enter()
        {
            Overlapped |= Interlocked.Increment(ref _inside) > 1;
            Thread.Sleep(2);
            Calls++;
            Interlocked.Decrement(ref _inside);
        }
    }

    [Fact]
    public async Task Watch_AfterPush_NewWatcherGetsCurrentSnapshotFirst()
    {
        await using var harness = await AdsTestHarness.StartAsync(AdsVariant.Delta);
        await harness.InitialDeltaPushAsync();
        await harness.Watcher.WaitForSnapshotAsync(s => s.Routes.Resources.Count == 1);

        var late = new RecordingWatcher();
        using var registration = harness.Client.Watch(late);

        var (snapshot, change) = await late.WaitForAsync<(XdsSnapshot Snapshot, XdsChange Change)>();
        Assert.Same(harness.Client.Snapshot, snapshot);
        Assert.Empty(change.TypeUrl);
    }

    [Fact]
    public async Task Watchers_OneThrows_OthersStillCalledOneAtATime()
    {
        var overlap = new OverlapWatcher();
        await using var harness = await AdsTestHarness.StartAsync(AdsVariant.Delta);
        using var throwing = harness.Client.Watch(new ThrowingWatcher());
        using var counting = harness.Client.Watch(overlap);
        var last = new RecordingWatcher();
        using var lastRegistration = harness.Client.Watch(last);

        await harness.InitialDeltaPushAsync();

        // Watchers run in registration order: once the last one has the routes, every earlier one had them.
        await last.WaitForSnapshotAsync(s => s.Routes.Resources.Count == 1);
        Assert.False(overlap.Overlapped);
        Assert.True(overlap.Calls >= 4);
    }

    [Fact]
    public async Task StopThenStart_KnownResources_NewStreamResubscribesWithVersions()
    {
        await using var harness = await AdsTestHarness.StartAsync(AdsVariant.Delta);
        await harness.InitialDeltaPushAsync();
        await harness.Watcher.WaitForSnapshotAsync(s => s.Routes.Resources.Count == 1);

        await harness.Client.StopAsync();
        Assert.False(harness.Client.IsRunning);
        Assert.Equal(3, harness.Client.Snapshot.Clusters.Resources.Count); // stopping forgets nothing
        harness.Client.Start();

        var cds = await harness.Server.NextRequestAsync();
        Assert.Equal(2, cds.Stream);
        Assert.Equal(3, cds.Delta!.InitialResourceVersions.Count);
        Assert.Throws<InvalidOperationException>(harness.Client.Start);
    }

    [Fact]
    public async Task Response_TypeNotSubscribed_IgnoredAndNotAnswered()
    {
        await using var harness = await AdsTestHarness.StartAsync(AdsVariant.StateOfTheWorld);
        await harness.Server.NextSotwRequestAsync();

        await harness.Server.PushAsync(XdsManagementServer.SotwResponse(
            "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret", "1"));
        var nonce = await harness.Server.PushAsync(XdsManagementServer.SotwResponse(ClusterType, "c1", OriginalDstCluster("a")));

        AdsTestHarness.AssertSotwAck(await harness.Server.NextSotwRequestAsync(), ClusterType, "c1", nonce);
    }
}
