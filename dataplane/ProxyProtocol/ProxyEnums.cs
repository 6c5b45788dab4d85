namespace Istio.AppSwitch.ProxyProtocol;

/// <summary>The version of a PROXY protocol header.</summary>
public enum ProxyVersion
{
    /// <summary>The human-readable text line (<c>PROXY TCP4 ...\r\n</c>).</summary>
    V1 = 1,

    /// <summary>The binary format with the 12-byte signature.</summary>
    V2 = 2,
}

/// <summary>The command of a v2 header (the low nibble of its 13th byte).</summary>
public enum ProxyCommand
{
    /// <summary>The proxy made the connection on its own behalf (a health check): use the real endpoints.</summary>
    Local = 0x0,

    /// <summary>The connection was relayed: the header carries the original endpoints.</summary>
    Proxy = 0x1,
}

/// <summary>The address family of a header (the high nibble of a v2 header's 14th byte).</summary>
public enum ProxyAddressFamily
{
    /// <summary>AF_UNSPEC: no address (LOCAL, v1 <c>UNKNOWN</c>, or a family the sender cannot express).</summary>
    Unspecified = 0x0,

    /// <summary>AF_INET: 4-byte addresses and 2-byte ports (12 bytes in all).</summary>
    InterNetwork = 0x1,

    /// <summary>AF_INET6: 16-byte addresses and 2-byte ports (36 bytes in all).</summary>
    InterNetworkV6 = 0x2,

    /// <summary>AF_UNIX: two 108-byte socket paths (216 bytes in all).</summary>
    Unix = 0x3,
}

/// <summary>The transport of a header (the low nibble of a v2 header's 14th byte).</summary>
public enum ProxyTransport
{
    /// <summary>Unknown or unspecified.</summary>
    Unspecified = 0x0,

    /// <summary>SOCK_STREAM: TCP or a Unix stream socket.</summary>
    Stream = 0x1,

    /// <summary>SOCK_DGRAM: UDP or a Unix datagram socket.</summary>
    Datagram = 0x2,
}

/// <summary>What <see cref="ProxyProtocolParser.TryParse(ReadOnlySpan{byte}, out ProxyHeader?, out int, out ProxyProtocolError)"/> found.</summary>
public enum ProxyParseStatus
{
    /// <summary>A complete, valid header: it and the number of bytes it took are returned.</summary>
    Success,

    /// <summary>The bytes so far are a valid beginning of a header: read more and try again.</summary>
    Incomplete,

    /// <summary>The bytes can never become a valid header: drop the connection.</summary>
    Invalid,
}
