using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Istio.AppSwitch.Dataplane.Policy;

/// <summary>
/// The virtual address of a service reference: one exact <c>IP:PORT</c>, or a CIDR block with one port or any
/// port. Written <c>10.0.0.1:80</c>, <c>10.0.0.0/8:80</c>, <c>10.0.0.0/8:*</c>, <c>[fd00::1]:80</c>,
/// <c>fd00::/64:*</c> (or <c>[fd00::]/64:80</c>); <c>10.0.0.1:*</c> is any port of one address.
/// </summary>
/// <remarks>
/// A CIDR with host bits set (<c>10.0.0.1/8</c>) is rejected rather than masked: it is almost always a typo, and
/// silently widening a ref to a whole block would redirect connections nobody meant to touch. An <c>IP/32:PORT</c>
/// (or <c>/128</c>) is the same as <c>IP:PORT</c> and prints that way.
/// </remarks>
public sealed class VipSpec : IEquatable<VipSpec>
{
    private VipSpec(IPAddress address, int prefixLength, int? port)
    {
        Address = address;
        PrefixLength = prefixLength;
        Port = port;
    }

    /// <summary>The address, or the network address of the block (host bits zero).</summary>
    public IPAddress Address { get; }

    /// <summary>The prefix length: 32 (IPv4) or 128 (IPv6) for one address.</summary>
    public int PrefixLength { get; }

    /// <summary>The port, or null for any port (<c>*</c>).</summary>
    public int? Port { get; }

    /// <summary><see cref="AddressFamily.InterNetwork"/> or <see cref="AddressFamily.InterNetworkV6"/>.</summary>
    public AddressFamily Family => Address.AddressFamily;

    /// <summary>The prefix length of a single address of this family.</summary>
    public int MaxPrefixLength => Family == AddressFamily.InterNetwork ? 32 : 128;

    /// <summary>One address and one port: the most specific kind of VIP.</summary>
    public bool IsExact => PrefixLength == MaxPrefixLength && Port is not null;

    /// <summary>
    /// Every address of the family on every port (<c>0.0.0.0/0:*</c>, <c>::/0:*</c>): a ref that captures all of a
    /// client's outbound connections, typically towards a sidecar.
    /// </summary>
    public bool IsCatchAll => PrefixLength == 0 && Port is null;

