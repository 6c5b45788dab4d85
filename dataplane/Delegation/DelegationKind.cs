namespace Istio.AppSwitch.Delegation;

/// <summary>Which way a delegated connection goes; the <c>kind</c> byte of a frame.</summary>
public enum DelegationKind : byte
{
    /// <summary>The application connected out: the frame carries the socketpair end that stands in for its socket.</summary>
    Outbound = 1,

    /// <summary>The application accepted: the frame carries the socketpair end, then the accepted TCP socket.</summary>
    Inbound = 2,
}

/// <summary>The directions a sidecar registers for (<c>directions=outbound,inbound</c>).</summary>
[Flags]
public enum DelegationDirections
{
    /// <summary>None: not a valid registration.</summary>
    None = 0,

    /// <summary>Outbound connections.</summary>
    Outbound = 1,

    /// <summary>Inbound connections.</summary>
    Inbound = 2,

    /// <summary>Both.</summary>
    Both = Outbound | Inbound,
}

/// <summary>Text forms of <see cref="DelegationKind"/> and <see cref="DelegationDirections"/>, as the query string and the API use them.</summary>
public static class DelegationNames
{
    /// <summary>"outbound" or "inbound".</summary>
    public static string ToName(this DelegationKind kind) => kind == DelegationKind.Inbound ? "inbound" : "outbound";

    /// <summary>The direction a kind needs.</summary>
    public static DelegationDirections ToDirection(this DelegationKind kind) =>
        kind == DelegationKind.Inbound ? DelegationDirections.Inbound : DelegationDirections.Outbound;

    /// <summary>"outbound,inbound", "outbound" or "inbound".</summary>
    public static string ToQuery(this DelegationDirections directions) => directions switch
    {
        DelegationDirections.Both => "outbound,inbound",
        DelegationDirections.Inbound => "inbound",
        DelegationDirections.Outbound => "outbound",
        _ => "",
    };

    /// <summary>Parses a comma-separated list of "outbound" and "inbound" (each at most once, at least one).</summary>
    public static bool TryParseDirections(string? text, out DelegationDirections directions)
    {
        directions = DelegationDirections.None;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }
        foreach (var part in text.Split(','))
        {
            var one = part.Trim() switch
            {
                "outbound" => DelegationDirections.Outbound,
                "inbound" => DelegationDirections.Inbound,
                _ => DelegationDirections.None,
            };
            if (one == DelegationDirections.None || (directions & one) != 0)
            {
                directions = DelegationDirections.None;
                return false;
            }
            directions |= one;
        }
        return true;
    }
}
