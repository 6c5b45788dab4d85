using System.Globalization;
using System.Text;
using Istio.AppSwitch.Sniffing.Tests.Tools;

namespace Istio.AppSwitch.Sniffing.Tests.Captured;

/// <summary>Redis commands as redis-cli sends them (RESP arrays).</summary>
public class RedisCaptureTests
{
    [Theory]
    [InlineData("ping", new string[0])]
    [InlineData("get", new[] { "k" })]
    [InlineData("SET", new[] { "key:1", "a value" })]
    public async Task Sniff_RedisCliCommand_RedisWithCommand(string command, string[] arguments)
    {
        var bytes = await Capture.FromAsync("redis-cli", port =>
            ["-h", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), command, .. arguments]);

        var (status, result) = Prefixes.CheckConsistent(bytes);

        Assert.True(bytes.AsSpan().StartsWith("*"u8), Encoding.Latin1.GetString(bytes));
        Assert.Equal(SniffStatus.Complete, status);
        Assert.Equal(SniffedProtocol.Redis, result.Protocol);
        Assert.Equal("redis", result.ProtocolToken);
        Assert.Equal(command.ToLowerInvariant(), result.Command);
    }
}
