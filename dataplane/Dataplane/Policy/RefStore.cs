using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Istio.AppSwitch.Dataplane.Configuration;
using Istio.AppSwitch.Dataplane.Registry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Istio.AppSwitch.Dataplane.Policy;

/// <summary>
/// The service references the daemon knows, by name. Thread-safe. Every change publishes a new routing snapshot
/// to the <see cref="RoutingTable"/> before the call returns, so a connect that starts after <see cref="Create"/>
/// (or <see cref="Apply"/>) returned sees the new ref.
/// </summary>
public sealed partial class RefStore
{
    /// <summary>The longest ref or DNS name (a DNS name's limit).</summary>
    public const int MaxNameLength = 253;

    /// <summary>How long a connect waits for a backend when the ref does not say.</summary>
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(30);

    /// <summary>The longest wait a ref may ask for: a connect held longer is a mistake, not a dependency.</summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromHours(1);

    private readonly Lock _gate = new();
    private readonly RoutingTable _routing;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    // Replaced, never mutated, under _gate; readers take the reference without a lock.
    private ImmutableSortedDictionary<string, ServiceRef> _refs = ImmutableSortedDictionary.Create<string, ServiceRef>(StringComparer.Ordinal);

    // The name of the ref that holds each DNS name. Read and replaced under _gate only.
    private ImmutableDictionary<string, string> _dnsOwners = ImmutableDictionary.Create<string, string>(StringComparer.Ordinal);

