using System.Collections.Immutable;
using System.Net;
using Envoy.Config.Rbac.V3;
using Envoy.Type.Matcher.V3;
using Istio.AppSwitch.Rbac;
using EnvoyRbac = Envoy.Config.Rbac.V3.RBAC;
using HeaderMatchCase = Envoy.Config.Route.V3.HeaderMatcher.HeaderMatchSpecifierOneofCase;
using StringMatcher = Istio.AppSwitch.Rbac.StringMatcher;

namespace Istio.AppSwitch.Xds.Translation.Rbac;

/// <summary>
/// Turns Envoy RBAC rules (<c>envoy.config.rbac.v3.RBAC</c>, from the network or the HTTP RBAC filter) into an
/// <see cref="RbacEngine"/>. Pure. Paths, headers and SNI become the L7 matchers the daemon decides from the connection's
/// first bytes; what ax cannot check at all (metadata, filter state, range matches, RE2 that .NET rejects) becomes an
/// <see cref="RbacMatcher.Unsupported"/> node with its name, so nothing is dropped and nothing is allowed silently.
/// </summary>
public static class RbacTranslator
{
    // Istio's HTTP RBAC reads the mTLS peer from this filter state (1.18+), the network one from `authenticated`.
    private const string PeerPrincipalFilterState = "io.istio.peer_principal";

