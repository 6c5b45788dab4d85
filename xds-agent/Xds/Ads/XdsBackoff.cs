namespace Istio.AppSwitch.Xds.Ads;

/// <summary>Reconnection delays: exponential, capped, with full jitter.</summary>
/// <param name="Initial">The ceiling of the first delay.</param>
/// <param name="Multiplier">How much the ceiling grows after each failed attempt.</param>
/// <param name="Maximum">The largest ceiling.</param>
public sealed record XdsBackoffOptions(TimeSpan Initial, double Multiplier, TimeSpan Maximum)
{
    /// <summary>100 ms, doubling, at most 30 s (what Envoy's ADS mux uses for its base and cap).</summary>
    public static XdsBackoffOptions Default { get; } = new(TimeSpan.FromMilliseconds(100), 2, TimeSpan.FromSeconds(30));
}

/// <summary>
/// Full-jitter exponential backoff (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/):
/// the n-th delay is uniform in [0, min(Maximum, Initial × Multiplier^n)). Full jitter spreads the sidecars of a
/// whole mesh that lost istiod at the same moment. Not thread-safe: the ADS loop owns it.
/// </summary>
public sealed class XdsBackoff
{
    private readonly XdsBackoffOptions _options;
    private readonly Random _random;
    private int _attempt;

    /// <summary>Creates the backoff; <paramref name="random"/> is injected so tests know every delay.</summary>
    public XdsBackoff(XdsBackoffOptions options, Random random)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(random);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Multiplier, 1.0);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Maximum, options.Initial);
        _options = options;
        _random = random;
    }

    /// <summary>The ceiling the next delay is drawn under.</summary>
    public TimeSpan CurrentCeiling
    {
        get
        {
            var ceiling = _options.Initial.TotalMilliseconds * Math.Pow(_options.Multiplier, _attempt);
            return TimeSpan.FromMilliseconds(Math.Min(ceiling, _options.Maximum.TotalMilliseconds));
        }
    }

    /// <summary>The delay before the next attempt; each call raises the ceiling.</summary>
    public TimeSpan Next()
    {
        var delay = TimeSpan.FromMilliseconds(_random.NextDouble() * CurrentCeiling.TotalMilliseconds);
        if (CurrentCeiling < _options.Maximum)
        {
            _attempt++;
        }

        return delay;
    }

    /// <summary>Starts over: called after a stream that delivered a response, so one good stream forgives old failures.</summary>
    public void Reset() => _attempt = 0;
}
