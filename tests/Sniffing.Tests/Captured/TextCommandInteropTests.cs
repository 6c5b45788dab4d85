using System.Text;
using Istio.AppSwitch.Sniffing.Tests.Tools;

namespace Istio.AppSwitch.Sniffing.Tests.Captured;

/// <summary>
/// Text command lines, sent by python3 over loopback and captured, sniffed, and then sent as they are to a real
/// memcached and a real redis-server: a line classified as memcached must be one memcached accepts and Redis rejects,
/// a line classified as Redis the other way round, and an ambiguous one (protocol Unknown, command set) one both
/// accept. This checks the rule of docs/sniffing.md against the servers rather than against itself.
/// </summary>
public class TextCommandInteropTests(RealServers servers) : IClassFixture<RealServers>
{
    public static TheoryData<string, SniffedProtocol, string> Lines => new()
    {
        // memcached-only verbs, and shared verbs with memcached's arguments
        { "set k 0 0 5\r\nhello\r\n", SniffedProtocol.Memcached, "set" },
        { "gets k\r\n", SniffedProtocol.Memcached, "gets" },
        { "get a b c\r\n", SniffedProtocol.Memcached, "get" },
        { "incr n 5\r\n", SniffedProtocol.Memcached, "incr" },
        { "append k 0 0 1\r\nx\r\n", SniffedProtocol.Memcached, "append" },
        { "delete k\r\n", SniffedProtocol.Memcached, "delete" },
        { "add fresh 1 60 2\r\nhi\r\n", SniffedProtocol.Memcached, "add" },
        { "mg k v\r\n", SniffedProtocol.Memcached, "mg" },
        { "ms k 2\r\nhi\r\n", SniffedProtocol.Memcached, "ms" },
        { "mn\r\n", SniffedProtocol.Memcached, "mn" },
        { "stats\r\n", SniffedProtocol.Memcached, "stats" },
        { "version\r\n", SniffedProtocol.Memcached, "version" },
        { "verbosity 1\r\n", SniffedProtocol.Memcached, "verbosity" },
        // Redis-only verbs, upper-case shared verbs, and shared verbs with Redis's arguments
        { "PING\r\n", SniffedProtocol.Redis, "ping" },
        { "ping\n", SniffedProtocol.Redis, "ping" },
        { "HELLO 2\r\n", SniffedProtocol.Redis, "hello" },
        { "GET k\r\n", SniffedProtocol.Redis, "get" },
        { "incr counter\r\n", SniffedProtocol.Redis, "incr" },
        { "set k v\r\n", SniffedProtocol.Redis, "set" },
        { "del k\r\n", SniffedProtocol.Redis, "del" },
        // both accept these as they are
        { "get k\r\n", SniffedProtocol.Unknown, "get" },
        { "touch k 10\r\n", SniffedProtocol.Unknown, "touch" },
    };

    [Theory]
    [MemberData(nameof(Lines))]
    public async Task Sniff_TextCommandLine_ClassifiedAsTheServersAnswer(string line, SniffedProtocol expected, string command)
    {
        var sent = Encoding.ASCII.GetBytes(line);
        using var listener = new FirstBytesCapture();
        var send = PythonClient.SendAsync(listener.Port, sent);
        var captured = await listener.CaptureAsync(TimeSpan.FromSeconds(10));
        await send;

        var (status, result) = Prefixes.CheckConsistent(captured);

        Assert.Equal(sent, captured);
        Assert.Equal(SniffStatus.Complete, status);
        Assert.Equal(expected, result.Protocol);
        Assert.Equal(command, result.Command);

        var memcached = Encoding.ASCII.GetString(await LineClient.AskAsync(servers.MemcachedPort, sent));
        var redis = Encoding.ASCII.GetString(await LineClient.AskAsync(servers.RedisPort, sent));
        var memcachedAccepts = memcached.Length > 0 && !memcached.Contains("ERROR", StringComparison.Ordinal);
        var redisAccepts = redis.Length > 0 && !redis.StartsWith('-');
        var answers = $"memcached: {memcached.Trim()} | redis: {redis.Trim()}";
        Assert.True(memcachedAccepts == (expected is SniffedProtocol.Memcached or SniffedProtocol.Unknown), answers);
        Assert.True(redisAccepts == (expected is SniffedProtocol.Redis or SniffedProtocol.Unknown), answers);
    }
}
