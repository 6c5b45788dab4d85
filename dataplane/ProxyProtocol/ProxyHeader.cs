using System.Net;
using System.Text;

namespace Istio.AppSwitch.ProxyProtocol;

/// <summary>
/// A parsed PROXY protocol header (v1 or v2). Made only by <see cref="ProxyProtocolParser"/> and
/// <see cref="ProxyProtocolReader"/>, after every check passed: TLV values are valid for their type, a CRC32C was
/// verified, and ax's own TLVs were decoded.
/// </summary>
public sealed class ProxyHeader
{
    internal ProxyHeader(ProxyVersion version, ProxyCommand command, ProxyAddressFamily family, ProxyTransport transport, int length)
    {
        Version = version;
        Command = command;
        Family = family;
        Transport = transport;
        Length = length;
    }

    /// <summary>v1 (text) or v2 (binary).</summary>
    public ProxyVersion Version { get; }

    /// <summary>LOCAL or PROXY. A v1 header is always PROXY (<c>UNKNOWN</c> is PROXY with no addresses).</summary>
    public ProxyCommand Command { get; }

    /// <summary>The address family as sent (also for LOCAL, whose addresses are discarded).</summary>
    public ProxyAddressFamily Family { get; }

    /// <summary>The transport as sent.</summary>
    public ProxyTransport Transport { get; }

    /// <summary>The number of bytes the header took: the payload starts right after.</summary>
    public int Length { get; }

    /// <summary>True for LOCAL: the receiver uses the connection's real endpoints.</summary>
    public bool IsLocal => Command == ProxyCommand.Local;

    /// <summary>The original client, for a PROXY header of family INET or INET6; null otherwise. An IPv4 client
    /// sent in an INET6 header shows as an IPv4-mapped IPv6 address (<see cref="IPAddress.IsIPv4MappedToIPv6"/>).</summary>
    public IPEndPoint? Source { get; internal init; }

    /// <summary>The address the client connected to, for a PROXY header of family INET or INET6; null otherwise.</summary>
    public IPEndPoint? Destination { get; internal init; }

    /// <summary>The client's Unix socket address, for a PROXY header of family UNIX: the bytes before the first NUL of
    /// the 108-byte field (an abstract address, which starts with NUL, shows as empty: see <see cref="SourceUnixAddress"/>).</summary>
    public string? SourceUnixPath => UnixPath(SourceUnixAddress);

    /// <summary>The server's Unix socket path, for a PROXY header of family UNIX (see <see cref="SourceUnixPath"/>).</summary>
    public string? DestinationUnixPath => UnixPath(DestinationUnixAddress);

    /// <summary>The client's 108-byte Unix address field as sent, for family UNIX; empty otherwise.</summary>
    public ReadOnlyMemory<byte> SourceUnixAddress { get; internal init; }

    /// <summary>The server's 108-byte Unix address field as sent, for family UNIX; empty otherwise.</summary>
    public ReadOnlyMemory<byte> DestinationUnixAddress { get; internal init; }

    /// <summary>Every TLV in wire order (v2 only), known and unknown, CRC32C and NOOP included.</summary>
    public IReadOnlyList<ProxyTlv> Tlvs { get; internal init; } = [];

    /// <summary>True when the header carried a CRC32C TLV (it was verified, or the header would have been rejected).</summary>
    public bool HasChecksum { get; internal init; }

    /// <summary>PP2_TYPE_ALPN as text (protocol ids are US-ASCII in practice), or null.</summary>
    public string? Alpn => FindText(ProxyTlvType.Alpn);

    /// <summary>PP2_TYPE_AUTHORITY (the TLS SNI or other host name), or null.</summary>
    public string? Authority => FindText(ProxyTlvType.Authority);

    /// <summary>PP2_TYPE_UNIQUE_ID as sent (at most 128 bytes), or null.</summary>
    public ReadOnlyMemory<byte>? UniqueId => Find(ProxyTlvType.UniqueId)?.Value;

    /// <summary>PP2_TYPE_UNIQUE_ID as UTF-8 text (HAProxy's are text), or null.</summary>
    public string? UniqueIdText => FindText(ProxyTlvType.UniqueId);

    /// <summary>PP2_TYPE_SSL, or null.</summary>
    public ProxySslInfo? Ssl { get; internal init; }

    /// <summary>PP2_TYPE_NETNS, or null.</summary>
    public string? Netns => FindText(ProxyTlvType.Netns);

    /// <summary>ax: the source application's labels in wire order, or null when the TLV is absent.</summary>
    public IReadOnlyList<KeyValuePair<string, string>>? AxLabels { get; internal init; }

    /// <summary>ax: the source workload's identity, or null.</summary>
    public AxIdentity? AxIdentity { get; internal init; }

    /// <summary>ax: the DNS name of the original destination, or null.</summary>
    public string? AxOriginalDestinationName { get; internal init; }

    /// <summary>ax: the detected application protocol, or null.</summary>
    public string? AxProtocol { get; internal init; }

    /// <summary>ax: the first bytes the application sent, or null.</summary>
    public ReadOnlyMemory<byte>? AxPeekedBytes => Find(ProxyTlvType.AxPeekedBytes)?.Value;

    /// <summary>The first TLV of <paramref name="type"/>, or null.</summary>
    public ProxyTlv? Find(ProxyTlvType type)
    {
        foreach (var tlv in Tlvs)
        {
            if (tlv.Type == type)
            {
                return tlv;
            }
        }

        return null;
    }

    /// <summary>Every TLV of <paramref name="type"/>, in wire order.</summary>
    public IEnumerable<ProxyTlv> FindAll(ProxyTlvType type) => Tlvs.Where(tlv => tlv.Type == type);

    /// <inheritdoc />
    public override string ToString()
    {
        var text = new StringBuilder($"PROXY v{(int)Version} {Command} {Family} {Transport}");
        if (Source is not null)
        {
            text.Append($" {Source} -> {Destination}");
        }
        if (SourceUnixPath is not null)
        {
            text.Append($" unix:{SourceUnixPath} -> unix:{DestinationUnixPath}");
        }
        foreach (var tlv in Tlvs)
        {
            text.Append($" tlv 0x{(byte)tlv.Type:X2}[{tlv.Value.Length}]");
        }

        return text.ToString();
    }

    private string? FindText(ProxyTlvType type) => Find(type) is { } tlv ? Encoding.UTF8.GetString(tlv.Value.Span) : null;

    private static string? UnixPath(ReadOnlyMemory<byte> address)
    {
        if (address.IsEmpty)
        {
            return null;
        }

        var span = address.Span;
        var end = span.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? span : span[..end]);
    }
}
