using System.Text;
using System.Text.Unicode;

namespace Istio.AppSwitch.ProxyProtocol;

/// <summary>The identity of a workload as Istio names it: its Kubernetes namespace and service account.</summary>
/// <param name="Namespace">The namespace (a DNS label: never contains <c>/</c>).</param>
/// <param name="ServiceAccount">The service account (a DNS subdomain: never contains <c>/</c>).</param>
public readonly record struct AxIdentity(string Namespace, string ServiceAccount)
{
    /// <summary>The wire form, <c>namespace/serviceaccount</c>.</summary>
    public override string ToString() => $"{Namespace}/{ServiceAccount}";
}

/// <summary>
/// ax's own TLVs, in the range the specification reserves for applications (<c>0xE0</c>–<c>0xEF</c>). The builders
/// check the encoding and allocate the value once: the daemon builds them per workload or per destination and passes
/// the same <see cref="ProxyTlv"/> to the writer for every connection. The parser checks the same rules
/// (<c>docs/proxy-protocol.md</c> has the table).
/// </summary>
public static class AxTlvs
{
    /// <summary>The longest <see cref="ProxyTlvType.AxOriginalDestinationName"/>: a DNS name is at most 253 characters
    /// in text form; 255 leaves room for a trailing dot.</summary>
    public const int MaxDestinationNameLength = 255;

    /// <summary>The longest <see cref="ProxyTlvType.AxProtocol"/> token.</summary>
    public const int MaxProtocolLength = 64;

