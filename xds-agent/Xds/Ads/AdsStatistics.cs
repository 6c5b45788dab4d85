using System.Collections.Concurrent;

namespace Istio.AppSwitch.Xds.Ads;

/// <summary>
/// Counts of what the ADS streams received and answered, per type URL, kept across reconnects: the source of the
/// <c>ax_xds_*</c> metrics. Updated by the ADS loop (one writer), read by anyone.
/// </summary>
public sealed class AdsStatistics
{
    private readonly ConcurrentDictionary<string, AdsTypeCounts> _byType = new(StringComparer.Ordinal);

    /// <summary>Called after each ACK or NACK is sent (on the ADS loop: keep it short and never throw).</summary>
    public Action<AdsOutcome>? Observer { get; set; }

    /// <summary>The counts per type URL, sorted by type URL.</summary>
    public IReadOnlyList<(string TypeUrl, AdsTypeCounts Counts)> Snapshot() =>
        [.. _byType.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => (e.Key, e.Value))];

    internal void Pushed(string typeUrl) => Interlocked.Increment(ref For(typeUrl).Pushes);

    internal void Answered(string typeUrl, bool acked, string version, string? error)
    {
        var counts = For(typeUrl);
        if (acked)
        {
            Interlocked.Increment(ref counts.Acks);
        }
        else
        {
            Interlocked.Increment(ref counts.Nacks);
        }
        Observer?.Invoke(new AdsOutcome(typeUrl, acked, version, error));
    }

    private AdsTypeCounts For(string typeUrl) => _byType.GetOrAdd(typeUrl, static _ => new AdsTypeCounts());
}

/// <summary>One type URL's counts.</summary>
public sealed class AdsTypeCounts
{
    /// <summary>Responses (pushes) received for the type, decodable or not.</summary>
    public long Pushes;

    /// <summary>Pushes accepted.</summary>
    public long Acks;

    /// <summary>Pushes rejected, with an error detail sent back.</summary>
    public long Nacks;
}

/// <summary>One answered push.</summary>
/// <param name="TypeUrl">The resource type.</param>
/// <param name="Acked">True for an ACK, false for a NACK.</param>
/// <param name="Version">The version accepted, or for a NACK the last good one that stays.</param>
/// <param name="Error">A NACK's error detail.</param>
public sealed record AdsOutcome(string TypeUrl, bool Acked, string Version, string? Error);
