namespace Istio.AppSwitch.Sniffing;

/// <summary>The protocol the first bytes of a connection were recognised as.</summary>
public enum SniffedProtocol
{
    /// <summary>Not (yet) recognised, or a text command that both Redis and memcached accept.</summary>
    Unknown,

    /// <summary>A TLS ClientHello.</summary>
    Tls,

    /// <summary>An HTTP/1.0 or HTTP/1.1 request.</summary>
    Http1,

    /// <summary>The HTTP/2 connection preface (prior knowledge, or h2c after an upgrade is not seen here).</summary>
    Http2,

    /// <summary>A Redis RESP array or a Redis inline command.</summary>
    Redis,

    /// <summary>A memcached text or meta command.</summary>
    Memcached,
}
