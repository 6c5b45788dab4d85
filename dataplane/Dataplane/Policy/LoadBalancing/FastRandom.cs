namespace Istio.AppSwitch.Dataplane.Policy.LoadBalancing;

/// <summary>
/// A per-thread SplitMix64 generator for the pick path: one thread-static read, an add and three multiply-xorshifts,
/// no lock, no allocation. <see cref="Random.Shared"/> is thread-safe too, but goes through a virtual call and a
/// range-rejection loop for every number, and the pick path needs raw 64-bit words, not ranges. Not for anything
/// security-related.
/// </summary>
internal static class FastRandom
{
    [ThreadStatic]
    private static ulong _state;

    /// <summary>64 uniformly distributed bits.</summary>
    public static ulong Next()
    {
        var state = _state;
        if (state == 0)
        {
            // Seeded once per thread from the shared generator, so that threads do not walk the same sequence.
            state = (ulong)Random.Shared.NextInt64() | 1;
        }

        state += 0x9E3779B97F4A7C15UL;
        _state = state;
        var z = state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A uniform value in [0, <paramref name="bound"/>) by multiply-high (Lemire), without division.</summary>
    public static ulong NextBelow(ulong bound) => Math.BigMul(Next(), bound, out _);
}
