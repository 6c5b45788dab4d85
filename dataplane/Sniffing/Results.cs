namespace Istio.AppSwitch.Sniffing;

/// <summary>Shared results and the protocol tokens, so that the common outcomes allocate nothing.</summary>
internal static class Results
{
    public const string TlsToken = "tls";
    public const string Http10Token = "http/1.0";
    public const string Http11Token = "http/1.1";
    public const string Http2Token = "h2";
    public const string RedisToken = "redis";
    public const string MemcachedToken = "memcached";

    public static SniffResult Http2 { get; } = new(SniffedProtocol.Http2, Http2Token);

    /// <summary>A RESP array header has been read, the command not yet.</summary>
    public static SniffResult RedisPending { get; } = new(SniffedProtocol.Redis, RedisToken);

    public static string TokenOf(SniffedProtocol protocol) => protocol switch
    {
        SniffedProtocol.Tls => TlsToken,
        SniffedProtocol.Http1 => Http11Token,
        SniffedProtocol.Http2 => Http2Token,
        SniffedProtocol.Redis => RedisToken,
        SniffedProtocol.Memcached => MemcachedToken,
        _ => "",
    };
}
