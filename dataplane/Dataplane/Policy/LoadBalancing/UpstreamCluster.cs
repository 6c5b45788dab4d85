using System.Runtime.CompilerServices;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Policy.LoadBalancing;

/// <summary>
/// An upstream cluster built from one xDS update: its endpoints grouped by priority, and per priority what its policy
/// picks from (weights, ring, Maglev table), all fixed at <see cref="Create"/>. The connect path calls
/// <see cref="Pick"/>, <see cref="TryAcquire"/>, <see cref="Release"/> and <see cref="ReportConnect"/> concurrently
/// from many threads: they take no lock (but for an ejection decision) and <see cref="Pick"/> allocates nothing but,
/// once per change of ejections, a small table of priority loads. The policies, priority and panic rules, and where
/// they differ from Envoy's, are in <c>docs/load-balancing.md</c>.
/// </summary>
public sealed class UpstreamCluster
{
    private readonly PriorityGroup[] _groups;
    private readonly UpstreamEndpoint[] _endpoints;
    private readonly EndpointState[] _states;
    private readonly ClusterState _state;
    private readonly long _baseEjection;
    private readonly long _maxEjection;
    private PriorityLoads _loads;

    private UpstreamCluster(UpstreamClusterSpec spec, PriorityGroup[] groups, UpstreamEndpoint[] endpoints, EndpointState[] states,
        ClusterState state, TimeProvider time)
    {
        Spec = spec;
        _groups = groups;
        _endpoints = endpoints;
        _states = states;
        _state = state;
        Time = time;
        Priorities = Array.ConvertAll(groups, g => g.Priority);
        if (spec.OutlierDetection is { } outlier)
        {
            _baseEjection = ToTimestampTicks(outlier.BaseEjectionTime, time);
            _maxEjection = Math.Max(_baseEjection, ToTimestampTicks(outlier.MaxEjectionTime, time));
        }

        _loads = PriorityLoads.Compute(groups, spec.HealthyPanicThreshold, time.GetTimestamp(), Volatile.Read(ref state.EjectionEpoch));
    }

    /// <summary>The cluster name.</summary>
    public string Name => Spec.Name;

    /// <summary>
    /// The clock of the timestamps <see cref="Pick"/> and <see cref="ReportConnect"/> take: callers read it here, so
    /// that every timestamp of one cluster comes from one clock.
    /// </summary>
    public TimeProvider Time { get; }

    /// <summary>What the cluster was built from.</summary>
    public UpstreamClusterSpec Spec { get; }

    /// <summary>The endpoints in the order of <see cref="UpstreamClusterSpec.Endpoints"/>.</summary>
    public IReadOnlyList<UpstreamEndpoint> Endpoints => _endpoints;

    /// <summary>Connections acquired and not released, over every build of this cluster.</summary>
    public int ActiveConnections => Volatile.Read(ref _state.ActiveConnections);

    /// <summary>The distinct priority values, lowest (tried first) first.</summary>
    public IReadOnlyList<uint> Priorities { get; }