    /// <summary>The engine for <paramref name="rules"/>; null when the filter enforces nothing (<c>rules</c> absent).</summary>
    /// <param name="rules">The filter's enforced rules.</param>
    /// <param name="layer">Which filter they come from: request matchers mean something only in the HTTP one.</param>
    public static RbacEngine? Translate(EnvoyRbac? rules, RbacFilterLayer layer)
    {
        if (rules is null)
        {
            return null;
        }
        var action = rules.Action switch
        {
            EnvoyRbac.Types.Action.Allow => RbacAction.Allow,
            EnvoyRbac.Types.Action.Deny => RbacAction.Deny,
            EnvoyRbac.Types.Action.Log => RbacAction.Log,
            _ => (RbacAction?)null,
        };
        var policies = rules.Policies
            .OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => Translate(p.Key, p.Value, layer))
            .ToImmutableArray();
        if (action is null)
        {
            // An action ax does not know: model it as a DENY whose every policy is unknown, so any decision that
            // touches it is Chain.
            return new RbacEngine(RbacAction.Deny, [new RbacPolicy($"action {rules.Action}", [new RbacMatcher.Unsupported($"action {rules.Action}")], [RbacMatcher.Any.Instance])]);
        }
        return new RbacEngine(action.Value, policies);
    }

    private static RbacPolicy Translate(string name, Policy policy, RbacFilterLayer layer)
    {
        var permissions = policy.Permissions.Select(p => Translate(p, layer)).ToImmutableArray();
        var principals = policy.Principals.Select(p => Translate(p, layer)).ToImmutableArray();
        if (policy.Condition is not null || policy.CheckedCondition is not null)
        {
            permissions = [new RbacMatcher.And([new RbacMatcher.Or(permissions), new RbacMatcher.Unsupported("condition")])];
        }
        return new RbacPolicy(name, permissions, principals);
    }

    /// <summary>One permission tree.</summary>
    public static RbacMatcher Translate(Permission permission, RbacFilterLayer layer)
    {
        ArgumentNullException.ThrowIfNull(permission);
        return permission.RuleCase switch
        {
            Permission.RuleOneofCase.Any => permission.Any ? RbacMatcher.Any.Instance : new RbacMatcher.Or([]),
            Permission.RuleOneofCase.AndRules => new RbacMatcher.And(permission.AndRules.Rules.Select(r => Translate(r, layer)).ToImmutableArray()),
            Permission.RuleOneofCase.OrRules => new RbacMatcher.Or(permission.OrRules.Rules.Select(r => Translate(r, layer)).ToImmutableArray()),
            Permission.RuleOneofCase.NotRule => new RbacMatcher.Not(Translate(permission.NotRule, layer)),
            Permission.RuleOneofCase.DestinationPort => new RbacMatcher.DestinationPort(permission.DestinationPort, permission.DestinationPort),
            // Int32Range is [start, end).
            Permission.RuleOneofCase.DestinationPortRange when permission.DestinationPortRange.End > permission.DestinationPortRange.Start
                && permission.DestinationPortRange.Start >= 0 =>
                new RbacMatcher.DestinationPort((uint)permission.DestinationPortRange.Start, (uint)permission.DestinationPortRange.End - 1),
            Permission.RuleOneofCase.DestinationIp when TryNetwork(permission.DestinationIp, out var network) => new RbacMatcher.DestinationIp(network),
            Permission.RuleOneofCase.Header => Header(permission.Header, layer),
            Permission.RuleOneofCase.UrlPath => UrlPath(permission.UrlPath, layer),
            Permission.RuleOneofCase.RequestedServerName => TranslateString(permission.RequestedServerName) is { } sni
                ? new RbacMatcher.RequestedServerName(sni)
                : new RbacMatcher.Unsupported("requested_server_name"),
            Permission.RuleOneofCase.Metadata => new RbacMatcher.Unsupported($"metadata {permission.Metadata.Filter}"),
            _ => new RbacMatcher.Unsupported($"permission {permission.RuleCase}"),
        };
    }

    /// <summary>One principal tree.</summary>
    public static RbacMatcher Translate(Principal principal, RbacFilterLayer layer)
    {
        ArgumentNullException.ThrowIfNull(principal);
        return principal.IdentifierCase switch
        {
            Principal.IdentifierOneofCase.Any => principal.Any ? RbacMatcher.Any.Instance : new RbacMatcher.Or([]),
            Principal.IdentifierOneofCase.AndIds => new RbacMatcher.And(principal.AndIds.Ids.Select(i => Translate(i, layer)).ToImmutableArray()),
            Principal.IdentifierOneofCase.OrIds => new RbacMatcher.Or(principal.OrIds.Ids.Select(i => Translate(i, layer)).ToImmutableArray()),
            Principal.IdentifierOneofCase.NotId => new RbacMatcher.Not(Translate(principal.NotId, layer)),
            Principal.IdentifierOneofCase.Authenticated => principal.Authenticated.PrincipalName is { } name
                ? TranslateString(name) is { } matcher ? new RbacMatcher.Principal(matcher) : new RbacMatcher.Unsupported("principal_name")
                : new RbacMatcher.Principal(null),
            // Without a proxy in front, the remote address and the direct one are the same: ax sees the real peer.
#pragma warning disable CS0612 // source_ip is deprecated but still means direct_remote_ip.
            Principal.IdentifierOneofCase.SourceIp when TryNetwork(principal.SourceIp, out var network) => new RbacMatcher.SourceIp(network),
#pragma warning restore CS0612
            Principal.IdentifierOneofCase.DirectRemoteIp when TryNetwork(principal.DirectRemoteIp, out var network) => new RbacMatcher.SourceIp(network),
            Principal.IdentifierOneofCase.RemoteIp when TryNetwork(principal.RemoteIp, out var network) => new RbacMatcher.SourceIp(network),
            Principal.IdentifierOneofCase.FilterState when principal.FilterState.Key == PeerPrincipalFilterState
                && principal.FilterState.StringMatch is { } match && TranslateString(match) is { } matcher =>
                new RbacMatcher.Principal(matcher),
            Principal.IdentifierOneofCase.Header => Header(principal.Header, layer),
            Principal.IdentifierOneofCase.UrlPath => UrlPath(principal.UrlPath, layer),
            Principal.IdentifierOneofCase.Metadata => new RbacMatcher.Unsupported($"metadata {principal.Metadata.Filter}"),
            Principal.IdentifierOneofCase.FilterState => new RbacMatcher.Unsupported($"filter_state {principal.FilterState.Key}"),
            _ => new RbacMatcher.Unsupported($"principal {principal.IdentifierCase}"),
        };
    }

    private static RbacMatcher UrlPath(PathMatcher path, RbacFilterLayer layer)
    {
        if (layer == RbacFilterLayer.Network)
        {
            // The network filter sees no request: Envoy matches an empty header map there. Rare enough to leave to Envoy.
            return new RbacMatcher.Unsupported("url_path in network RBAC");
        }
        return path.RuleCase == PathMatcher.RuleOneofCase.Path && TranslateString(path.Path) is { } matcher
            ? new RbacMatcher.UrlPath(matcher)
            : new RbacMatcher.Unsupported("url_path");
    }

    private static RbacMatcher Header(Envoy.Config.Route.V3.HeaderMatcher header, RbacFilterLayer layer)
    {
        if (layer == RbacFilterLayer.Network)
        {
            return new RbacMatcher.Unsupported($"header {header.Name} in network RBAC");
        }
        if (header.Name.Length == 0)
        {
            return new RbacMatcher.Unsupported("header without a name");
        }
        // Envoy's header names are lower case (LowerCaseString); the evaluator compares without case anyway.
        var name = header.Name.ToLowerInvariant();
        var invert = header.InvertMatch;
        var missingAsEmpty = header.TreatMissingHeaderAsEmpty;
#pragma warning disable CS0612 // exact_match, prefix_match, ... are deprecated for string_match, and istiod still emits exact_match.
        var value = header.HeaderMatchSpecifierCase switch
        {
            HeaderMatchCase.ExactMatch => new StringMatcher(StringMatchKind.Exact, header.ExactMatch, false),
            HeaderMatchCase.PrefixMatch => new StringMatcher(StringMatchKind.Prefix, header.PrefixMatch, false),
            HeaderMatchCase.SuffixMatch => new StringMatcher(StringMatchKind.Suffix, header.SuffixMatch, false),
            HeaderMatchCase.ContainsMatch => new StringMatcher(StringMatchKind.Contains, header.ContainsMatch, false),
            HeaderMatchCase.SafeRegexMatch => TryRegex(header.SafeRegexMatch, false),
            HeaderMatchCase.StringMatch => TranslateString(header.StringMatch),
            _ => null,
        };
#pragma warning restore CS0612
        return header.HeaderMatchSpecifierCase switch
        {
            // present_match: false matches an absent header, which is presence inverted; no specifier at all is presence.
            HeaderMatchCase.PresentMatch => new RbacMatcher.Header(name, HeaderMatch.Present(invert: header.PresentMatch == invert)),
            HeaderMatchCase.None => new RbacMatcher.Header(name, HeaderMatch.Present(invert)),
            _ when value is not null => new RbacMatcher.Header(name, new HeaderMatch(value, invert, missingAsEmpty)),
            // range_match, and string forms ax cannot run.
            _ => new RbacMatcher.Unsupported($"header {name} {header.HeaderMatchSpecifierCase}"),
        };
    }

    private static StringMatcher? TranslateString(Envoy.Type.Matcher.V3.StringMatcher matcher) => matcher.MatchPatternCase switch
    {
        Envoy.Type.Matcher.V3.StringMatcher.MatchPatternOneofCase.Exact => new(StringMatchKind.Exact, matcher.Exact, matcher.IgnoreCase),
        Envoy.Type.Matcher.V3.StringMatcher.MatchPatternOneofCase.Prefix => new(StringMatchKind.Prefix, matcher.Prefix, matcher.IgnoreCase),
        Envoy.Type.Matcher.V3.StringMatcher.MatchPatternOneofCase.Suffix => new(StringMatchKind.Suffix, matcher.Suffix, matcher.IgnoreCase),
        Envoy.Type.Matcher.V3.StringMatcher.MatchPatternOneofCase.Contains => new(StringMatchKind.Contains, matcher.Contains, matcher.IgnoreCase),
        Envoy.Type.Matcher.V3.StringMatcher.MatchPatternOneofCase.SafeRegex => TryRegex(matcher.SafeRegex, matcher.IgnoreCase),
        _ => null,
    };

    private static StringMatcher? TryRegex(RegexMatcher regex, bool ignoreCase)
    {
        try
        {
            return new StringMatcher(StringMatchKind.Regex, regex.Regex, ignoreCase);
        }
        catch (ArgumentException)
        {
            // Valid RE2 that .NET does not accept: unknown, hence chained.
            return null;
        }
    }

    private static bool TryNetwork(Envoy.Config.Core.V3.CidrRange? range, out IPNetwork network)
    {
        network = default;
        if (range is null || !IPAddress.TryParse(range.AddressPrefix, out var address))
        {
            return false;
        }
        var max = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? 128 : 32;
        var length = range.PrefixLen is null ? max : (int)range.PrefixLen.Value;
        if (length > max)
        {
            return false;
        }
        // Envoy masks the host bits; IPNetwork insists they are zero.
        return IPNetwork.TryParse($"{Mask(address, length)}/{length}", out network);
    }

    private static IPAddress Mask(IPAddress address, int length)
    {
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(length - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }
        return new IPAddress(bytes);
    }
}

/// <summary>Which Envoy RBAC filter a rule set comes from.</summary>
public enum RbacFilterLayer
{
    /// <summary><c>envoy.filters.network.rbac</c>: sees the connection, never a request.</summary>
    Network,

    /// <summary><c>envoy.filters.http.rbac</c>: sees each request's path and headers.</summary>
    Http,
}
