namespace Istio.AppSwitch.Dataplane.Policy.LoadBalancing;

/// <summary>
/// The endpoints of one priority and one health class, with what round robin, random and least request need to pick
/// among them by weight: cumulative weights (only when the weights differ) and the round-robin turn. Immutable but
/// for the turn.
/// </summary>
internal sealed class EndpointList
{
    /// <summary>2^64 / φ: successive multiples are the Weyl sequence frac(n/φ), which spreads any window of turns
    /// evenly over [0, 1) (the three-distance theorem), so a weight's share holds over short runs too.</summary>
    private const ulong GoldenRatio64 = 0x9E3779B97F4A7C15UL;

    /// <summary>How many random draws find an acceptable endpoint before a scan takes over.</summary>
    private const int RandomAttempts = 8;

    private readonly ulong[]? _cumulativeWeights;
    private readonly ulong _totalWeight;

    public EndpointList(UpstreamEndpoint[] endpoints, TurnCounter turn)
    {
        Endpoints = endpoints;
        Turn = turn;
        ulong total = 0;
        var equal = true;
        var cumulative = new ulong[endpoints.Length];
        for (var i = 0; i < endpoints.Length; i++)
        {
            total += endpoints[i].Weight;
            cumulative[i] = total;
            equal &= endpoints[i].Weight == endpoints[0].Weight;
        }

        _totalWeight = total;
        _cumulativeWeights = equal ? null : cumulative;
    }

    public UpstreamEndpoint[] Endpoints { get; }

    /// <summary>The round-robin turn; handed on to the same priority and class in the next build.</summary>
    public TurnCounter Turn { get; }

    /// <summary>
    /// Weighted round robin. Equal weights take the endpoints in order. Different weights take turn n to the
    /// endpoint that frac(n/φ) falls on in the cumulative weights: deterministic, one <see cref="Interlocked"/>
    /// increment, and each endpoint's share converges to its weight as with Envoy's EDF scheduler. An endpoint that
    /// is not acceptable gives up its turn to the next one (another increment), which keeps the others' shares.
    /// </summary>
    public UpstreamEndpoint? PickRoundRobin(in Selection selection)
    {
        var endpoints = Endpoints;
        for (var attempt = 0; attempt < endpoints.Length; attempt++)
        {
            var turn = (ulong)Interlocked.Increment(ref Turn.Value) - 1;
            var candidate = endpoints[_cumulativeWeights is null ? (int)(turn % (ulong)endpoints.Length) : WeightedIndex(turn * GoldenRatio64)];
            if (selection.Accepts(candidate))
            {
                return candidate;
            }
        }

        return Scan(selection);
    }

    /// <summary>Weighted random.</summary>
    public UpstreamEndpoint? PickRandom(in Selection selection)
    {
        if (Endpoints.Length == 0)
        {
            return null;
        }

        for (var attempt = 0; attempt < RandomAttempts; attempt++)
        {
            var candidate = RandomEndpoint();
            if (selection.Accepts(candidate))
            {
                return candidate;
            }
        }

        return Scan(selection);
    }

    /// <summary>
    /// Power of <paramref name="choiceCount"/> choices: draws that many endpoints at random by weight and keeps the
    /// one with the fewest active connections per unit of weight; a tie keeps the earlier draw, so that with no load
    /// the shares follow the weights. With equal weights this is Envoy's unweighted P2C.
    /// </summary>
    public UpstreamEndpoint? PickLeastRequest(in Selection selection, int choiceCount)
    {
        if (Endpoints.Length == 0)
        {
            return null;
        }

        UpstreamEndpoint? best = null;
        for (var choice = 0; choice < choiceCount; choice++)
        {
            UpstreamEndpoint? candidate = null;
            for (var attempt = 0; attempt < RandomAttempts; attempt++)
            {
                var drawn = RandomEndpoint();
                if (selection.Accepts(drawn))
                {
                    candidate = drawn;
                    break;
                }
            }

            if (candidate is null)
            {
                continue;
            }

            // a/wa < b/wb without division; active counts and weights fit in a long product.
            if (best is null || (long)candidate.ActiveConnections * best.Weight < (long)best.ActiveConnections * candidate.Weight)
            {
                best = candidate;
            }
        }

        return best ?? Scan(selection);
    }

    private UpstreamEndpoint RandomEndpoint() => Endpoints[_cumulativeWeights is null
        ? (int)FastRandom.NextBelow((ulong)Endpoints.Length)
        : WeightedIndex(FastRandom.Next())];

    /// <summary>The endpoint whose share of the total weight contains <paramref name="fraction"/> (a 64-bit fixed-point
    /// number in [0, 1)).</summary>
    private int WeightedIndex(ulong fraction)
    {
        var cumulative = _cumulativeWeights!;
        var target = Math.BigMul(fraction, _totalWeight, out _);
        int low = 0, high = cumulative.Length - 1;
        while (low < high)
        {
            var middle = (int)((uint)(low + high) >> 1);
            if (cumulative[middle] > target)
            {
                high = middle;
            }
            else
            {
                low = middle + 1;
            }
        }

        return low;
    }

    /// <summary>The last resort when draws keep hitting endpoints that are not acceptable: the first acceptable one
    /// from a random start, so that no single endpoint inherits the load of the ones before it.</summary>
    private UpstreamEndpoint? Scan(in Selection selection)
    {
        var endpoints = Endpoints;
        if (endpoints.Length == 0)
        {
            return null;
        }

        var start = (int)FastRandom.NextBelow((ulong)endpoints.Length);
        for (var i = 0; i < endpoints.Length; i++)
        {
            var index = start + i;
            var candidate = endpoints[index >= endpoints.Length ? index - endpoints.Length : index];
            if (selection.Accepts(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}

/// <summary>A round-robin turn in a box, so that <see cref="Interlocked"/> can update it and a rebuild can hand it on.</summary>
internal sealed class TurnCounter
{
    public long Value;
}
