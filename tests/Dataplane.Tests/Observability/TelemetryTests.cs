using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Dataplane.Observability;
using Istio.AppSwitch.Dataplane.Registry;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Tests.Observability;

/// <summary>The connect counters, the ring of recent decisions and the event hub.</summary>
public sealed class TelemetryTests
{
    private static readonly AppRecord App = new TestWorld().App("client");

    private static InetEndpoint Endpoint(string text) => TestWorld.Ep(text);

    [Fact]
    public void Connect_CountsByRefModeAndDecision_AndKeepsTheRecord()
    {
        var time = new FixedTime(DateTimeOffset.Parse("2026-11-22T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var telemetry = new DataplaneTelemetry(time, recent: 4);
        telemetry.Connect(App, ConnectMode.Unix, ConnectOutcome.Allowed, "redis", Endpoint("127.96.91.1:6379"), Endpoint("127.0.0.1:6379"));
        telemetry.Connect(App, ConnectMode.Unix, ConnectOutcome.Allowed, "redis", Endpoint("127.96.91.1:6379"), Endpoint("127.0.0.1:6379"));
        telemetry.Connect(App, ConnectMode.Fast, ConnectOutcome.Refused, "redis", Endpoint("127.96.91.1:6379"), default);
        telemetry.Connect(App, ConnectMode.Passthrough, ConnectOutcome.Allowed, null, Endpoint("127.0.0.1:80"), Endpoint("127.0.0.1:80"));

        Assert.Equal(
            [("", ConnectMode.Passthrough, ConnectOutcome.Allowed, 1L), ("redis", ConnectMode.Unix, ConnectOutcome.Allowed, 2L), ("redis", ConnectMode.Fast, ConnectOutcome.Refused, 1L)],
            telemetry.Connections().OrderBy(c => c.Ref, StringComparer.Ordinal).ThenBy(c => c.Outcome).ToList());
        Assert.Equal(new Dictionary<string, long> { ["unix/allowed"] = 2, ["fast/refused"] = 1 }, telemetry.ConnectionsOf("redis"));

        var recent = telemetry.Recent.Snapshot();
        Assert.Equal(4, recent.Count);
        Assert.Equal(ConnectMode.Passthrough, recent[0].Mode); // newest first
        Assert.Equal("127.0.0.1:6379", recent[3].Backend.ToString());
        Assert.Equal(time.GetUtcNow().ToUnixTimeMilliseconds(), recent[0].UnixMilliseconds);
    }

    [Fact]
    public void Ring_KeepsOnlyTheLastCapacityDecisions()
    {
        var log = new ConnectionLog(3);
        for (var i = 1; i <= 10; i++)
        {
            log.Add(i, App, ConnectMode.Fast, ConnectOutcome.Allowed, $"r{i}", Endpoint("127.96.91.1:1"), default);
        }
        Assert.Equal(["r10", "r9", "r8"], log.Snapshot().Select(r => r.Ref));
        Assert.Equal(10, log.Recorded);
    }

    [Fact]
    public void Ring_ConcurrentWriters_EveryKeptRecordIsWhole()
    {
        var log = new ConnectionLog(64);
        Parallel.For(0, 8, t =>
        {
            for (var i = 0; i < 20_000; i++)
            {
                // Each record's ref names its destination port, so a torn record would show a mismatch.
                var port = (ushort)((t * 1000) + (i % 1000));
                log.Add(i, App, ConnectMode.Fast, ConnectOutcome.Allowed, port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    Endpoint($"127.96.91.1:{port}"), default);
            }
        });
        var records = log.Snapshot();
        Assert.NotEmpty(records);
        Assert.All(records, r => Assert.Equal(r.Ref, r.Destination.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public async Task Events_DeliveredInOrder_ASlowReaderLosesTheOverflowAndIsTold()
    {
        var hub = new EventHub();
        Assert.False(hub.IsActive);
        using var fast = hub.Subscribe(capacity: 100);
        using var slow = hub.Subscribe(capacity: 2);
        Assert.True(hub.IsActive);
        for (var i = 0; i < 5; i++)
        {
            hub.Publish(new EventDto { Time = DateTimeOffset.UnixEpoch, Type = "connect", App = $"app-{i}" });
        }

        var got = new List<string?>();
        while (fast.Reader.TryRead(out var e))
        {
            got.Add(e.App);
        }
        Assert.Equal(["app-0", "app-1", "app-2", "app-3", "app-4"], got);
        Assert.Equal(3, slow.TakeDropped());
        Assert.Equal(0, slow.TakeDropped());
        Assert.Equal("app-0", (await slow.Reader.ReadAsync()).App);
        Assert.Equal(3, hub.Dropped);
    }

    [Fact]
    public void Events_DisposedSubscriber_NoLongerReceives_AndTheHubGoesQuiet()
    {
        var hub = new EventHub();
        var subscription = hub.Subscribe();
        subscription.Dispose();
        Assert.False(hub.IsActive);
        hub.Publish(new EventDto { Time = DateTimeOffset.UnixEpoch, Type = "connect" });
        Assert.Equal(0, hub.Published);
        Assert.True(subscription.Reader.Completion.IsCompleted);
    }

    [Fact]
    public void Notifications_ByKnownSyscall_OthersInOther()
    {
        var telemetry = new DataplaneTelemetry();
        telemetry.Notification(SyscallNumbers.Connect, 10);
        telemetry.Notification(SyscallNumbers.Connect, 10);
        telemetry.Notification(SyscallNumbers.Read, 10);
        var connect = DataplaneTelemetry.SyscallLabels.ToList().IndexOf("connect");
        Assert.Equal(2, telemetry.NotificationLatency[connect].Snapshot().Count);
        Assert.Equal("other", DataplaneTelemetry.SyscallLabels[^1]);
        Assert.Equal(1, telemetry.NotificationLatency[^1].Snapshot().Count);
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    [Fact]
    public void ForgetRef_DeletedRef_ItsCountsGoAndOthersStay()
    {
        var telemetry = new DataplaneTelemetry();
        telemetry.Connect(App, ConnectMode.Fast, ConnectOutcome.Allowed, "gone", Endpoint("127.96.91.1:6379"), Endpoint("127.0.0.1:6379"));
        telemetry.Connect(App, ConnectMode.Fast, ConnectOutcome.Allowed, "kept", Endpoint("127.96.91.2:6379"), Endpoint("127.0.0.1:6379"));
        telemetry.Connect(App, ConnectMode.Fast, ConnectOutcome.Allowed, "mesh/127.96.91.3:80", Endpoint("127.96.91.3:80"), Endpoint("127.0.0.1:80"));
        telemetry.Connect(App, ConnectMode.Fast, ConnectOutcome.Allowed, "mesh/127.96.91.4:80", Endpoint("127.96.91.4:80"), Endpoint("127.0.0.1:80"));

        telemetry.ForgetRef("gone");
        telemetry.ForgetRefs(name => name == "mesh/127.96.91.3:80");

        Assert.Equal(["kept", "mesh/127.96.91.4:80"], telemetry.Connections().Select(c => c.Ref));
        Assert.Empty(telemetry.ConnectionsOf("gone"));
        // Made again, the name counts from zero.
        telemetry.Connect(App, ConnectMode.Fast, ConnectOutcome.Refused, "gone", Endpoint("127.96.91.1:6379"), default);
        Assert.Equal(new Dictionary<string, long> { ["fast/refused"] = 1 }, telemetry.ConnectionsOf("gone"));
    }
}
