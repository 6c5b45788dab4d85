using System.Collections.Frozen;

namespace Istio.AppSwitch.Sniffing;

/// <summary>The command verbs of Redis and memcached, lower-cased, for telling a text command line apart.</summary>
internal static class TextCommands
{
    /// <summary>memcached's text and meta commands (protocol.txt). memcached matches verbs case-sensitively, in
    /// lower case.</summary>
    public static FrozenSet<string> Memcached { get; } = FrozenSet.Create(StringComparer.Ordinal,
        "get", "gets", "gat", "gats", "set", "add", "replace", "append", "prepend", "cas", "delete", "incr", "decr",
        "touch", "stats", "version", "flush_all", "verbosity", "quit", "shutdown", "cache_memlimit", "lru_crawler",
        "slabs", "mg", "ms", "md", "ma", "mn", "me");

    /// <summary>Redis commands a client may send inline (the common data, connection and server commands; Redis
    /// matches them case-insensitively). A RESP array is Redis whatever its command, so this list matters only for
    /// inline lines.</summary>
    public static FrozenSet<string> Redis { get; } = FrozenSet.Create(StringComparer.Ordinal,
        // connection and server
        "ping", "auth", "hello", "select", "echo", "quit", "reset", "info", "client", "config", "command", "dbsize",
        "flushdb", "flushall", "monitor", "time", "role", "replicaof", "slaveof", "save", "bgsave", "bgrewriteaof",
        "lastsave", "shutdown", "slowlog", "latency", "memory", "debug", "acl", "cluster", "readonly", "readwrite",
        "wait", "swapdb", "failover", "module", "lolwut",
        // keys
        "del", "unlink", "exists", "expire", "pexpire", "expireat", "pexpireat", "ttl", "pttl", "persist", "keys",
        "scan", "type", "rename", "renamenx", "randomkey", "touch", "object", "dump", "restore", "migrate", "move",
        "copy", "sort", "sort_ro",
        // strings
        "get", "set", "setnx", "setex", "psetex", "getset", "getdel", "getex", "mget", "mset", "msetnx", "append",
        "strlen", "incr", "decr", "incrby", "decrby", "incrbyfloat", "getrange", "setrange", "substr", "lcs",
        "setbit", "getbit", "bitcount", "bitpos", "bitop", "bitfield",
        // hashes, lists, sets, sorted sets, streams, HyperLogLog, geo
        "hget", "hset", "hsetnx", "hmget", "hmset", "hgetall", "hdel", "hexists", "hincrby", "hincrbyfloat", "hkeys",
        "hvals", "hlen", "hstrlen", "hscan", "hrandfield",
        "lpush", "rpush", "lpushx", "rpushx", "lpop", "rpop", "lrange", "llen", "lindex", "lset", "lrem", "ltrim",
        "linsert", "lpos", "lmove", "blmove", "blpop", "brpop", "rpoplpush", "brpoplpush", "lmpop", "blmpop",
        "sadd", "srem", "smembers", "sismember", "smismember", "scard", "spop", "srandmember", "smove", "sinter",
        "sinterstore", "sintercard", "sunion", "sunionstore", "sdiff", "sdiffstore", "sscan",
        "zadd", "zrem", "zrange", "zrangebyscore", "zrevrange", "zrevrangebyscore", "zrangebylex", "zrank",
        "zrevrank", "zscore", "zmscore", "zincrby", "zcard", "zcount", "zlexcount", "zpopmin", "zpopmax", "bzpopmin",
        "bzpopmax", "zremrangebyrank", "zremrangebyscore", "zremrangebylex", "zunionstore", "zinterstore", "zscan",
        "zrangestore", "zunion", "zinter", "zdiff", "zdiffstore", "zrandmember", "zmpop", "bzmpop",
        "xadd", "xread", "xreadgroup", "xrange", "xrevrange", "xlen", "xdel", "xtrim", "xack", "xgroup", "xinfo",
        "xpending", "xclaim", "xautoclaim", "xsetid",
        "pfadd", "pfcount", "pfmerge", "geoadd", "geopos", "geodist", "geohash", "geosearch", "geosearchstore",
        "georadius", "georadiusbymember",
        // pub/sub, transactions, scripting
        "publish", "subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe", "spublish",
        "pubsub", "multi", "exec", "discard", "watch", "unwatch", "eval", "evalsha", "eval_ro", "evalsha_ro", "script",
        "function", "fcall", "fcall_ro");

    private static readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> MemcachedLookup =
        Memcached.GetAlternateLookup<ReadOnlySpan<char>>();

    private static readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> RedisLookup =
        Redis.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>The memcached verb equal to <paramref name="lower"/>, as a shared string.</summary>
    public static bool TryGetMemcached(ReadOnlySpan<char> lower, out string verb) => MemcachedLookup.TryGetValue(lower, out verb!);

    /// <summary>The Redis command equal to <paramref name="lower"/>, as a shared string.</summary>
    public static bool TryGetRedis(ReadOnlySpan<char> lower, out string verb) => RedisLookup.TryGetValue(lower, out verb!);
}
