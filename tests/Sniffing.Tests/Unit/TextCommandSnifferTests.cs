using System.Text;

namespace Istio.AppSwitch.Sniffing.Tests.Unit;

/// <summary>Redis RESP arrays, inline commands and memcached lines built to reach each rule. The classes of real
/// lines are checked against real servers in TextCommandInteropTests.</summary>
public class TextCommandSnifferTests
{
    private static SniffStatus Sniff(string data, out SniffResult result) =>
        ProtocolSniffer.Sniff(Encoding.Latin1.GetBytes(data), out result);

    [Theory]
    [InlineData("*1\r\n$4\r\nPING\r\n", "ping")]
    [InlineData("*3\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\nv\r\n", "set")]
    [InlineData("*2\r\n$6\r\nCLIENT\r\n", "client")]
    [InlineData("*1\r\n$10\r\nMYMODULE.X\r\n", "mymodule.x")]
    public void Sniff_RespArray_RedisWithCommand(string data, string command)
    {
        var status = Sniff(data, out var result);

        Assert.Equal(SniffStatus.Complete, status);
        Assert.Equal(SniffedProtocol.Redis, result.Protocol);
        Assert.Equal(command, result.Command);
    }

    [Theory]
    [InlineData("*", SniffedProtocol.Unknown)]
    [InlineData("*12", SniffedProtocol.Unknown)]
    [InlineData("*1\r", SniffedProtocol.Unknown)]
    [InlineData("*1\r\n", SniffedProtocol.Redis)]
    [InlineData("*1\r\n$4\r\nPI", SniffedProtocol.Redis)]
    [InlineData("*1\r\n$4\r\nPING\r", SniffedProtocol.Redis)]
    public void Sniff_RespPrefix_NeedMoreData(string data, SniffedProtocol protocol)
    {
        var status = Sniff(data, out var result);

        Assert.Equal(SniffStatus.NeedMoreData, status);
        Assert.Equal(protocol, result.Protocol);
        Assert.Null(result.Command);
    }

    [Theory]
    [InlineData("*0\r\n")]
    [InlineData("*-1\r\n")]
    [InlineData("*1\n$4\nPING\n")]
    [InlineData("*1\r\n:4\r\n")]
    [InlineData("*1\r\n$0\r\n\r\n")]
    [InlineData("*1\r\n$65\r\n")]
    [InlineData("*99999999\r\n")]
    [InlineData("*1\r\n$4\r\nPI G\r\n")]
    [InlineData("*1\r\n$4\r\nPINGx\r\n")]
    public void Sniff_MalformedResp_Unrecognized(string data)
    {
        var status = Sniff(data, out var result);

        Assert.Equal(SniffStatus.Unrecognized, status);
        Assert.Equal(SniffedProtocol.Unknown, result.Protocol);
    }

    [Theory]
    [InlineData("mn\r\n", SniffedProtocol.Memcached, "mn")]
    [InlineData("me k\r\n", SniffedProtocol.Memcached, "me")]
    [InlineData("ma k N0 D2\r\n", SniffedProtocol.Memcached, "ma")]
    [InlineData("md k q\r\n", SniffedProtocol.Memcached, "md")]
    [InlineData("cas k 0 0 1 99\r\n", SniffedProtocol.Memcached, "cas")]
    [InlineData("gat 10 a b\r\n", SniffedProtocol.Memcached, "gat")]
    [InlineData("gats 10 a\r\n", SniffedProtocol.Memcached, "gats")]
    [InlineData("replace k 0 0 1\r\n", SniffedProtocol.Memcached, "replace")]
    [InlineData("prepend k 0 0 1\r\n", SniffedProtocol.Memcached, "prepend")]
    [InlineData("decr k 1 noreply\r\n", SniffedProtocol.Memcached, "decr")]
    [InlineData("touch k 10 noreply\r\n", SniffedProtocol.Unknown, "touch")]
    [InlineData("set k 0 -1 5 noreply\r\n", SniffedProtocol.Memcached, "set")]
    [InlineData("flush_all\r\n", SniffedProtocol.Memcached, "flush_all")]
    [InlineData("quit\r\n", SniffedProtocol.Unknown, "quit")]
    [InlineData("QUIT\r\n", SniffedProtocol.Redis, "quit")]
    [InlineData("decr k\r\n", SniffedProtocol.Redis, "decr")]
    [InlineData("touch a\r\n", SniffedProtocol.Redis, "touch")]
    [InlineData("append k v\r\n", SniffedProtocol.Redis, "append")]
    [InlineData("set k v EX 10\r\n", SniffedProtocol.Redis, "set")]
    [InlineData("Auth secret\r\n", SniffedProtocol.Redis, "auth")]
    [InlineData("hello\t3\r\n", SniffedProtocol.Redis, "hello")]
    [InlineData("get  k\r\n", SniffedProtocol.Unknown, "get")]
    [InlineData("set k\r\n", SniffedProtocol.Unknown, "set")]
    public void Sniff_TextCommand_ByRule(string line, SniffedProtocol protocol, string command)
    {
        var status = Sniff(line, out var result);

        Assert.Equal(SniffStatus.Complete, status);
        Assert.Equal(protocol, result.Protocol);
        Assert.Equal(command, result.Command);
        Assert.Equal(protocol switch { SniffedProtocol.Redis => "redis", SniffedProtocol.Memcached => "memcached", _ => "" },
            result.ProtocolToken);
    }

    [Theory]
    [InlineData("STATS\r\n")] // memcached only, and memcached matches verbs in lower case
    [InlineData("frobnicate x\r\n")]
    [InlineData("\r\n")]
    [InlineData(" get k\r\n")]
    [InlineData("get k\0\r\n")]
    [InlineData("get\u00e9 k\r\n")]
    [InlineData("thisverbislongerthanthirtytwocharacters\r\n")]
    [InlineData("thisverbislongerthanthirtytwocharacters")]
    [InlineData("\u0080\u0001")]
    [InlineData("\0")]
    public void Sniff_NotACommand_Unrecognized(string data)
    {
        var status = Sniff(data, out var result);

        Assert.Equal(SniffStatus.Unrecognized, status);
        Assert.Equal(SniffedProtocol.Unknown, result.Protocol);
        Assert.Null(result.Command);
    }

    [Theory]
    [InlineData("")]
    [InlineData("g")]
    [InlineData("get k")]
    [InlineData("get k\r")]
    [InlineData("PING")]
    public void Sniff_LineNotEnded_NeedMoreData(string data)
    {
        var status = Sniff(data, out var result);

        Assert.Equal(SniffStatus.NeedMoreData, status);
        Assert.Same(SniffResult.None, result);
    }
}