    /// <summary>Creates an empty store that publishes to <paramref name="routing"/>.</summary>
    public RefStore(RoutingTable routing, TimeProvider? timeProvider = null, ILogger<RefStore>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(routing);
        _routing = routing;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>Raised after every change (outside the store's lock), for whoever keeps the refs beyond the daemon's life.</summary>
    public event Action? Changed;

    /// <summary>Every ref, ordered by name.</summary>
    public IReadOnlyList<ServiceRef> All => Volatile.Read(ref _refs).Values.ToArray();

    /// <summary>The ref named <paramref name="name"/>, or null.</summary>
    public ServiceRef? Find(string name) => Volatile.Read(ref _refs).GetValueOrDefault(name);

    /// <summary>
    /// Validates <paramref name="spec"/> and adds the ref. Throws <see cref="ValidationException"/> with every bad
    /// field, or <see cref="ConflictException"/> when the name (or the DNS name) is taken. Nothing changes on failure.
    /// </summary>
    public ServiceRef Create(RefSpec spec)
    {
        var created = Validate(spec, _time.GetUtcNow());
        lock (_gate)
        {
            if (_refs.ContainsKey(created.Name))
            {
                throw new ConflictException("name", $"ref \"{created.Name}\" already exists");
            }
            if (created.Dns is not null && _dnsOwners.TryGetValue(created.Dns, out var owner))
            {
                throw new ConflictException("dns", $"dns name \"{created.Dns}\" is already used by ref \"{owner}\"");
            }
            // Publish while holding _gate so that two writers cannot publish their snapshots out of order.
            _routing.PublishRefs([], [created]);
            if (created.Dns is not null)
            {
                _dnsOwners = _dnsOwners.Add(created.Dns, created.Name);
            }
            Volatile.Write(ref _refs, _refs.Add(created.Name, created));
        }
        Log.RefCreated(_logger, created.Name, created.Vip.ToString(), created.Selector.Text);
        Changed?.Invoke();
        return created;
    }

    /// <summary>Removes the ref; false when there was none by that name.</summary>
    public bool Delete(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        lock (_gate)
        {
            if (!_refs.TryGetValue(name, out var existing))
            {
                return false;
            }
            _routing.PublishRefs([name], []);
            if (existing.Dns is not null)
            {
                _dnsOwners = _dnsOwners.Remove(existing.Dns);
            }
            Volatile.Write(ref _refs, _refs.Remove(name));
        }
        Log.RefDeleted(_logger, name);
        Changed?.Invoke();
        return true;
    }

    /// <summary>
    /// Applies a batch of changes as one: every ref of <paramref name="upserts"/> is created, or replaces the ref of
    /// its name (which keeps its <see cref="ServiceRef.CreatedAt"/>), and every ref named in
    /// <paramref name="deletes"/> is removed (a name that is not there is skipped). All or nothing: nothing changes
    /// unless the whole batch is valid, and connects see either none of the batch or all of it, through one new
    /// routing snapshot. Made for the xDS translation, where one push changes many refs.
    /// </summary>
    /// <returns>The refs of <paramref name="upserts"/> as stored, in the same order.</returns>
    /// <exception cref="ValidationException">
    /// Lists every problem of the batch: each bad field of each spec (<c>upserts[3].vip</c>), a name given twice
    /// in <paramref name="upserts"/>, or in both lists, and an empty name in <paramref name="deletes"/>.
    /// </exception>
    /// <exception cref="ConflictException">The batch would leave one DNS name on two refs.</exception>
    public IReadOnlyList<ServiceRef> Apply(IReadOnlyList<RefSpec> upserts, IReadOnlyList<string> deletes)
    {
        ArgumentNullException.ThrowIfNull(upserts);
        ArgumentNullException.ThrowIfNull(deletes);
        var now = _time.GetUtcNow();
        var errors = new List<FieldError>();
        var validated = new ServiceRef[upserts.Count];
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < upserts.Count; i++)
        {
            var field = $"upserts[{i}]";
            try
            {
                validated[i] = Validate(upserts[i] ?? throw new ValidationException(field, $"{field}: a ref is required"), now);
            }
            catch (ValidationException e)
            {
                errors.AddRange(e.Errors.Select(error => error.Field.StartsWith(field, StringComparison.Ordinal)
                    ? error
                    : new FieldError($"{field}.{error.Field}", $"{field}: {error.Message}")));
                continue;
            }
            if (!names.Add(validated[i].Name))
            {
                errors.Add(new FieldError($"{field}.name", $"{field}: ref \"{validated[i].Name}\" appears more than once in the batch"));
            }
        }
        var removals = new string[deletes.Count];
        for (var i = 0; i < deletes.Count; i++)
        {
            var name = deletes[i]?.Trim() ?? "";
            removals[i] = name;
            if (name.Length == 0)
            {
                errors.Add(new FieldError($"deletes[{i}]", $"deletes[{i}]: a ref name is required"));
            }
            else if (names.Contains(name))
            {
                errors.Add(new FieldError($"deletes[{i}]", $"deletes[{i}]: ref \"{name}\" is both upserted and deleted in the batch"));
            }
        }
        ValidationException.ThrowIfAny(errors);

        int removedCount;
        lock (_gate)
        {
            var refs = _refs.ToBuilder();
            var dnsOwners = _dnsOwners.ToBuilder();
            var removed = new List<string>(removals.Length);
            foreach (var name in removals)
            {
                if (refs.TryGetValue(name, out var existing))
                {
                    refs.Remove(name);
                    removed.Add(name);
                    if (existing.Dns is not null)
                    {
                        dnsOwners.Remove(existing.Dns);
                    }
                }
            }
            // Release the DNS names of every replaced ref before claiming new ones, so that two refs may swap names.
            foreach (var reference in validated)
            {
                if (refs.TryGetValue(reference.Name, out var existing) && existing.Dns is not null)
                {
                    dnsOwners.Remove(existing.Dns);
                }
            }
            for (var i = 0; i < validated.Length; i++)
            {
                var reference = validated[i];
                if (refs.TryGetValue(reference.Name, out var existing))
                {
                    // A replaced ref keeps its creation time. Validating the spec again is the one way to build the
                    // ref with it, and cannot fail now.
                    reference = validated[i] = Validate(upserts[i], existing.CreatedAt);
                }
                if (reference.Dns is not null && !dnsOwners.TryAdd(reference.Dns, reference.Name))
                {
                    throw new ConflictException("dns", $"dns name \"{reference.Dns}\" is already used by ref \"{dnsOwners[reference.Dns]}\"");
                }
                refs[reference.Name] = reference;
            }
            if (validated.Length == 0 && removed.Count == 0)
            {
                return validated; // nothing changed, so no new snapshot
            }
            _routing.PublishRefs(CollectionsMarshal.AsSpan(removed), validated);
            _dnsOwners = dnsOwners.ToImmutable();
            Volatile.Write(ref _refs, refs.ToImmutable());
            removedCount = removed.Count;
        }
        Log.RefsApplied(_logger, validated.Length, removedCount);
        Changed?.Invoke();
        return validated;
    }

    /// <summary>
    /// Checks every field of <paramref name="spec"/> (without short-circuiting) and builds the ref; throws a
    /// <see cref="ValidationException"/> listing every problem.
    /// </summary>
    public static ServiceRef Validate(RefSpec spec, DateTimeOffset createdAt)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var errors = new List<FieldError>();

        var name = spec.Name?.Trim() ?? "";
        if (name.Length == 0)
        {
            errors.Add(new FieldError("name", "name is required"));
        }
        else if (!Labels.IsDnsSubdomain(name, MaxNameLength, lowercaseOnly: true))
        {
            errors.Add(new FieldError("name", $"invalid name \"{spec.Name}\": must be lowercase letters, digits, '-' and '.', beginning and ending with a letter or digit, at most {MaxNameLength} characters"));
        }

        if (!VipSpec.TryParse(spec.Vip, out var vip, out var vipProblem))
        {
            errors.Add(new FieldError("vip", vipProblem));
        }

        LabelSelector? selector = null;
        if (string.IsNullOrWhiteSpace(spec.Selector))
        {
            errors.Add(new FieldError("selector", "selector is required (k=v[,k=v]): a ref with no selector would pick every service"));
        }
        else if (!LabelSelector.TryParse(spec.Selector, out selector, out var selectorProblem))
        {
            errors.Add(new FieldError("selector", $"invalid selector \"{spec.Selector}\": {selectorProblem}"));
        }

        if (!LabelSelector.TryParse(spec.Clients, out var clients, out var clientsProblem))
        {
            errors.Add(new FieldError("clients", $"invalid clients \"{spec.Clients}\": {clientsProblem}"));
        }

        string? dns = null;
        if (spec.Dns is not null)
        {
            var trimmed = spec.Dns.Trim().TrimEnd('.');
            if (!Labels.IsDnsSubdomain(trimmed, MaxNameLength, lowercaseOnly: false))
            {
                errors.Add(new FieldError("dns", $"invalid dns \"{spec.Dns}\": must be a DNS name of letters, digits and '-' in dot-separated labels, at most {MaxNameLength} characters"));
            }
            else
            {
                dns = trimmed.ToLowerInvariant();
            }
        }

        var wait = DefaultWait;
        if (spec.Wait is not null && !DurationText.TryParse(spec.Wait, MaxWait, out wait, out var waitProblem))
        {
            errors.Add(new FieldError("wait", $"invalid wait: {waitProblem}"));
        }

        var nonblocking = NonblockingConnectMode.Hold;
        switch (spec.Nonblocking?.Trim().ToLowerInvariant())
        {
            case null or "hold":
                break;
            case "eagain":
                nonblocking = NonblockingConnectMode.EAgain;
                break;
            default:
                errors.Add(new FieldError("nonblocking", $"invalid nonblocking \"{spec.Nonblocking}\": must be hold or eagain"));
                break;
        }

        if (!CidrSet.TryParse(spec.Exclude, out var exclude, out var excludeProblem))
        {
            errors.Add(new FieldError("exclude", excludeProblem));
        }

        var proxyProtocol = vip is { IsCatchAll: true } ? ProxyProtocolMode.V2 : ProxyProtocolMode.None;
        switch (spec.ProxyProtocol?.Trim().ToLowerInvariant())
        {
            case null:
                break;
            case "none":
                proxyProtocol = ProxyProtocolMode.None;
                break;
            case "v2":
                proxyProtocol = ProxyProtocolMode.V2;
                break;
            default:
                errors.Add(new FieldError("proxyProtocol", $"invalid proxyProtocol \"{spec.ProxyProtocol}\": must be none or v2"));
                break;
        }

        ValidationException.ThrowIfAny(errors);
        return new ServiceRef(name, vip!, selector!, clients!, dns, createdAt, wait, nonblocking, exclude!, proxyProtocol, spec.NoUnix) { Spec = spec };
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2001, EventName = "RefCreated", Level = LogLevel.Information, Message = "Created ref {Name}: {Vip} -> {Selector}")]
        public static partial void RefCreated(ILogger logger, string name, string vip, string selector);

        [LoggerMessage(EventId = 2002, EventName = "RefDeleted", Level = LogLevel.Information, Message = "Deleted ref {Name}")]
        public static partial void RefDeleted(ILogger logger, string name);

        [LoggerMessage(EventId = 2003, EventName = "RefsApplied", Level = LogLevel.Information, Message = "Applied a batch of refs: {Upserted} created or replaced, {Deleted} deleted")]
        public static partial void RefsApplied(ILogger logger, int upserted, int deleted);
    }
}
