using System.Collections.Concurrent;
using Istio.AppSwitch.Grpc;
using Istio.AppSwitch.Tests.Common.Xds;
using Istio.AppSwitch.Xds.Ads;
using Istio.AppSwitch.Xds.Client;
using Istio.AppSwitch.Xds.Sidecar;

namespace Istio.AppSwitch.Xds.Tests.Ads;

/// <summary>The reconnect loop waits on the injected clock, for the delays the injected randomness gives.</summary>
public sealed class ReconnectBackoffTests
{
    /// <summary>Records every delay asked of it and lets it pass at once, so a test sees the schedule without waiting it out.</summary>
    private sealed class RecordingTimeProvider : TimeProvider
    {
        public ConcurrentQueue<TimeSpan> Delays { get; } = new();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            Delays.Enqueue(dueTime);
            return System.CreateTimer(callback, state, TimeSpan.Zero, period);
        }
    }

    private sealed class FixedRandom(double value) : Random
    {
        public override double NextDouble() => value;
    }

    [Fact]
    public async Task ServerDown_Reconnects_WaitsExponentialDelaysOnInjectedClock()
    {
        // A port that was just free: nothing listens there now, so every attempt is refused.
        var server = await XdsManagementServer.StartAsync();
        var address = server.Address;
        await server.DisposeAsync();
        var clock = new RecordingTimeProvider();
        using var channel = new Http2GrpcChannel(new GrpcChannelOptions { Address = address });
        var watcher = new RecordingWatcher();
        await using var client = new XdsClient(channel, new XdsClientOptions
        {
            Node = XdsNodeBuilder.Build(AdsTestHarness.NodeOptions),
            TimeProvider = clock,
            Random = new FixedRandom(0.5),
        });
        client.Watch(watcher);

        client.Start();
        for (var i = 0; i < 6; i++)
        {
            var error = await watcher.WaitForAsync<XdsAmbientError>();
            Assert.Equal(XdsAmbientErrorKind.ConnectionLost, error.Kind);
        }

        await client.StopAsync();
        Assert.Equal(
            new[] { 50, 100, 200, 400, 800 },
            clock.Delays.Take(5).Select(d => (int)d.TotalMilliseconds));
        Assert.Same(XdsSnapshot.Empty, client.Snapshot);
    }
}