    /// <summary>
    /// Every problem of <paramref name="spec"/>, all at once (empty when it is valid), so that an xDS update can be
    /// rejected whole before anything changes.
    /// </summary>
    public static IReadOnlyList<string> Validate(UpstreamClusterSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var problems = new List<string>();
        if (string.IsNullOrEmpty(spec.Name))
        {
            problems.Add("name: empty");
        }

        if (spec.Endpoints is null)
        {
            problems.Add("endpoints: null");
        }
        else
        {
            for (var i = 0; i < spec.Endpoints.Count; i++)
            {
                var endpoint = spec.Endpoints[i];
                if (endpoint is null)
                {
                    problems.Add($"endpoints[{i}]: null");
                    continue;
                }

                if (endpoint.Address.Family == 0)
                {
                    problems.Add($"endpoints[{i}].address: no address family");
                }

                if (endpoint.Weight == 0)
                {
                    problems.Add($"endpoints[{i}].weight: must be at least 1");
                }

                if (!Enum.IsDefined(endpoint.Health))
                {
                    problems.Add($"endpoints[{i}].health: unknown value {(int)endpoint.Health}");
                }
            }
        }

        if (!Enum.IsDefined(spec.LbPolicy))
        {
            problems.Add($"lbPolicy: unknown value {(int)spec.LbPolicy}");
        }

        if (spec.ChoiceCount < 1)
        {
            problems.Add("choiceCount: must be at least 1");
        }

        if (spec.LbPolicy == UpstreamLbPolicy.RingHash)
        {
            if (spec.MinimumRingSize < 1)
            {
                problems.Add("minimumRingSize: must be at least 1");
            }

            if (spec.MaximumRingSize > 8 * 1024 * 1024)
            {
                problems.Add("maximumRingSize: at most 8M (8388608), as in Envoy");
            }

            if (spec.MinimumRingSize > spec.MaximumRingSize)
            {
                problems.Add($"minimumRingSize: {spec.MinimumRingSize} is above maximumRingSize {spec.MaximumRingSize}");
            }
        }

        if (spec.LbPolicy == UpstreamLbPolicy.Maglev && (spec.MaglevTableSize > 5_000_011 || !IsPrime(spec.MaglevTableSize)))
        {
            problems.Add($"maglevTableSize: {spec.MaglevTableSize} is not a prime up to 5000011");
        }

        if (spec.HealthyPanicThreshold is < 0 or > 100)
        {
            problems.Add("healthyPanicThreshold: must be 0 to 100");
        }

        if (spec.OutlierDetection is { } outlier)
        {
            if (outlier.BaseEjectionTime < TimeSpan.Zero)
            {
                problems.Add("outlierDetection.baseEjectionTime: negative");
            }

            if (outlier.MaxEjectionTime < TimeSpan.Zero)
            {
                problems.Add("outlierDetection.maxEjectionTime: negative");
            }

            if (outlier.MaxEjectionPercent is < 0 or > 100)
            {
                problems.Add("outlierDetection.maxEjectionPercent: must be 0 to 100");
            }
        }

        return problems;
    }

    /// <summary>
    /// Builds the cluster. Endpoints whose address and port were in <paramref name="previous"/> keep their state
    /// (active connections, failures, ejection), the cluster keeps its connection count, and each priority and health
    /// class keeps its round-robin turn. <paramref name="time"/> is the clock of the timestamps given to
    /// <see cref="Pick"/> and <see cref="ReportConnect"/>.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="spec"/> is not valid (<see cref="Validate"/> lists why).</exception>
    public static UpstreamCluster Create(UpstreamClusterSpec spec, UpstreamCluster? previous, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        var problems = Validate(spec);
        if (problems.Count > 0)
        {
            throw new ArgumentException($"Invalid upstream cluster '{spec.Name}': {string.Join("; ", problems)}", nameof(spec));
        }

        var state = previous?._state ?? new ClusterState();
        var known = new Dictionary<InetEndpoint, EndpointState>();
        if (previous is not null)
        {
            foreach (var endpoint in previous._endpoints)
            {
                known.TryAdd(endpoint.Address, endpoint.State);
            }
        }

        var endpoints = new UpstreamEndpoint[spec.Endpoints.Count];
        var states = new Dictionary<InetEndpoint, EndpointState>();
        for (var i = 0; i < endpoints.Length; i++)
        {
            var endpointSpec = spec.Endpoints[i];
            if (!states.TryGetValue(endpointSpec.Address, out var endpointState))
            {
                endpointState = known.GetValueOrDefault(endpointSpec.Address) ?? new EndpointState(state);
                states.Add(endpointSpec.Address, endpointState);
            }

            endpoints[i] = new UpstreamEndpoint(endpointSpec, endpointState);
        }

        var groups = BuildGroups(spec, endpoints, previous);
        return new UpstreamCluster(spec, groups, endpoints, [.. states.Values], state, time);
    }