    /// <summary><see cref="ProxyTlvType.AxLabels"/>: <c>k=v</c> pairs joined with commas, UTF-8, in the given order.</summary>
    /// <exception cref="ArgumentException">A key is empty or repeated, or a key or value contains <c>,</c> or <c>=</c>
    /// (Kubernetes label keys and values never do).</exception>
    public static ProxyTlv Labels(IEnumerable<KeyValuePair<string, string>> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var text = new StringBuilder();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, value) in labels)
        {
            if (key.Length == 0 || key.AsSpan().IndexOfAny(',', '=') >= 0 || value.AsSpan().IndexOfAny(',', '=') >= 0)
            {
                throw new ArgumentException($"Label '{key}={value}': keys are not empty, and neither keys nor values contain ',' or '='.", nameof(labels));
            }
            if (!keys.Add(key))
            {
                throw new ArgumentException($"Label key '{key}' appears twice.", nameof(labels));
            }
            if (text.Length > 0)
            {
                text.Append(',');
            }
            text.Append(key).Append('=').Append(value);
        }

        return ProxyTlv.FromText(ProxyTlvType.AxLabels, text.ToString());
    }

    /// <summary><see cref="ProxyTlvType.AxIdentity"/>: <c>namespace/serviceaccount</c>, UTF-8.</summary>
    /// <exception cref="ArgumentException">A part is empty or contains <c>/</c>.</exception>
    public static ProxyTlv Identity(AxIdentity identity)
    {
        if (!IsIdentityPart(identity.Namespace) || !IsIdentityPart(identity.ServiceAccount))
        {
            throw new ArgumentException($"Identity '{identity}': namespace and service account are not empty and contain no '/'.", nameof(identity));
        }

        return ProxyTlv.FromText(ProxyTlvType.AxIdentity, identity.ToString());
    }

    /// <summary><see cref="ProxyTlvType.AxOriginalDestinationName"/>: the DNS name, UTF-8.</summary>
    /// <exception cref="ArgumentException">The name is empty or longer than <see cref="MaxDestinationNameLength"/> bytes.</exception>
    public static ProxyTlv OriginalDestinationName(string dnsName)
    {
        ArgumentNullException.ThrowIfNull(dnsName);
        var tlv = ProxyTlv.FromText(ProxyTlvType.AxOriginalDestinationName, dnsName);
        if (tlv.Value.Length is 0 or > MaxDestinationNameLength)
        {
            throw new ArgumentException($"A destination name is 1 to {MaxDestinationNameLength} bytes.", nameof(dnsName));
        }

        return tlv;
    }

    /// <summary><see cref="ProxyTlvType.AxProtocol"/>: a token of printable US-ASCII without spaces
    /// (<c>http/1.1</c>, <c>h2</c>, <c>tls</c>, <c>redis</c>).</summary>
    /// <exception cref="ArgumentException">The token is empty, too long, or not printable US-ASCII.</exception>
    public static ProxyTlv Protocol(string protocol)
    {
        ArgumentNullException.ThrowIfNull(protocol);
        var tlv = ProxyTlv.FromText(ProxyTlvType.AxProtocol, protocol);
        if (!IsProtocolToken(tlv.Value.Span))
        {
            throw new ArgumentException($"A protocol is 1 to {MaxProtocolLength} printable US-ASCII characters without spaces.", nameof(protocol));
        }

        return tlv;
    }

    /// <summary><see cref="ProxyTlvType.AxPeekedBytes"/>: the bytes as they are (not copied).</summary>
    public static ProxyTlv PeekedBytes(ReadOnlyMemory<byte> bytes) => new(ProxyTlvType.AxPeekedBytes, bytes);

    // The decoders below return a reason instead of throwing: the parser turns it into a ProxyProtocolError.

    internal static string? TryDecodeLabels(ReadOnlySpan<byte> value, out IReadOnlyList<KeyValuePair<string, string>> labels)
    {
        labels = [];
        if (!Utf8.IsValid(value))
        {
            return "labels are not valid UTF-8";
        }
        if (value.IsEmpty)
        {
            return null;
        }

        var text = Encoding.UTF8.GetString(value);
        var list = new List<KeyValuePair<string, string>>();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var range in text.AsSpan().Split(','))
        {
            var pair = text.AsSpan(range);
            var equals = pair.IndexOf('=');
            if (equals <= 0 || pair[(equals + 1)..].Contains('='))
            {
                return $"label '{pair}' is not key=value";
            }

            var key = pair[..equals].ToString();
            if (!keys.Add(key))
            {
                return $"label key '{key}' appears twice";
            }
            list.Add(new(key, pair[(equals + 1)..].ToString()));
        }

        labels = list;
        return null;
    }

    internal static string? TryDecodeIdentity(ReadOnlySpan<byte> value, out AxIdentity identity)
    {
        identity = default;
        if (!Utf8.IsValid(value))
        {
            return "the identity is not valid UTF-8";
        }

        var text = Encoding.UTF8.GetString(value);
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == text.Length - 1 || text.IndexOf('/', slash + 1) >= 0)
        {
            return $"identity '{text}' is not namespace/serviceaccount";
        }

        identity = new AxIdentity(text[..slash], text[(slash + 1)..]);
        return null;
    }

    internal static string? TryDecodeDestinationName(ReadOnlySpan<byte> value, out string name)
    {
        name = string.Empty;
        if (value.Length is 0 or > MaxDestinationNameLength || !Utf8.IsValid(value))
        {
            return $"the destination name is not 1 to {MaxDestinationNameLength} bytes of UTF-8";
        }

        name = Encoding.UTF8.GetString(value);
        return null;
    }

    internal static string? TryDecodeProtocol(ReadOnlySpan<byte> value, out string protocol)
    {
        protocol = string.Empty;
        if (!IsProtocolToken(value))
        {
            return $"the protocol is not 1 to {MaxProtocolLength} printable US-ASCII characters";
        }

        protocol = Encoding.ASCII.GetString(value);
        return null;
    }

    private static bool IsIdentityPart(string? part) => !string.IsNullOrEmpty(part) && !part.Contains('/', StringComparison.Ordinal);

    private static bool IsProtocolToken(ReadOnlySpan<byte> value)
    {
        if (value.Length is 0 or > MaxProtocolLength)
        {
            return false;
        }
        foreach (var b in value)
        {
            if (b is < 0x21 or > 0x7E)
            {
                return false;
            }
        }

        return true;
    }
}
