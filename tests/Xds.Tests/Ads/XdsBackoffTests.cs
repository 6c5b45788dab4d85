using Istio.AppSwitch.Xds.Ads;

namespace Istio.AppSwitch.Xds.Tests.Ads;

public sealed class XdsBackoffTests
{
    /// <summary>Always draws the same fraction, so each delay is that fraction of the ceiling.</summary>
    private sealed class FixedRandom(double value) : Random
    {
        public override double NextDouble() => value;
    }

    [Fact]
    public void Next_Default_DoublesFromHundredMillisecondsUpToThirtySeconds()
    {
        var backoff = new XdsBackoff(XdsBackoffOptions.Default, new FixedRandom(0.5));

        var delays = Enumerable.Range(0, 12).Select(_ => backoff.Next().TotalMilliseconds).ToArray();

        Assert.Equal([50, 100, 200, 400, 800, 1600, 3200, 6400, 12800, 15000, 15000, 15000], delays);
    }

    [Fact]
    public void Next_FullJitter_DrawsBetweenZeroAndTheCeiling()
    {
        Assert.Equal(TimeSpan.Zero, new XdsBackoff(XdsBackoffOptions.Default, new FixedRandom(0)).Next());
        var backoff = new XdsBackoff(XdsBackoffOptions.Default, new Random(1));
        for (var i = 0; i < 20; i++)
        {
            var ceiling = backoff.CurrentCeiling;
            var delay = backoff.Next();
            Assert.InRange(delay, TimeSpan.Zero, ceiling);
        }
    }

    [Fact]
    public void Reset_AfterFailures_StartsFromInitialAgain()
    {
        var backoff = new XdsBackoff(XdsBackoffOptions.Default, new FixedRandom(1));
        backoff.Next();
        backoff.Next();
        Assert.Equal(TimeSpan.FromMilliseconds(400), backoff.CurrentCeiling);

        backoff.Reset();

        Assert.Equal(TimeSpan.FromMilliseconds(100), backoff.Next());
    }
}