    /// <summary>
    /// Picks an endpoint for one new connection: a priority level by its load, then an endpoint of that level by the
    /// policy. <paramref name="sourceHash"/> (see <see cref="HashSourceAddress"/>) chooses both for RING_HASH and
    /// MAGLEV and is ignored by the others. <paramref name="avoid"/> is an endpoint that just failed for this
    /// connection: it is picked again only when nothing else is usable. Null when nothing is usable. Allocation-free
    /// (but see the class remarks), lock-free and thread-safe.
    /// </summary>
    public UpstreamEndpoint? Pick(ulong sourceHash, long nowTimestamp, UpstreamEndpoint? avoid = null)
    {
        var groups = _groups;
        if (groups.Length == 0)
        {
            return null;
        }

        var loads = CurrentLoads(nowTimestamp);
        var policy = Spec.LbPolicy;
        var hashed = policy is UpstreamLbPolicy.RingHash or UpstreamLbPolicy.Maglev;
        var (level, mode) = loads.Choose(hashed ? sourceHash : FastRandom.Next());
        var avoidState = avoid?.State;
        var picked = PickIn(groups[level], new Selection(mode, nowTimestamp, avoidState), sourceHash);
        if (picked is not null)
        {
            return picked;
        }

        // The chosen level has nothing left for this pick (its last endpoints were ejected since the loads were
        // computed, or the only one is to be avoided): take the best that is usable anywhere, healthy first.
        for (var fallback = PickMode.Healthy; fallback <= PickMode.Degraded; fallback++)
        {
            foreach (var group in groups)
            {
                picked = PickIn(group, new Selection(fallback, nowTimestamp, avoidState), sourceHash);
                if (picked is not null)
                {
                    return picked;
                }
            }
        }

        // Nothing else is usable: the avoided endpoint is better than none, if the first choice would take it.
        if (avoidState is not null)
        {
            picked = PickIn(groups[level], new Selection(mode, nowTimestamp, null), sourceHash);
            if (picked is not null)
            {
                return picked;
            }
        }

        // Nothing is usable at all at this moment, although the loads said otherwise: they were computed at a later
        // timestamp than this caller's, after an ejection had ended. Loads computed now would be in total panic, so
        // pick as a panic would, unless panic is off.
        if (Spec.HealthyPanicThreshold == 0)
        {
            return null;
        }

        return PickIn(groups[level], new Selection(PickMode.Panic, nowTimestamp, avoidState), sourceHash)
            ?? PickIn(groups[level], new Selection(PickMode.Panic, nowTimestamp, null), sourceHash);
    }

    /// <summary>
    /// The circuit breaker: reserves a connection on the cluster and on <paramref name="endpoint"/>. False, with
    /// nothing reserved, when the cluster already has <see cref="UpstreamClusterSpec.MaxConnections"/>.
    /// </summary>
    public bool TryAcquire(UpstreamEndpoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var cluster = endpoint.State.Cluster;
        var max = Spec.MaxConnections;
        if (max == uint.MaxValue)
        {
            Interlocked.Increment(ref cluster.ActiveConnections);
        }
        else
        {
            var current = Volatile.Read(ref cluster.ActiveConnections);
            while (true)
            {
                if ((uint)current >= max)
                {
                    return false;
                }

                var seen = Interlocked.CompareExchange(ref cluster.ActiveConnections, current + 1, current);
                if (seen == current)
                {
                    break;
                }

                current = seen;
            }
        }

        Interlocked.Increment(ref endpoint.State.ActiveConnections);
        return true;
    }

    /// <summary>A connection acquired with <see cref="TryAcquire"/> ended (closed, or its connect failed).</summary>
    public void Release(UpstreamEndpoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        Interlocked.Decrement(ref endpoint.State.ActiveConnections);
        Interlocked.Decrement(ref endpoint.State.Cluster.ActiveConnections);
    }

