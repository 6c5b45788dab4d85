namespace Istio.AppSwitch.Rbac;

/// <summary>
/// The request target as ax reads it from the first bytes, and when reading it as sent is not safe. Envoy's connection
/// manager (Istio's path normalisation: <c>normalize_path</c>, and <c>merge_slashes</c> when asked) matches RBAC against
/// the normalised path: <c>/public/../admin</c> is <c>/admin</c> there, <c>/%61dmin</c> is <c>/admin</c>, <c>\admin</c>
/// (and, merged, <c>//admin</c>) is <c>/admin</c>. ax does not normalise (a second normaliser that differs from Envoy's
/// in one corner is a bypass), so a path that normalisation could change is ambiguous, and a rule on it is unknown:
/// never allowed by an ALLOW, never let past a DENY.
/// </summary>
public static class RbacPaths
{
    /// <summary>
    /// Whether <paramref name="target"/> (a request target, query included) could mean another path once normalised, or
    /// is not an origin-form path at all (<c>*</c>, <c>http://host/x</c>). The path part is ambiguous with <c>..</c>, a
    /// <c>.</c> segment, <c>//</c>, <c>\</c>, a percent-escape that is malformed, in lower case, or of a character
    /// normalisation decodes (letters, digits, <c>-._~</c>, <c>/</c>, <c>\</c>), or a byte outside RFC 3986's path
    /// characters; the whole target with <c>#</c> (a fragment is never sent, and Envoy strips or refuses it).
    /// </summary>
    public static bool IsAmbiguous(string target)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (target.Length == 0 || target[0] != '/' || target.Contains('#'))
        {
            return true;
        }
        var path = WithoutQuery(target);
        if (path.Contains("..", StringComparison.Ordinal) || path.Contains("//", StringComparison.Ordinal)
            || path.Contains("/./", StringComparison.Ordinal) || path.EndsWith("/.", StringComparison.Ordinal))
        {
            return true;
        }
        for (var i = 0; i < path.Length; i++)
        {
            var c = path[i];
            if (c == '%')
            {
                if (i + 2 >= path.Length || !IsUpperHex(path[i + 1]) || !IsUpperHex(path[i + 2]))
                {
                    return true;
                }
                var decoded = (char)Convert.ToByte(path.Substring(i + 1, 2), 16);
                if (IsUnreserved(decoded) || decoded is '/' or '\\')
                {
                    return true;
                }
                i += 2;
            }
            else if (!IsUnreserved(c) && !IsSubDelimOrPathChar(c))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>The target without its query (and fragment), as Envoy's <c>PathMatcher</c> matches it.</summary>
    public static string WithoutQuery(string target)
    {
        ArgumentNullException.ThrowIfNull(target);
        var end = target.AsSpan().IndexOfAny('?', '#');
        return end < 0 ? target : target[..end];
    }

    /// <summary>The host of an authority without its <c>:port</c>, or null when it has none (<c>[::1]:80</c> is <c>[::1]</c>).</summary>
    public static string? WithoutPort(string authority)
    {
        ArgumentNullException.ThrowIfNull(authority);
        var colon = authority.LastIndexOf(':');
        if (colon < 0 || authority.IndexOf(']', colon) >= 0 || (authority.StartsWith('[') && !authority[..colon].EndsWith(']')))
        {
            return null;
        }
        return authority[..colon];
    }

    private static bool IsUpperHex(char c) => c is (>= '0' and <= '9') or (>= 'A' and <= 'F');

    private static bool IsUnreserved(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~';

    private static bool IsSubDelimOrPathChar(char c) => c is '!' or '$' or '&' or '\'' or '(' or ')' or '*' or '+' or ',' or ';' or '=' or ':' or '@' or '/';
}
