using System.Collections.Immutable;
using System.Net;
using System.Text.RegularExpressions;

namespace Istio.AppSwitch.Rbac;

/// <summary>What one RBAC filter does when a policy matches (<c>envoy.config.rbac.v3.RBAC.Action</c>).</summary>
public enum RbacAction
{
    /// <summary>ALLOW (the proto default): the connection passes only when a policy matches.</summary>
    Allow,

    /// <summary>DENY: the connection is refused when a policy matches.</summary>
    Deny,

    /// <summary>LOG (Istio AUDIT): never refuses; a match is only recorded.</summary>
    Log,
}

/// <summary>The RBAC of one inbound port: the enforced engines in filter order (Istio: DENY before ALLOW, then AUDIT).</summary>
/// <param name="Engines">The enforced rule sets; shadow (dry-run) rules are not here.</param>
/// <param name="ShadowPolicyCount">How many dry-run or CUSTOM marker policies were seen and not enforced.</param>
public sealed record RbacModel(ImmutableArray<RbacEngine> Engines, int ShadowPolicyCount)
{
    // Computed with the engines (also through `with`), so the accept path reads a field, never walks the tree.
    private readonly ImmutableArray<RbacEngine> _engines = Engines;
    private readonly bool _usesL7 = Engines.Any(e => e.UsesL7);

    /// <summary>No RBAC: everything is allowed.</summary>
    public static RbacModel None { get; } = new([], 0);

    /// <summary>The enforced rule sets; shadow (dry-run) rules are not here.</summary>
    public ImmutableArray<RbacEngine> Engines
    {
        get => _engines;
        init
        {
            _engines = value;
            _usesL7 = value.Any(e => e.UsesL7);
        }
    }

    /// <summary>
    /// Whether some rule reads what only the connection's first bytes show (path, method, headers, SNI): the daemon
    /// peeks at the first bytes only on such ports. Computed once, when the engines are set.
    /// </summary>
    public bool UsesL7 => _usesL7;

    /// <summary>Whether some rule reads the peer's mTLS principal.</summary>
    public bool UsesPrincipal => Engines.Any(e => e.Policies.Any(p => p.UsesPrincipal));

    /// <summary>Whether some matcher could not be modelled (decisions that reach it are <see cref="RbacDecision.Chain"/>).</summary>
    public bool HasUnsupported => Engines.Any(e => e.Policies.Any(p => p.HasUnsupported));

    /// <summary>Structural equality (records compare <see cref="ImmutableArray{T}"/> by reference).</summary>
    public bool SameAs(RbacModel other) =>
        other is not null && Engines.Length == other.Engines.Length && Engines.Zip(other.Engines).All(p => p.First.SameAs(p.Second));
}

/// <summary>One RBAC filter's enforced rules.</summary>
/// <param name="Action">What a match does.</param>
/// <param name="Policies">The policies, sorted by name (Envoy evaluates a map; order does not change the outcome).</param>
public sealed record RbacEngine(RbacAction Action, ImmutableArray<RbacPolicy> Policies)
{
    private readonly ImmutableArray<RbacPolicy> _policies = Policies;
    private readonly bool _usesL7 = Policies.Any(p => p.UsesL7);

    /// <summary>The policies, sorted by name.</summary>
    public ImmutableArray<RbacPolicy> Policies
    {
        get => _policies;
        init
        {
            _policies = value;
            _usesL7 = value.Any(p => p.UsesL7);
        }
    }

    /// <summary>Whether a policy of this engine reads the first bytes (see <see cref="RbacModel.UsesL7"/>). Computed once.</summary>
    public bool UsesL7 => _usesL7;

    /// <summary>Structural equality.</summary>
    public bool SameAs(RbacEngine other) =>
        Action == other.Action && Policies.Length == other.Policies.Length &&
        Policies.Zip(other.Policies).All(p => p.First.Name == p.Second.Name && p.First.Text == p.Second.Text);
}

