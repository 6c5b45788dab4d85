using System.Collections.Immutable;
using System.Net;

namespace Istio.AppSwitch.Rbac;

/// <summary>
/// Evaluates an inbound port's <see cref="RbacModel"/> for one connection, as Envoy's RBAC filters would, in filter
/// order: a matching DENY refuses, an ALLOW with no matching policy refuses, LOG only records. Matching is three-valued:
/// a node ax cannot check (<see cref="RbacMatcher.Unsupported"/>, or an L7 matcher the peeked bytes do not settle) is
/// "unknown", and an outcome that depends on an unknown is <see cref="RbacDecision.Chain"/>. Pure and thread-safe.
/// </summary>
public static partial class RbacEvaluator
{
    /// <summary>Evaluates the port's RBAC for a connection from <paramref name="source"/> to <paramref name="destinationPort"/>.</summary>
    /// <param name="model">The port's RBAC.</param>
    /// <param name="source">The peer's address and port.</param>
    /// <param name="destinationPort">The local port.</param>
    /// <param name="principal">The peer's mTLS principal, or null for a peer without one.</param>
    public static RbacResult Evaluate(RbacModel model, IPEndPoint source, uint destinationPort, string? principal)
    {
        ArgumentNullException.ThrowIfNull(source);
        return Evaluate(model, new RbacRequest(source.Address, source.Port, null, destinationPort, principal));
    }

    /// <summary>Evaluates the port's RBAC for <paramref name="request"/>.</summary>
    public static RbacResult Evaluate(RbacModel model, RbacRequest request)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(request);
        var logged = ImmutableArray.CreateBuilder<string>();
        string? allowedBy = null;
        var chain = false;
        foreach (var engine in model.Engines)
        {
            var (match, policy) = FirstMatch(engine, request);
            switch (engine.Action)
            {
                case RbacAction.Deny when match == Tri.True:
                    return new RbacResult(RbacDecision.Deny, policy, logged.ToImmutable());
                case RbacAction.Deny when match == Tri.Unknown:
                    chain = true;
                    break;
                case RbacAction.Allow when match == Tri.False:
                    // Refused whatever an earlier unknown DENY would have said.
                    return new RbacResult(RbacDecision.Deny, null, logged.ToImmutable());
                case RbacAction.Allow when match == Tri.Unknown:
                    chain = true;
                    break;
                case RbacAction.Allow:
                    allowedBy ??= policy;
                    break;
                case RbacAction.Log:
                    // LOG never refuses; record every policy that surely matches.
                    foreach (var p in engine.Policies)
                    {
                        if (Match(p, request) == Tri.True)
                        {
                            logged.Add(p.Name);
                        }
                    }
                    break;
            }
        }
        return new RbacResult(chain ? RbacDecision.Chain : RbacDecision.Allow, chain ? null : allowedBy, logged.ToImmutable());
    }

    private enum Tri
    {
        False,
        True,
        Unknown,
    }

    private static (Tri Match, string? Policy) FirstMatch(RbacEngine engine, RbacRequest request)
    {
        var result = Tri.False;
        foreach (var policy in engine.Policies)
        {
            var match = Match(policy, request);
            if (match == Tri.True)
            {
                return (Tri.True, policy.Name);
            }
            if (match == Tri.Unknown)
            {
                result = Tri.Unknown;
            }
        }
        return (result, null);
    }

    private static Tri Match(RbacPolicy policy, RbacRequest request) =>
        And(AnyOf(policy.Permissions, request), AnyOf(policy.Principals, request));

    private static Tri AnyOf(ImmutableArray<RbacMatcher> matchers, RbacRequest request)
    {
        var result = Tri.False;
        foreach (var matcher in matchers)
        {
            var match = Match(matcher, request);
            if (match == Tri.True)
            {
                return Tri.True;
            }
            if (match == Tri.Unknown)
            {
                result = Tri.Unknown;
            }
        }
        return result;
    }

    private static Tri And(Tri a, Tri b) =>
        a == Tri.False || b == Tri.False ? Tri.False : a == Tri.Unknown || b == Tri.Unknown ? Tri.Unknown : Tri.True;

    private static Tri Of(bool value) => value ? Tri.True : Tri.False;

    private static Tri Match(RbacMatcher matcher, RbacRequest request)
    {
        switch (matcher)
        {
            case RbacMatcher.Any:
                return Tri.True;
            case RbacMatcher.And and:
                var all = Tri.True;
                foreach (var item in and.Items)
                {
                    all = And(all, Match(item, request));
                    if (all == Tri.False)
                    {
                        return Tri.False;
                    }
                }
                return all;
            case RbacMatcher.Or or:
                return AnyOf(or.Items, request);
            case RbacMatcher.Not not:
                return Match(not.Inner, request) switch
                {
                    Tri.True => Tri.False,
                    Tri.False => Tri.True,
                    _ => Tri.Unknown,
                };
            case RbacMatcher.DestinationPort port:
                return Of(request.DestinationPort >= port.Start && request.DestinationPort <= port.End);
            case RbacMatcher.DestinationIp ip:
                return request.Destination is null ? Tri.Unknown : Of(ip.Network.Contains(Normalize(request.Destination)));
            case RbacMatcher.SourceIp ip:
                return Of(ip.Network.Contains(Normalize(request.Source)));
            case RbacMatcher.Principal principal:
                // Envoy: a connection without a peer certificate never matches `authenticated`.
                return request.Principal is null ? Tri.False : Of(principal.Name?.Matches(request.Principal) ?? true);
            case RbacMatcher.UrlPath path:
                return MatchPath(path, request.L7);
            case RbacMatcher.Header header:
                return MatchHeader(header, request.L7);
            case RbacMatcher.RequestedServerName sni:
                return MatchServerName(sni, request.L7);
            default:
                return Tri.Unknown;
        }
    }

    // An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d; Envoy matches it as IPv4.
    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