    /// <summary>
    /// Parses a VIP. On failure <paramref name="problem"/> is a sentence of the form
    /// <c>invalid vip "TEXT": WHY</c>.
    /// </summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out VipSpec? vip, [NotNullWhen(false)] out string? problem)
    {
        vip = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            problem = "vip is required (IP:PORT, IP/PREFIX:PORT or IP/PREFIX:*)";
            return false;
        }
        if (!TrySplit(text.Trim(), out var addressText, out var prefixText, out var portText, out var why)
            || !TryParseAddress(addressText, out var address, out why)
            || !TryParsePrefix(prefixText, address, out var prefixLength, out why)
            || !TryParsePort(portText, out var port, out why))
        {
            problem = $"invalid vip \"{text}\": {why}";
            return false;
        }
        var network = Mask(address, prefixLength);
        if (!network.Equals(address))
        {
            problem = $"invalid vip \"{text}\": {address}/{prefixLength} has host bits set; did you mean {network}/{prefixLength}?";
            return false;
        }
        vip = new VipSpec(address, prefixLength, port);
        problem = null;
        return true;
    }

    /// <summary>
    /// Parses an address block, <c>IP/PREFIX</c> or a bare <c>IP</c> (a block of one), with the same strictness as a
    /// VIP: written in full, host bits zero.
    /// </summary>
    public static bool TryParseCidr(string? text, [NotNullWhen(true)] out IPAddress? network, out int prefixLength, [NotNullWhen(false)] out string? problem)
    {
        network = null;
        prefixLength = 0;
        var s = text?.Trim() ?? "";
        var slash = s.IndexOf('/', StringComparison.Ordinal);
        var addressText = slash < 0 ? s : s[..slash];
        var prefixText = slash < 0 ? null : s[(slash + 1)..];
        if (!TryParseAddress(addressText, out var address, out var why) || !TryParsePrefix(prefixText, address, out prefixLength, out why))
        {
            problem = $"invalid CIDR \"{text}\": {why}";
            return false;
        }
        var masked = Mask(address, prefixLength);
        if (!masked.Equals(address))
        {
            problem = $"invalid CIDR \"{text}\": {address}/{prefixLength} has host bits set; did you mean {masked}/{prefixLength}?";
            return false;
        }
        network = address;
        problem = null;
        return true;
    }

    /// <summary>Parses a VIP or throws <see cref="FormatException"/>.</summary>
    public static VipSpec Parse(string text) =>
        TryParse(text, out var vip, out var problem) ? vip : throw new FormatException(problem);

    /// <summary>True when <paramref name="address"/>:<paramref name="port"/> falls in this VIP.</summary>
    public bool Contains(IPAddress address, int port)
    {
        ArgumentNullException.ThrowIfNull(address);
        return address.AddressFamily == Family && (Port is null || Port == port) && Mask(address, PrefixLength).Equals(Address);
    }

    /// <summary>Zeroes the bits of <paramref name="address"/> past <paramref name="prefixLength"/>.</summary>
    internal static IPAddress Mask(IPAddress address, int prefixLength)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var length);
        bytes = bytes[..length];
        for (var i = 0; i < bytes.Length; i++)
        {
            var bitsHere = Math.Clamp(prefixLength - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - bitsHere));
        }
        return new IPAddress(bytes);
    }

    private static bool TrySplit(string text, out string address, out string? prefix, out string port, [NotNullWhen(false)] out string? why)
    {
        address = port = "";
        prefix = null;
        string rest;
        if (text.StartsWith('['))
        {
            // [v6]:port, [v6]/prefix:port, or [v6/prefix]:port.
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                why = "missing ']' after the IPv6 address";
                return false;
            }
            address = text[1..close];
            rest = text[(close + 1)..];
            var innerSlash = address.IndexOf('/', StringComparison.Ordinal);
            if (innerSlash >= 0)
            {
                prefix = address[(innerSlash + 1)..];
                address = address[..innerSlash];
            }
            if (rest.StartsWith('/'))
            {
                if (prefix is not null)
                {
                    why = "the prefix length is given twice";
                    return false;
                }
                var colon = rest.IndexOf(':', StringComparison.Ordinal);
                prefix = colon < 0 ? rest[1..] : rest[1..colon];
                rest = colon < 0 ? "" : rest[colon..];
            }
            if (!rest.StartsWith(':'))
            {
                why = "expected ':PORT' or ':*' after the address";
                return false;
            }
            port = rest[1..];
            why = null;
            return true;
        }

        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            // IP/prefix:port: the address may hold colons (IPv6), the prefix and port do not.
            address = text[..slash];
            rest = text[(slash + 1)..];
            var colon = rest.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                why = "expected ':PORT' or ':*' after the prefix length";
                return false;
            }
            prefix = rest[..colon];
            port = rest[(colon + 1)..];
            why = null;
            return true;
        }

        var last = text.LastIndexOf(':');
        if (last < 0)
        {
            why = "expected ':PORT' or ':*' after the address";
            return false;
        }
        if (text.IndexOf(':', StringComparison.Ordinal) != last)
        {
            why = "an IPv6 address with a port must be in brackets, e.g. [fd00::1]:80";
            return false;
        }
        address = text[..last];
        port = text[(last + 1)..];
        why = null;
        return true;
    }

    private static bool TryParseAddress(string text, [NotNullWhen(true)] out IPAddress? address, [NotNullWhen(false)] out string? why)
    {
        address = null;
        // IPAddress.TryParse also takes "10.1" and "167772161"; a VIP must be written in full.
        var looksV4 = !text.Contains(':', StringComparison.Ordinal);
        if (text.Length == 0 || text.Contains('%', StringComparison.Ordinal)
            || (looksV4 && text.Count(c => c == '.') != 3)
            || !IPAddress.TryParse(text, out address))
        {
            address = null;
            why = $"\"{text}\" is not an IPv4 or IPv6 address";
            return false;
        }
        if (address.IsIPv4MappedToIPv6)
        {
            why = $"\"{text}\" is an IPv4-mapped IPv6 address; write the IPv4 address ({address.MapToIPv4()})";
            return false;
        }
        why = null;
        return true;
    }

    private static bool TryParsePrefix(string? text, IPAddress address, out int prefixLength, [NotNullWhen(false)] out string? why)
    {
        var max = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        prefixLength = max;
        if (text is null)
        {
            why = null;
            return true;
        }
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out prefixLength) || prefixLength > max)
        {
            why = $"prefix length \"{text}\" must be a number from 0 to {max}";
            return false;
        }
        why = null;
        return true;
    }

    private static bool TryParsePort(string text, out int? port, [NotNullWhen(false)] out string? why)
    {
        port = null;
        if (text == "*")
        {
            why = null;
            return true;
        }
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value is < 1 or > 65535)
        {
            why = text.Length == 0 ? "the port is missing (a number from 1 to 65535, or *)" : $"port \"{text}\" must be a number from 1 to 65535, or *";
            return false;
        }
        port = value;
        why = null;
        return true;
    }

    /// <summary>The canonical text: <c>10.0.0.1:80</c>, <c>10.0.0.0/8:*</c>, <c>[fd00::1]:80</c>, <c>fd00::/64:*</c>.</summary>
    public override string ToString()
    {
        var port = Port?.ToString(CultureInfo.InvariantCulture) ?? "*";
        if (PrefixLength == MaxPrefixLength)
        {
            return Family == AddressFamily.InterNetwork ? $"{Address}:{port}" : $"[{Address}]:{port}";
        }
        return $"{Address}/{PrefixLength}:{port}";
    }

    /// <inheritdoc />
    public bool Equals(VipSpec? other) =>
        other is not null && Address.Equals(other.Address) && PrefixLength == other.PrefixLength && Port == other.Port;

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as VipSpec);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Address, PrefixLength, Port);
}