/// <summary>A named policy: it matches when any permission and any principal match.</summary>
/// <param name="Name">The policy name (<c>ns[foo]-policy[httpbin]-rule[0]</c>).</param>
/// <param name="Permissions">What is accessed; OR-ed.</param>
/// <param name="Principals">Who accesses; OR-ed.</param>
public sealed record RbacPolicy(string Name, ImmutableArray<RbacMatcher> Permissions, ImmutableArray<RbacMatcher> Principals)
{
    /// <summary>Whether a principal matcher reads the mTLS peer principal.</summary>
    public bool UsesPrincipal => Principals.Any(p => p.UsesPrincipal);

    /// <summary>Whether a matcher is unsupported.</summary>
    public bool HasUnsupported => Permissions.Concat(Principals).Any(p => p.HasUnsupported);

    /// <summary>Whether a matcher reads the connection's first bytes (path, method, headers, SNI).</summary>
    public bool UsesL7 => Permissions.Concat(Principals).Any(p => p.UsesL7);

    /// <summary>Whether a matcher reads the HTTP request (path, method, headers): bytes ax cannot read once TLS is on.</summary>
    public bool UsesHttpRequest => Permissions.Concat(Principals).Any(p => p.UsesHttpRequest);

    /// <summary>A canonical text of the policy, for comparison and display.</summary>
    public string Text => $"permissions: {RbacMatcher.Join(" | ", Permissions)}; principals: {RbacMatcher.Join(" | ", Principals)}";
}

/// <summary>What one accepted connection looks like to RBAC at accept time.</summary>
/// <param name="Source">The peer's address (Envoy's <c>direct_remote_ip</c>; ax sees no proxy, so also <c>remote_ip</c>).</param>
/// <param name="SourcePort">The peer's port.</param>
/// <param name="Destination">The local address the connection was accepted on, when known (for <c>destination_ip</c>).</param>
/// <param name="DestinationPort">The local port.</param>
/// <param name="Principal">The peer's mTLS principal (<c>spiffe://cluster.local/ns/default/sa/sleep</c>), or null for a plain-text peer.</param>
/// <param name="L7">What ax learned from the connection's first bytes; null when it did not peek (L7 matchers are then unknown).</param>
public sealed record RbacRequest(IPAddress Source, int SourcePort, IPAddress? Destination, uint DestinationPort, string? Principal, RbacL7? L7 = null);

/// <summary>What ax learned from the connection's first bytes; null when it did not peek.</summary>
/// <param name="Sni">The TLS ClientHello's server name, or null when there was none (or the bytes were not TLS).</param>
/// <param name="Method">The first request's method (<c>GET</c>), as sent.</param>
/// <param name="Path">The first request's target as sent, query included (<c>/a/b?x=1</c>); never normalised.</param>
/// <param name="Host">The first request's <c>Host</c> header (Envoy's <c>:authority</c>), or null when it had none.</param>
/// <param name="Headers">The first request's header fields in order, names as sent, values without surrounding whitespace.</param>
/// <param name="IsHttp">Whether the bytes were an HTTP/1.x request line.</param>
/// <param name="HeadersComplete">Whether the peeked bytes held the whole header block (up to the empty line).</param>
public sealed record RbacL7(string? Sni, string? Method, string? Path, string? Host,
    IReadOnlyList<KeyValuePair<string, string>> Headers, bool IsHttp, bool HeadersComplete);

/// <summary>The outcome of evaluating a port's RBAC.</summary>
public enum RbacDecision
{
    /// <summary>Accept the connection.</summary>
    Allow,

    /// <summary>Refuse it.</summary>
    Deny,

    /// <summary>The decision depends on something ax cannot see at accept time: hand the connection to Envoy.</summary>
    Chain,
}

/// <summary>The result of <see cref="RbacEvaluator.Evaluate(RbacModel, RbacRequest)"/>.</summary>
/// <param name="Decision">Allow, deny or chain.</param>
/// <param name="Policy">The policy that decided (the DENY policy that matched, the ALLOW policy that let it in), or null.</param>
/// <param name="Logged">Names of LOG (AUDIT) policies that matched.</param>
public sealed record RbacResult(RbacDecision Decision, string? Policy, ImmutableArray<string> Logged);