    /// <summary>
    /// The outcome of one connect to <paramref name="endpoint"/>, for outlier detection. A success resets the
    /// endpoint's consecutive failures. A failure that makes them reach
    /// <see cref="OutlierDetectionSpec.ConsecutiveFailures"/> ejects it for <c>BaseEjectionTime</c> × (its ejections
    /// so far + 1), at most <c>MaxEjectionTime</c>, unless the share of endpoints already ejected is not below
    /// <c>MaxEjectionPercent</c> (Envoy's test, which lets the first ejection through whenever the percent is above
    /// 0). Lock-free but for the ejection decision itself.
    /// </summary>
    public void ReportConnect(UpstreamEndpoint endpoint, bool success, long nowTimestamp)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var state = endpoint.State;
        if (success)
        {
            // Skips the write in the common case, so that successful connects do not bounce the cache line.
            if (Volatile.Read(ref state.ConsecutiveFailures) != 0)
            {
                Volatile.Write(ref state.ConsecutiveFailures, 0);
            }

            return;
        }

        var failures = Interlocked.Increment(ref state.ConsecutiveFailures);
        if (Spec.OutlierDetection is { ConsecutiveFailures: > 0 } outlier && failures >= outlier.ConsecutiveFailures)
        {
            TryEject(state, outlier, nowTimestamp);
        }
    }

    /// <summary>
    /// The hash of a client's source address for RING_HASH and MAGLEV: xxHash64 of the address as text, without the
    /// port ("10.1.2.3", "fd00::1"), as Envoy's <c>source_ip</c> hash policy computes it, so it is the same in every
    /// process. Allocation-free.
    /// </summary>
    public static ulong HashSourceAddress(in InetEndpoint source)
    {
        Span<byte> text = stackalloc byte[AddressText.MaxLength];
        var length = AddressText.Format(source, text);
        return XxHash64.Hash(text[..length]);
    }

    /// <summary>The priority loads as the next pick at <paramref name="nowTimestamp"/> would see them (for tests and
    /// diagnostics).</summary>
    internal PriorityLoads LoadsAt(long nowTimestamp) => CurrentLoads(nowTimestamp);

    /// <summary>The group of each priority, lowest first (for tests).</summary>
    internal PriorityGroup[] Groups => _groups;

    private PriorityLoads CurrentLoads(long now)
    {
        var loads = Volatile.Read(ref _loads);
        if (now < loads.NextExpiry && loads.Epoch == Volatile.Read(ref _state.EjectionEpoch))
        {
            return loads;
        }

        return RefreshLoads(loads, now);
    }

    /// <summary>
    /// Recomputes the loads after an ejection began or ended. Several threads may do it at once; each result is right
    /// for its moment, and the compare-exchange keeps one. The epoch is read before the endpoints, so that an
    /// ejection racing with the computation leaves the result stale and the next pick computes again.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private PriorityLoads RefreshLoads(PriorityLoads seen, long now)
    {
        var epoch = Volatile.Read(ref _state.EjectionEpoch);
        var fresh = PriorityLoads.Compute(_groups, Spec.HealthyPanicThreshold, now, epoch);
        Interlocked.CompareExchange(ref _loads, fresh, seen);
        return fresh;
    }

    private UpstreamEndpoint? PickIn(PriorityGroup group, in Selection selection, ulong sourceHash) => Spec.LbPolicy switch
    {
        UpstreamLbPolicy.RingHash => group.Ring!.Pick(sourceHash, selection),
        UpstreamLbPolicy.Maglev => group.Maglev!.Pick(sourceHash, selection),
        UpstreamLbPolicy.LeastRequest => group.ListFor(selection.Mode).PickLeastRequest(selection, Spec.ChoiceCount),
        UpstreamLbPolicy.Random => group.ListFor(selection.Mode).PickRandom(selection),
        _ => group.ListFor(selection.Mode).PickRoundRobin(selection),
    };

    private void TryEject(EndpointState state, OutlierDetectionSpec outlier, long now)
    {
        lock (_state.EjectionLock)
        {
            // Another failure of the same streak may have ejected it already, or a success reset the streak.
            if (state.IsEjected(now) || Volatile.Read(ref state.ConsecutiveFailures) < outlier.ConsecutiveFailures)
            {
                return;
            }

            var ejected = 0;
            foreach (var other in _states)
            {
                ejected += other.IsEjected(now) ? 1 : 0;
            }

            // Envoy's ejectHost: eject while the ejected share is below the maximum; at 0% nothing is ejected.
            if ((long)ejected * 100 >= (long)outlier.MaxEjectionPercent * _states.Length)
            {
                return;
            }

            var ejections = state.EjectionCount + 1;
            var duration = (long)Int128.Min((Int128)_baseEjection * ejections, _maxEjection);
            Volatile.Write(ref state.EjectedUntil, now > long.MaxValue - duration ? long.MaxValue : now + duration);
            Volatile.Write(ref state.EjectionCount, ejections);
            Volatile.Write(ref state.ConsecutiveFailures, 0);
            Interlocked.Increment(ref _state.EjectionEpoch);
        }

        // Recompute here rather than on the next pick, so that picks do not pay for it.
        CurrentLoads(now);
    }

    private static PriorityGroup[] BuildGroups(UpstreamClusterSpec spec, UpstreamEndpoint[] endpoints, UpstreamCluster? previous)
    {
        var byPriority = new SortedDictionary<uint, List<UpstreamEndpoint>>();
        foreach (var endpoint in endpoints)
        {
            if (!byPriority.TryGetValue(endpoint.Priority, out var list))
            {
                list = [];
                byPriority.Add(endpoint.Priority, list);
            }

            list.Add(endpoint);
        }

        var groups = new PriorityGroup[byPriority.Count];
        var index = 0;
        foreach (var (priority, list) in byPriority)
        {
            var all = list.ToArray();
            var before = previous is null ? null : Array.Find(previous._groups, g => g.Priority == priority);
            groups[index++] = new PriorityGroup(
                priority,
                all,
                new EndpointList(Array.FindAll(all, e => e.Health == UpstreamHealth.Healthy), CarriedTurn(before?.Healthy)),
                new EndpointList(Array.FindAll(all, e => e.Health == UpstreamHealth.Degraded), CarriedTurn(before?.Degraded)),
                new EndpointList(all, CarriedTurn(before?.Any)),
                spec.LbPolicy == UpstreamLbPolicy.RingHash ? HashRing.Build(all, spec.MinimumRingSize, spec.MaximumRingSize) : null,
                spec.LbPolicy == UpstreamLbPolicy.Maglev ? MaglevTable.Build(all, spec.MaglevTableSize) : null);
        }

        return groups;
    }

    /// <summary>A new counter that starts where the previous build's left off, so that after an EDS update the next
    /// connects do not all go to the first endpoint again. The old build keeps its own counter: it may still be
    /// picking, and sharing one would only matter for those few picks.</summary>
    private static TurnCounter CarriedTurn(EndpointList? before) =>
        new() { Value = before is null ? 0 : Volatile.Read(ref before.Turn.Value) };

    private static long ToTimestampTicks(TimeSpan duration, TimeProvider time) =>
        (long)Int128.Min((Int128)duration.Ticks * time.TimestampFrequency / TimeSpan.TicksPerSecond, long.MaxValue);

    private static bool IsPrime(ulong value)
    {
        if (value < 2)
        {
            return false;
        }

        for (ulong divisor = 2; divisor * divisor <= value; divisor++)
        {
            if (value % divisor == 0)
            {
                return false;
            }
        }

        return true;
    }
}
