using System.Diagnostics;

namespace Istio.AppSwitch.Dataplane.Observability;

/// <summary>
/// A histogram with fixed bucket bounds, in seconds, recorded in <see cref="Stopwatch"/> ticks: one comparison per
/// bound and two <see cref="Interlocked"/> adds per observation, no lock, no allocation. Readers see each bucket
/// exactly but not all buckets as one instant; <see cref="Snapshot"/> derives the count from the buckets so that
/// the exposition stays self-consistent (<c>le="+Inf"</c> equals <c>_count</c>).
/// </summary>
public sealed class FixedHistogram
{
    private readonly long[] _boundTicks;
    private readonly long[] _counts; // per bucket, not cumulative; the last is +Inf
    private long _sumTicks;

    /// <param name="bounds">The upper bounds in seconds, increasing; +Inf is implied.</param>
    public FixedHistogram(params double[] bounds)
    {
        ArgumentNullException.ThrowIfNull(bounds);
        for (var i = 1; i < bounds.Length; i++)
        {
            if (!(bounds[i] > bounds[i - 1]))
            {
                throw new ArgumentException("bucket bounds must increase", nameof(bounds));
            }
        }
        Bounds = bounds;
        _boundTicks = bounds.Select(b => (long)Math.Ceiling(b * Stopwatch.Frequency)).ToArray();
        _counts = new long[bounds.Length + 1];
    }

    /// <summary>The upper bounds in seconds (without +Inf).</summary>
    public IReadOnlyList<double> Bounds { get; }

    /// <summary>Records one observation of <paramref name="ticks"/> <see cref="Stopwatch"/> ticks.</summary>
    public void Observe(long ticks)
    {
        if (ticks < 0)
        {
            ticks = 0;
        }
        var bounds = _boundTicks;
        var i = 0;
        while (i < bounds.Length && ticks > bounds[i])
        {
            i++;
        }
        Interlocked.Increment(ref _counts[i]);
        Interlocked.Add(ref _sumTicks, ticks);
    }

    /// <summary>Records one observation.</summary>
    public void Observe(TimeSpan duration) => Observe((long)(duration.TotalSeconds * Stopwatch.Frequency));

    /// <summary>The cumulative bucket counts (the last is +Inf), and the sum in seconds.</summary>
    public HistogramSnapshot Snapshot()
    {
        var cumulative = new long[_counts.Length];
        long running = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            running += Volatile.Read(ref _counts[i]);
            cumulative[i] = running;
        }
        return new HistogramSnapshot(Bounds, cumulative, (double)Volatile.Read(ref _sumTicks) / Stopwatch.Frequency);
    }
}

/// <summary>A histogram as Prometheus writes it: cumulative counts per upper bound, +Inf last.</summary>
/// <param name="Bounds">The finite upper bounds in seconds.</param>
/// <param name="Cumulative">One more than <paramref name="Bounds"/>: the last is +Inf, which is the count.</param>
/// <param name="Sum">The sum of the observations, in seconds.</param>
public sealed record HistogramSnapshot(IReadOnlyList<double> Bounds, long[] Cumulative, double Sum)
{
    /// <summary>The number of observations.</summary>
    public long Count => Cumulative[^1];
}
