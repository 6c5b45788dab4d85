namespace Istio.AppSwitch.Dataplane.Policy.LoadBalancing;

/// <summary>
/// Envoy's Maglev table (<c>maglev_lb.cc</c>, after Eisenbud et al., NSDI 2016, listing 1) over the endpoints of one
/// priority. Each endpoint, in order of its key <c>"address:port"</c>, has the permutation
/// offset = xxHash64(key, 0) mod M, skip = xxHash64(key, 1) mod (M − 1) + 1, and takes its next free slot in turn;
/// weights decide how often its turn comes (the heaviest takes one slot every round). Built once;
/// <see cref="Pick"/> only reads.
/// </summary>
internal sealed class MaglevTable
{
    private readonly int[] _table;
    private readonly UpstreamEndpoint[] _endpoints;

    private MaglevTable(int[] table, UpstreamEndpoint[] endpoints)
    {
        _table = table;
        _endpoints = endpoints;
    }

    /// <summary>Slots in the table (0 when the priority has no endpoint).</summary>
    public int Size => _table.Length;

    /// <summary>The number of slots <paramref name="endpoint"/> owns (for tests and diagnostics).</summary>
    public int SlotsOf(UpstreamEndpoint endpoint)
    {
        var count = 0;
        foreach (var index in _table)
        {
            count += ReferenceEquals(_endpoints[index], endpoint) ? 1 : 0;
        }

        return count;
    }

    /// <summary>
    /// Fills a table of <paramref name="tableSize"/> (a prime) slots. As for the ring, every endpoint of the priority
    /// is in the table and a pick walks past those it may not take.
    /// </summary>
    public static MaglevTable Build(UpstreamEndpoint[] endpoints, ulong tableSize)
    {
        if (endpoints.Length == 0)
        {
            return new MaglevTable([], []);
        }

        // The fill order decides the table, so it must not depend on EDS order: Envoy sorts by host key.
        var keys = new string[endpoints.Length];
        var sorted = new UpstreamEndpoint[endpoints.Length];
        for (var i = 0; i < endpoints.Length; i++)
        {
            keys[i] = endpoints[i].Address.ToString();
            sorted[i] = endpoints[i];
        }

        Array.Sort(keys, sorted, StringComparer.Ordinal);

        var size = (int)tableSize;
        var positions = new ulong[sorted.Length];
        var skips = new ulong[sorted.Length];
        var taken = new ulong[sorted.Length];
        ulong maximumWeight = 0;
        Span<byte> key = stackalloc byte[96];
        for (var i = 0; i < sorted.Length; i++)
        {
            var length = System.Text.Encoding.UTF8.GetBytes(keys[i], key);
            positions[i] = XxHash64.Hash(key[..length], 0) % tableSize;
            skips[i] = (XxHash64.Hash(key[..length], 1) % (tableSize - 1)) + 1;
            maximumWeight = Math.Max(maximumWeight, sorted[i].Weight);
        }

        var table = new int[size];
        Array.Fill(table, -1);
        var filled = 0;
        for (ulong round = 1; filled < size; round++)
        {
            for (var i = 0; i < sorted.Length && filled < size; i++)
            {
                // Envoy's test in integers: an endpoint takes a slot this round while round × weight has not fallen
                // behind the slots it took × the heaviest weight.
                if (round * sorted[i].Weight < taken[i] * maximumWeight)
                {
                    continue;
                }

                taken[i]++;
                var slot = positions[i];
                while (table[slot] >= 0)
                {
                    slot = (slot + skips[i]) % tableSize;
                }

                table[slot] = i;
                positions[i] = (slot + skips[i]) % tableSize;
                filled++;
            }
        }

        return new MaglevTable(table, sorted);
    }

    /// <summary>The owner of slot <paramref name="hash"/> mod M, or of the next slot on that
    /// <paramref name="selection"/> accepts; null when it accepts none.</summary>
    public UpstreamEndpoint? Pick(ulong hash, in Selection selection)
    {
        var table = _table;
        if (table.Length == 0)
        {
            return null;
        }

        var start = (int)(hash % (ulong)table.Length);
        for (var step = 0; step < table.Length; step++)
        {
            var slot = start + step;
            var owner = _endpoints[table[slot >= table.Length ? slot - table.Length : slot]];
            if (selection.Accepts(owner))
            {
                return owner;
            }

            // A long walk usually means that nothing here is acceptable (a retry on a one-endpoint priority): say so
            // after a look at the endpoints, instead of after a walk over all M slots.
            if (step == WalkBeforeCheck && !HashTables.AnyAccepted(_endpoints, selection))
            {
                return null;
            }
        }

        return null;
    }

    private const int WalkBeforeCheck = 64;
}
