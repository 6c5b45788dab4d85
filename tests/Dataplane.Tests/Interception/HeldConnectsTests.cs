using Istio.AppSwitch.Dataplane.Interception;
using Istio.AppSwitch.Dataplane.Registry;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Tests.Interception;

/// <summary>
/// The room of held connects while a scan settles them outside its lock: what <see cref="HeldConnects.Count"/> (the
/// <c>ax_held_connects</c> gauge) and <see cref="HeldConnects.ByRef"/> (<c>ax get refs</c>) report meanwhile.
/// </summary>
public sealed class HeldConnectsTests : IDisposable
{
    private readonly ManualTime _time = new() { Now = DateTimeOffset.Parse("2026-11-22T12:00:00Z", null) };
    private readonly HeldConnects _room;
    private readonly InterceptedApp _app;

    public HeldConnectsTests()
    {
        _room = new HeldConnects(_time);
        var record = new AppRecord("app-1", "client", Labels.Parse("app=client"), null, 1, 0, ["client"], _time.GetUtcNow());
        _app = new InterceptedApp(record, new SafeSeccompListenerHandle(), null);
    }

    public void Dispose()
    {
        _room.Dispose();
        _app.Dispose();
    }

    private HeldConnect Hold(ulong id, string refName)
    {
        var held = new HeldConnect(_app, id, new SafeFd(), new SyscallHandler.AppSocketInfo(1, 2, 0),
            new InetEndpoint([127, 96, 120, 1], 7000), refName, id, _time.GetUtcNow());
        _room.Add(held);
        return held;
    }

    [Fact]
    public void Count_DuringScan_CountsTakenUntilSettled()
    {
        for (ulong i = 1; i <= 5; i++)
        {
            Hold(i, "a");
        }

        var taken = _room.TakeAll();
        Assert.Equal(5, taken.Length);
        Assert.Equal(5, _room.Count);
        Assert.Equal(5, _room.ByRef()["a"].Count);

        _room.Settled(taken, 0);
        _room.Settled(taken, 3);
        Assert.Equal(3, _room.Count);
        Assert.Equal(3, _room.ByRef()["a"].Count);

        _room.PutBack(taken);
        Assert.Equal(3, _room.Count);
        var again = _room.TakeAll();
        Assert.Equal([2UL, 3UL, 5UL], again.Select(h => h!.Id));
        _room.PutBack(again);
    }

    [Fact]
    public void Count_HeldDuringScan_CountedBesideTheTaken()
    {
        Hold(1, "a");
        Hold(2, "a");
        var taken = _room.TakeAll();

        _time.Now += TimeSpan.FromSeconds(3);
        Hold(3, "b");
        _room.Settled(taken, 1);

        Assert.Equal(2, _room.Count);
        var byRef = _room.ByRef();
        Assert.Equal(1, byRef["a"].Count);
        Assert.Equal(1, byRef["b"].Count);
        Assert.Equal(_time.GetUtcNow(), byRef["b"].OldestSince);

        _room.PutBack(taken);
        Assert.Equal(2, _room.Count);
        Assert.Equal(1, _room.ByRef()["a"].Count);
    }

    [Fact]
    public void TakeAll_EmptyRoom_NothingToScan()
    {
        var taken = _room.TakeAll();

        Assert.Empty(taken);
        _room.PutBack(taken);
        Assert.Equal(0, _room.Count);
        Assert.Empty(_room.ByRef());
    }

    private sealed class ManualTime : TimeProvider
    {
        public DateTimeOffset Now { get; set; }

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
