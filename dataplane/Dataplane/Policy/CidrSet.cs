using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Policy;

/// <summary>
/// A short list of address blocks (a ref's <c>--exclude</c>), checked on the connect path without allocation.
/// </summary>
public sealed class CidrSet
{
    private readonly Entry[] _entries;

    private CidrSet(ImmutableArray<(IPAddress Network, int PrefixLength)> blocks)
    {
        Blocks = blocks;
        _entries = blocks
            .Select(b => new Entry(RouteKey.Create(AddressBits.From(b.Network), b.PrefixLength, RouteKey.AnyPort), b.PrefixLength, b.Network.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6))
            .ToArray();
    }

    /// <summary>The set with no block.</summary>
    public static CidrSet Empty { get; } = new([]);

    /// <summary>The blocks as written (network address and prefix length), in order.</summary>
    public ImmutableArray<(IPAddress Network, int PrefixLength)> Blocks { get; }

    /// <summary>True when there is no block.</summary>
    public bool IsEmpty => _entries.Length == 0;

    /// <summary>
    /// Parses <c>CIDR[,CIDR]</c>; a bare address is a block of one. Null or blank is the empty set.
    /// </summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out CidrSet? set, [NotNullWhen(false)] out string? problem)
    {
        set = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            set = Empty;
            problem = null;
            return true;
        }
        var blocks = ImmutableArray.CreateBuilder<(IPAddress, int)>();
        foreach (var part in text.Split(','))
        {
            if (!VipSpec.TryParseCidr(part.Trim(), out var network, out var prefixLength, out var why))
            {
                problem = why;
                return false;
            }
            blocks.Add((network, prefixLength));
        }
        set = new CidrSet(blocks.ToImmutable());
        problem = null;
        return true;
    }

    /// <summary>True when <paramref name="address"/> falls in one of the blocks. No allocation.</summary>
    internal bool Contains(in AddressBits address)
    {
        foreach (var entry in _entries)
        {
            if (entry.IsV6 == address.IsV6 && RouteKey.Create(address, entry.PrefixLength, RouteKey.AnyPort).Equals(entry.Key))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>True when <paramref name="endpoint"/>'s address falls in one of the blocks.</summary>
    public bool Contains(in InetEndpoint endpoint) => AddressBits.TryFrom(endpoint, out var bits) && Contains(in bits);

    /// <summary>The canonical text: <c>10.0.0.0/8,fd00::/8</c>; empty for the empty set.</summary>
    public override string ToString() => string.Join(',', Blocks.Select(b => $"{b.Network}/{b.PrefixLength}"));

    private readonly record struct Entry(RouteKey Key, int PrefixLength, bool IsV6);
}