/// <summary>
/// One node of a permission or principal, reduced to what ax can check at accept time. <see cref="Unsupported"/>
/// keeps anything else, so that a decision that depends on it is <see cref="RbacDecision.Chain"/>, never a silent allow.
/// </summary>
public abstract record RbacMatcher
{
    private protected RbacMatcher()
    {
    }

    /// <summary>Whether this tree reads the mTLS principal.</summary>
    public abstract bool UsesPrincipal { get; }

    /// <summary>Whether this tree contains an <see cref="Unsupported"/> node.</summary>
    public abstract bool HasUnsupported { get; }

    /// <summary>Whether this tree reads the connection's first bytes (<see cref="UrlPath"/>, <see cref="Header"/>, <see cref="RequestedServerName"/>).</summary>
    public virtual bool UsesL7 => UsesHttpRequest;

    /// <summary>Whether this tree reads the HTTP request (<see cref="UrlPath"/>, <see cref="Header"/>).</summary>
    public virtual bool UsesHttpRequest => false;

    internal static string Join(string separator, IEnumerable<RbacMatcher> items) => string.Join(separator, items.Select(i => i.ToString()));

    /// <summary>Matches everything (<c>any: true</c>).</summary>
    public sealed record Any : RbacMatcher
    {
        /// <summary>The one instance.</summary>
        public static Any Instance { get; } = new();

        /// <inheritdoc />
        public override bool UsesPrincipal => false;

        /// <inheritdoc />
        public override bool HasUnsupported => false;

        /// <inheritdoc />
        public override string ToString() => "any";
    }

    /// <summary>All must match (<c>and_rules</c>/<c>and_ids</c>).</summary>
    public sealed record And(ImmutableArray<RbacMatcher> Items) : RbacMatcher
    {
        /// <inheritdoc />
        public override bool UsesPrincipal => Items.Any(i => i.UsesPrincipal);

        /// <inheritdoc />
        public override bool HasUnsupported => Items.Any(i => i.HasUnsupported);

        /// <inheritdoc />
        public override bool UsesL7 => Items.Any(i => i.UsesL7);

        /// <inheritdoc />
        public override bool UsesHttpRequest => Items.Any(i => i.UsesHttpRequest);

        /// <inheritdoc />
        public override string ToString() => $"and({Join(", ", Items)})";
    }

    /// <summary>One must match (<c>or_rules</c>/<c>or_ids</c>).</summary>
    public sealed record Or(ImmutableArray<RbacMatcher> Items) : RbacMatcher
    {
        /// <inheritdoc />
        public override bool UsesPrincipal => Items.Any(i => i.UsesPrincipal);

        /// <inheritdoc />
        public override bool HasUnsupported => Items.Any(i => i.HasUnsupported);

        /// <inheritdoc />
        public override bool UsesL7 => Items.Any(i => i.UsesL7);

        /// <inheritdoc />
        public override bool UsesHttpRequest => Items.Any(i => i.UsesHttpRequest);

        /// <inheritdoc />
        public override string ToString() => $"or({Join(", ", Items)})";
    }

    /// <summary>Negation (<c>not_rule</c>/<c>not_id</c>).</summary>
    public sealed record Not(RbacMatcher Inner) : RbacMatcher
    {
        /// <inheritdoc />
        public override bool UsesPrincipal => Inner.UsesPrincipal;

        /// <inheritdoc />
        public override bool HasUnsupported => Inner.HasUnsupported;

        /// <inheritdoc />
        public override bool UsesL7 => Inner.UsesL7;

        /// <inheritdoc />
        public override bool UsesHttpRequest => Inner.UsesHttpRequest;

        /// <inheritdoc />
        public override string ToString() => $"not({Inner})";
    }

    /// <summary>The local port is in <c>[Start, End]</c> (<c>destination_port</c> is a range of one).</summary>
    public sealed record DestinationPort(uint Start, uint End) : RbacMatcher
    {
        /// <inheritdoc />
        public override bool UsesPrincipal => false;

