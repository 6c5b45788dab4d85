using System.Collections.Immutable;
using Istio.AppSwitch.Dataplane.Configuration;
using Istio.AppSwitch.Dataplane.Registry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Istio.AppSwitch.Dataplane.Policy;

/// <summary>
/// The service references the daemon knows, by name. Thread-safe. Every change publishes a new routing snapshot
/// to the <see cref="RoutingTable"/> before the call returns, so a connect that starts after <see cref="Create"/>
/// returned sees the new ref.
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

    /// <summary>Creates an empty store that publishes to <paramref name="routing"/>.</summary>
    public RefStore(RoutingTable routing, TimeProvider? timeProvider = null, ILogger<RefStore>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(routing);
        _routing = routing;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

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
            if (created.Dns is not null)
            {
                foreach (var other in _refs.Values)
                {
                    if (string.Equals(other.Dns, created.Dns, StringComparison.Ordinal))
                    {
                        throw new ConflictException("dns", $"dns name \"{created.Dns}\" is already used by ref \"{other.Name}\"");
                    }
                }
            }
            var next = _refs.Add(created.Name, created);
            // Publish while holding _gate so that two writers cannot publish their snapshots out of order.
            _routing.PublishRefs(next.Values.ToImmutableArray());
            Volatile.Write(ref _refs, next);
        }
        Log.RefCreated(_logger, created.Name, created.Vip.ToString(), created.Selector.Text);
        return created;
    }

    /// <summary>Removes the ref; false when there was none by that name.</summary>
    public bool Delete(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        lock (_gate)
        {
            if (!_refs.ContainsKey(name))
            {
                return false;
            }
            var next = _refs.Remove(name);
            _routing.PublishRefs(next.Values.ToImmutableArray());
            Volatile.Write(ref _refs, next);
        }
        Log.RefDeleted(_logger, name);
        return true;
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
        return new ServiceRef(name, vip!, selector!, clients!, dns, createdAt, wait, nonblocking, exclude!, proxyProtocol);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2001, EventName = "RefCreated", Level = LogLevel.Information, Message = "Created ref {Name}: {Vip} -> {Selector}")]
        public static partial void RefCreated(ILogger logger, string name, string vip, string selector);

        [LoggerMessage(EventId = 2002, EventName = "RefDeleted", Level = LogLevel.Information, Message = "Deleted ref {Name}")]
        public static partial void RefDeleted(ILogger logger, string name);
    }
}
