using System.Net;
using Istio.AppSwitch.Delegation;

namespace Istio.AppSwitch.Proxy.Configuration;

/// <summary>
/// Conditions on a delegated connection's metadata; every condition that is set must hold (an empty match matches
/// everything). Built from a plugin's <c>"match"</c> object (docs/proxy-chain.md).
/// </summary>
public sealed record ConnectionMatch
{
    /// <summary>The destination address is in one of these CIDRs (<c>"destination"</c>: one or a list).</summary>
    public IReadOnlyList<IPNetwork> Destinations { get; init; } = [];

    /// <summary>The destination port is one of these (<c>"port"</c>: one or a list).</summary>
    public IReadOnlyList<int> Ports { get; init; } = [];

    /// <summary>Outbound or inbound only.</summary>
    public DelegationKind? Direction { get; init; }

    /// <summary>The protocol ax detected (ax protocol TLV), or else the ALPN TLV, equals this (ignoring case).</summary>
    public string? Protocol { get; init; }

    /// <summary>The server name: the PROXY authority TLV (the SNI or Host), or else ax's original DNS name, equals this
    /// (ignoring case). <c>"*.example.com"</c> matches any name under example.com.</summary>
    public string? Sni { get; init; }

    /// <summary>Each of these labels is among the application's ax labels, with the same value.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    /// <summary>The peer's ax identity is this, as <c>namespace/serviceaccount</c>.</summary>
    public string? Identity { get; init; }

    /// <summary>True when every condition that is set holds for <paramref name="connection"/>.</summary>
    public bool Matches(DelegatedConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var header = connection.Header;
        var destination = connection.Destination;
        if (Direction is { } direction && connection.Direction != direction)
        {
            return false;
        }
        if (Destinations.Count > 0 && (destination is null || !Destinations.Any(network => network.Contains(Normalize(destination.Address)))))
        {
            return false;
        }
        if (Ports.Count > 0 && (destination is null || !Ports.Contains(destination.Port)))
        {
            return false;
        }
        if (Protocol is not null && !string.Equals(header.AxProtocol ?? header.Alpn, Protocol, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        if (Sni is not null && !NameMatches(header.Authority ?? header.AxOriginalDestinationName, Sni))
        {
            return false;
        }
        if (Identity is not null && !string.Equals(header.AxIdentity?.ToString(), Identity, StringComparison.Ordinal))
        {
            return false;
        }
        foreach (var (key, value) in Labels)
        {
            if (header.AxLabels is not { } labels || !labels.Any(label => label.Key == key && label.Value == value))
            {
                return false;
            }
        }
        return true;
    }

    // An IPv4 destination reached from an IPv6 socket arrives as ::ffff:a.b.c.d; an IPv4 CIDR should still match it.
    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    private static bool NameMatches(string? name, string pattern)
    {
        if (name is null)
        {
            return false;
        }
        name = name.TrimEnd('.');
        return pattern.StartsWith("*.", StringComparison.Ordinal)
            ? name.EndsWith(pattern[1..], StringComparison.OrdinalIgnoreCase) && name.Length > pattern.Length - 1
            : string.Equals(name, pattern, StringComparison.OrdinalIgnoreCase);
    }
}