        /// <inheritdoc />
        public override bool HasUnsupported => false;

        /// <inheritdoc />
        public override string ToString() => Start == End ? $"port {Start}" : $"ports {Start}-{End}";
    }

    /// <summary>The local address is in the network (<c>destination_ip</c>).</summary>
    public sealed record DestinationIp(IPNetwork Network) : RbacMatcher
    {
        /// <inheritdoc />
        public override bool UsesPrincipal => false;

        /// <inheritdoc />
        public override bool HasUnsupported => false;

        /// <inheritdoc />
        public override string ToString() => $"destination_ip {Network}";
    }

    /// <summary>The peer's address is in the network (<c>direct_remote_ip</c>, <c>remote_ip</c>, <c>source_ip</c>).</summary>
    public sealed record SourceIp(IPNetwork Network) : RbacMatcher
    {
        /// <inheritdoc />
        public override bool UsesPrincipal => false;

        /// <inheritdoc />
        public override bool HasUnsupported => false;

        /// <inheritdoc />
        public override string ToString() => $"source_ip {Network}";
    }

    /// <summary>
    /// The peer presented a certificate whose principal matches (<c>authenticated.principal_name</c>, or the
    /// <c>io.istio.peer_principal</c> filter state); with no matcher, any authenticated peer matches.
    /// </summary>
    public sealed record Principal(StringMatcher? Name) : RbacMatcher
    {
        /// <inheritdoc />
        public override bool UsesPrincipal => true;

        /// <inheritdoc />
        public override bool HasUnsupported => false;

        /// <inheritdoc />
        public override string ToString() => Name is null ? "authenticated" : $"principal {Name}";
    }

    /// <summary>
    /// The first request's path matches (<c>url_path</c>). As Envoy's <c>PathMatcher</c>, the query and fragment are
    /// removed first unless <paramref name="IgnoreQuery"/> is false. ax matches the path as sent: Envoy's connection
    /// manager would first normalise it (<c>/a/../b</c> is <c>/b</c>, <c>%61</c> is <c>a</c>, <c>//</c> is <c>/</c>), so
    /// a path whose normal form could differ from its text is unknown, never a match or a miss
    /// (<see cref="RbacPaths.IsAmbiguous"/>).
    /// </summary>
    public sealed record UrlPath(StringMatcher Path, bool IgnoreQuery = true) : RbacMatcher
    {
        /// <inheritdoc />
        public override bool UsesPrincipal => false;

        /// <inheritdoc />
        public override bool HasUnsupported => false;

        /// <inheritdoc />
        public override bool UsesHttpRequest => true;

        /// <inheritdoc />
        public override string ToString() => IgnoreQuery ? $"path {Path}" : $"path+query {Path}";
    }

    /// <summary>
    /// A header of the first request matches (<c>header</c>, Envoy's <c>HeaderMatcher</c>). The name is compared without
    /// regard to case; <c>:path</c>, <c>:method</c> and <c>:authority</c> (the <c>Host</c> header) come from the request
    /// line and <c>Host</c>.
    /// </summary>
    public sealed record Header(string Name, HeaderMatch Match) : RbacMatcher
    {
        /// <inheritdoc />
        public override bool UsesPrincipal => false;

        /// <inheritdoc />
        public override bool HasUnsupported => false;

        /// <inheritdoc />
        public override bool UsesHttpRequest => true;

        /// <inheritdoc />
        public override string ToString() => $"header {Name} {Match}";
    }

    /// <summary>
    /// The TLS ClientHello's server name matches (<c>requested_server_name</c>); a connection without one has the empty
    /// name, as in Envoy.
    /// </summary>
    public sealed record RequestedServerName(StringMatcher Name) : RbacMatcher
    {
        /// <inheritdoc />
        public override bool UsesPrincipal => false;

        /// <inheritdoc />
        public override bool HasUnsupported => false;

        /// <inheritdoc />
        public override bool UsesL7 => true;

        /// <inheritdoc />
        public override string ToString() => $"sni {Name}";
    }

