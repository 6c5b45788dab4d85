using System.Collections.Frozen;

namespace Istio.AppSwitch.Rbac;

// The L7 matchers, decided from the bytes the daemon peeked (RbacL7). Each answer is definite only when Envoy, with the
// same first request, could not have answered otherwise; anything else is Unknown, which never allows silently.
public static partial class RbacEvaluator
{
    // Headers whose value Envoy's connection manager sets, strips or rewrites before its RBAC filter runs (or, for
    // `host`, moves to `:authority`): what the client sent is not what Envoy matches, so a rule on them is unknown.
    private static readonly FrozenSet<string> EnvoyOwnedHeaders = new[]
    {
        "host", "x-request-id", "connection", "keep-alive", "proxy-connection", "te", "transfer-encoding", "upgrade",
    }.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    private static Tri MatchPath(RbacMatcher.UrlPath matcher, RbacL7? l7)
    {
        if (RequestTarget(l7) is not { } target || RbacPaths.IsAmbiguous(target))
        {
            return Tri.Unknown;
        }
        return Of(matcher.Path.Matches(matcher.IgnoreQuery ? RbacPaths.WithoutQuery(target) : target));
    }

    private static Tri MatchHeader(RbacMatcher.Header matcher, RbacL7? l7)
    {
        if (!IsReadableHttp(l7))
        {
            return Tri.Unknown;
        }
        var name = matcher.Name;
        if (name.StartsWith(':'))
        {
            return name.ToLowerInvariant() switch
            {
                ":method" => Apply(matcher.Match, l7.Method),
                ":path" => RbacPaths.IsAmbiguous(l7.Path!) ? Tri.Unknown : Apply(matcher.Match, l7.Path),
                ":authority" => MatchAuthority(matcher.Match, l7),
                // Envoy sets :scheme from the connection; ax only reads plain-text requests.
                ":scheme" => Apply(matcher.Match, "http"),
                _ => Tri.Unknown,
            };
        }
        if (EnvoyOwnedHeaders.Contains(name) || name.StartsWith("x-envoy-", StringComparison.OrdinalIgnoreCase)
            || name.StartsWith("x-forwarded-", StringComparison.OrdinalIgnoreCase))
        {
            return Tri.Unknown;
        }
        var value = HeaderValue(l7.Headers, name);
        if (!l7.HeadersComplete)
        {
            // A header found stays present whatever follows; its value, and the absence of one, are only known once the
            // whole block was read (a second field of the same name would be joined to the first).
            return value is not null && matcher.Match.Value is null ? Of(!matcher.Match.Invert) : Tri.Unknown;
        }
        return Apply(matcher.Match, value);
    }

    private static Tri MatchAuthority(HeaderMatch match, RbacL7 l7)
    {
        if (!l7.HeadersComplete)
        {
            return Tri.Unknown;
        }
        var exact = Apply(match, l7.Host);
        // Whether Envoy strips the port from the authority is its connection manager's setting, which the model does not
        // carry: when the answer would depend on it, it is unknown.
        if (l7.Host is { } host && RbacPaths.WithoutPort(host) is { } bare && Apply(match, bare) != exact)
        {
            return Tri.Unknown;
        }
        return exact;
    }

    private static Tri MatchServerName(RbacMatcher.RequestedServerName matcher, RbacL7? l7)
    {
        if (l7 is null)
        {
            return Tri.Unknown;
        }
        if (l7.Sni is { } sni)
        {
            return Of(matcher.Name.Matches(sni));
        }
        // A plain-text HTTP request has no TLS, and Envoy's requested server name is then empty. Other bytes without an
        // SNI may be a ClientHello that did not fit in the peek: unknown.
        return l7.IsHttp ? Of(matcher.Name.Matches("")) : Tri.Unknown;
    }

    // Envoy's HeaderMatcher: a value matcher on a missing header is false even inverted (unless it is to be read as
    // empty); a presence matcher is inverted like any other.
    private static Tri Apply(HeaderMatch match, string? value)
    {
        if (match.Value is null)
        {
            return Of((value is not null) != match.Invert);
        }
        if (value is null)
        {
            if (!match.TreatMissingAsEmpty)
            {
                return Tri.False;
            }
            value = "";
        }
        return Of(match.Value.Matches(value) != match.Invert);
    }

    // Envoy joins the values of a repeated header with commas before matching.
    private static string? HeaderValue(IReadOnlyList<KeyValuePair<string, string>> headers, string name)
    {
        string? joined = null;
        foreach (var (key, value) in headers)
        {
            if (string.Equals(key, name, StringComparison.OrdinalIgnoreCase))
            {
                joined = joined is null ? value.Trim(' ', '\t') : $"{joined},{value.Trim(' ', '\t')}";
            }
        }
        return joined;
    }

    private static string? RequestTarget(RbacL7? l7) => IsReadableHttp(l7) ? l7.Path : null;

    // An HTTP/1.x request line ax can read. Anything else on a port with HTTP rules is unknown, not a miss: Envoy's
    // connection manager would refuse bytes that are not HTTP, so no DENY may be skipped because the rule "did not
    // match", and HTTP/2 (prior knowledge: the preface reads as `PRI * HTTP/2.0`) carries its headers HPACK-encoded,
    // which ax does not decode.
    private static bool IsReadableHttp([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] RbacL7? l7) =>
        l7 is { IsHttp: true, Method: { Length: > 0 } method, Path: { Length: > 0 } path }
        && !(method == "PRI" && path == "*");
}
