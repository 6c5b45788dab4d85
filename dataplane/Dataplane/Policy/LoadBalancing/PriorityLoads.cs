namespace Istio.AppSwitch.Dataplane.Policy.LoadBalancing;

/// <summary>
/// How a cluster's connects split across its priority levels, as Envoy computes it (<c>load_balancer_impl.cc</c>,
/// <c>recalculatePerPriorityState</c> and <c>recalculatePerPriorityPanic</c>), for one set of ejections. Immutable:
/// a change of ejections makes a new one.
/// <list type="bullet">
/// <item>A level's health is 1.4 × its share of healthy endpoints (in percent, capped at 100), its degraded
/// availability the same for degraded ones. Ejected endpoints count as neither. Shares count endpoints, not weights
/// (Envoy's default, without <c>weighted_priority_health</c>).</item>
/// <item>The levels' healthy load takes 100% in priority order, each at most its health scaled by the total
/// availability (sum of all healthy and degraded availability, capped at 100); what is left goes the same way to the
/// degraded loads; a rounding remainder goes to the first level with healthy (else degraded) availability.</item>
/// <item>Unless the total availability is 100, a level whose healthy plus degraded share is below the panic
/// threshold is in panic: its picks take any of its endpoints. When every level is, the load splits by endpoint
/// count instead. With a threshold of 0 and nothing available, all load goes to level 0, which then picks
/// nothing.</item>
/// </list>
/// </summary>
internal sealed class PriorityLoads
{
    private const int OverprovisioningFactor = 140;

    private readonly byte[] _healthyLoad;
    private readonly byte[] _degradedLoad;
    private readonly bool[] _panic;

    private PriorityLoads(byte[] healthyLoad, byte[] degradedLoad, bool[] panic, int epoch, long nextExpiry)
    {
        _healthyLoad = healthyLoad;
        _degradedLoad = degradedLoad;
        _panic = panic;
        Epoch = epoch;
        NextExpiry = nextExpiry;
    }

    /// <summary>The <see cref="ClusterState.EjectionEpoch"/> these loads saw.</summary>
    public int Epoch { get; }

    /// <summary>When the first ejection these loads counted ends; <see cref="long.MaxValue"/> when none.</summary>
    public long NextExpiry { get; }

    /// <summary>The healthy load of each level, in percent (for tests and diagnostics).</summary>
    public ReadOnlySpan<byte> HealthyLoad => _healthyLoad;

    /// <summary>The degraded load of each level, in percent.</summary>
    public ReadOnlySpan<byte> DegradedLoad => _degradedLoad;

    /// <summary>Whether each level is in panic.</summary>
    public ReadOnlySpan<bool> Panic => _panic;

    public static PriorityLoads Compute(PriorityGroup[] groups, int panicThreshold, long now, int epoch)
    {
        var count = groups.Length;
        var health = new int[count];
        var degraded = new int[count];
        var availablePercent = new double[count];
        var healthyLoad = new byte[count];
        var degradedLoad = new byte[count];
        var panic = new bool[count];
        var nextExpiry = long.MaxValue;
        var totalHosts = 0;
        var availabilitySum = 0;
        for (var p = 0; p < count; p++)
        {
            var all = groups[p].All;
            int healthyHosts = 0, degradedHosts = 0;
            foreach (var endpoint in all)
            {
                var until = Volatile.Read(ref endpoint.State.EjectedUntil);
                if (now < until)
                {
                    nextExpiry = Math.Min(nextExpiry, until);
                    continue;
                }

                healthyHosts += endpoint.Health == UpstreamHealth.Healthy ? 1 : 0;
                degradedHosts += endpoint.Health == UpstreamHealth.Degraded ? 1 : 0;
            }

            totalHosts += all.Length;
            health[p] = Math.Min(100, OverprovisioningFactor * healthyHosts / all.Length);
            degraded[p] = Math.Min(100, OverprovisioningFactor * degradedHosts / all.Length);
            availablePercent[p] = (100.0 * healthyHosts / all.Length) + (100.0 * degradedHosts / all.Length);
            availabilitySum += health[p] + degraded[p];
        }

        var totalAvailability = Math.Min(100, availabilitySum);
        if (totalAvailability > 0)
        {
            var remaining = 100;
            var firstHealthy = Distribute(healthyLoad, health, ref remaining, totalAvailability);
            var firstDegraded = Distribute(degradedLoad, degraded, ref remaining, totalAvailability);
            if (remaining > 0)
            {
                if (firstHealthy >= 0)
                {
                    healthyLoad[firstHealthy] += (byte)remaining;
                }
                else
                {
                    degradedLoad[firstDegraded] += (byte)remaining;
                }
            }
        }

        var threshold = Math.Clamp(panicThreshold, 0, 100);
        if (count == 0)
        {
            // No endpoint: nothing to choose, and Pick returns before asking.
        }
        else if (threshold == 0 && totalAvailability == 0)
        {
            healthyLoad[0] = 100;
        }
        else
        {
            var totalPanic = true;
            for (var p = 0; p < count; p++)
            {
                panic[p] = totalAvailability != 100 && availablePercent[p] < threshold;
                totalPanic &= panic[p];
            }

            if (totalPanic)
            {
                var remaining = 100;
                for (var p = 0; p < count; p++)
                {
                    healthyLoad[p] = (byte)(100 * groups[p].All.Length / totalHosts);
                    degradedLoad[p] = 0;
                    remaining -= healthyLoad[p];
                }

                healthyLoad[0] += (byte)remaining;
            }
        }

        return new PriorityLoads(healthyLoad, degradedLoad, panic, epoch, nextExpiry);
    }

    /// <summary>The level and mode for a pick, from a hash (the source hash for the hash policies, as Envoy uses the
    /// request hash; a random number for the others).</summary>
    public (int Level, PickMode Mode) Choose(ulong hash)
    {
        var point = (int)(hash % 100) + 1;
        var aggregate = 0;
        for (var p = 0; p < _healthyLoad.Length; p++)
        {
            aggregate += _healthyLoad[p];
            if (point <= aggregate)
            {
                return (p, _panic[p] ? PickMode.Panic : PickMode.Healthy);
            }
        }

        for (var p = 0; p < _degradedLoad.Length; p++)
        {
            aggregate += _degradedLoad[p];
            if (point <= aggregate)
            {
                return (p, _panic[p] ? PickMode.Panic : PickMode.Degraded);
            }
        }

        return (0, PickMode.Healthy);
    }

    /// <summary>Envoy's <c>distributeLoad</c>: returns the first level with any availability, or −1.</summary>
    private static int Distribute(byte[] load, int[] availability, ref int remaining, int totalAvailability)
    {
        var first = -1;
        for (var p = 0; p < load.Length; p++)
        {
            if (first < 0 && availability[p] > 0)
            {
                first = p;
            }

            load[p] = (byte)Math.Min(remaining, availability[p] * 100 / totalAvailability);
            remaining -= load[p];
        }

        return first;
    }
}