    /// <summary>A matcher ax does not model (metadata, filter state, ...): unknown at accept time.</summary>
    public sealed record Unsupported(string What) : RbacMatcher
    {
        /// <inheritdoc />
        public override bool UsesPrincipal => false;

        /// <inheritdoc />
        public override bool HasUnsupported => true;

        /// <inheritdoc />
        public override string ToString() => $"unsupported({What})";
    }
}

/// <summary>How a string is matched (<c>envoy.type.matcher.v3.StringMatcher</c>).</summary>
public enum StringMatchKind
{
    /// <summary>Equal.</summary>
    Exact,

    /// <summary>Starts with.</summary>
    Prefix,

    /// <summary>Ends with.</summary>
    Suffix,

    /// <summary>Contains.</summary>
    Contains,

    /// <summary>The whole string matches the RE2 regex.</summary>
    Regex,
}

/// <summary>A string matcher. Regexes are compiled once, anchored at both ends as Envoy's <c>safe_regex</c> matches the whole string.</summary>
public sealed record StringMatcher
{
    private readonly Regex? _regex;

    /// <summary>Creates a matcher.</summary>
    public StringMatcher(StringMatchKind kind, string value, bool ignoreCase)
    {
        Kind = kind;
        Value = value;
        IgnoreCase = ignoreCase;
        if (kind == StringMatchKind.Regex)
        {
            // RE2 syntax is close to a subset of .NET's for what Istio emits (.*, .+, literals); NonBacktracking keeps
            // matching linear as RE2 does, so a hostile pattern cannot stall the accept path.
            _regex = new Regex(
                $"^(?:{value})$",
                RegexOptions.CultureInvariant | RegexOptions.NonBacktracking | (ignoreCase ? RegexOptions.IgnoreCase : RegexOptions.None));
        }
    }

    /// <summary>Exact, prefix, suffix, contains or regex.</summary>
    public StringMatchKind Kind { get; }

    /// <summary>The string or pattern.</summary>
    public string Value { get; }

    /// <summary>Case-insensitive (not for regexes in Envoy; honoured anyway).</summary>
    public bool IgnoreCase { get; }

    /// <summary>Whether <paramref name="input"/> matches.</summary>
    public bool Matches(string input)
    {
        var comparison = IgnoreCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        return Kind switch
        {
            StringMatchKind.Exact => string.Equals(input, Value, comparison),
            StringMatchKind.Prefix => input.StartsWith(Value, comparison),
            StringMatchKind.Suffix => input.EndsWith(Value, comparison),
            StringMatchKind.Contains => input.Contains(Value, comparison),
            _ => _regex!.IsMatch(input),
        };
    }

    /// <inheritdoc />
    /// <remarks>Part of the canonical policy text that <see cref="RbacModel.SameAs"/> compares, so it shows every field.</remarks>
    public override string ToString() => $"{Kind.ToString().ToLowerInvariant()}{(IgnoreCase ? "/i" : "")}:{Value}";
}

/// <summary>
/// How one header is matched: the forms of Envoy's <c>HeaderMatcher</c> that Istio emits. <c>present_match: false</c> is
/// a presence match inverted; the deprecated <c>exact_match</c>, <c>prefix_match</c>, ... are string matches.
/// </summary>
/// <param name="Value">The value's matcher; null for a presence match (the header is there, whatever its value).</param>
/// <param name="Invert">Envoy's <c>invert_match</c>. A value matcher on a missing header is false either way, as in Envoy.</param>
/// <param name="TreatMissingAsEmpty">Envoy's <c>treat_missing_header_as_empty</c>: a missing header is matched as "".</param>
public sealed record HeaderMatch(StringMatcher? Value, bool Invert = false, bool TreatMissingAsEmpty = false)
{
    /// <summary>The header is present (or, inverted, absent).</summary>
    public static HeaderMatch Present(bool invert = false) => new(null, invert);

    /// <inheritdoc />
    public override string ToString() =>
        (Invert ? "not " : "") + (Value?.ToString() ?? "present") + (TreatMissingAsEmpty ? " missing-as-empty" : "");
}
