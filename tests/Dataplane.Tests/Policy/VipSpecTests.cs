using System.Net;
using Istio.AppSwitch.Dataplane.Policy;

namespace Istio.AppSwitch.Dataplane.Tests.Policy;

public sealed class VipSpecTests
{
    [Theory]
    [InlineData("10.0.0.1:80", "10.0.0.1", 32, 80, "10.0.0.1:80", true)]
    [InlineData("10.0.0.1/32:80", "10.0.0.1", 32, 80, "10.0.0.1:80", true)]
    [InlineData("10.0.0.0/8:80", "10.0.0.0", 8, 80, "10.0.0.0/8:80", false)]
    [InlineData("10.0.0.0/8:*", "10.0.0.0", 8, null, "10.0.0.0/8:*", false)]
    [InlineData("10.0.0.1:*", "10.0.0.1", 32, null, "10.0.0.1:*", false)]
    [InlineData("0.0.0.0/0:*", "0.0.0.0", 0, null, "0.0.0.0/0:*", false)]
    [InlineData("[fd00::1]:80", "fd00::1", 128, 80, "[fd00::1]:80", true)]
    [InlineData("fd00::/64:*", "fd00::", 64, null, "fd00::/64:*", false)]
    [InlineData("[fd00::]/64:443", "fd00::", 64, 443, "fd00::/64:443", false)]
    [InlineData("[fd00::/64]:443", "fd00::", 64, 443, "fd00::/64:443", false)]
    [InlineData(" 10.1.2.3:65535 ", "10.1.2.3", 32, 65535, "10.1.2.3:65535", true)]
    public void TryParse_ValidForms_Parsed(string text, string address, int prefix, int? port, string canonical, bool exact)
    {
        Assert.True(VipSpec.TryParse(text, out var vip, out var problem), problem);

        Assert.Equal(IPAddress.Parse(address), vip.Address);
        Assert.Equal(prefix, vip.PrefixLength);
        Assert.Equal(port, vip.Port);
        Assert.Equal(canonical, vip.ToString());
        Assert.Equal(exact, vip.IsExact);
    }

    [Theory]
    [InlineData("", "vip is required")]
    [InlineData("10.0.0.1", "expected ':PORT' or ':*'")]
    [InlineData("10.0.0.1:", "the port is missing")]
    [InlineData("10.0.0.1:0", "port \"0\" must be a number from 1 to 65535")]
    [InlineData("10.0.0.1:65536", "port \"65536\" must be a number from 1 to 65535")]
    [InlineData("10.0.0.1:http", "port \"http\"")]
    [InlineData("10.0.0.1:-1", "port \"-1\"")]
    [InlineData("10.0.0.0/33:80", "prefix length \"33\" must be a number from 0 to 32")]
    [InlineData("fd00::/129:*", "prefix length \"129\" must be a number from 0 to 128")]
    [InlineData("10.0.0.0/x:80", "prefix length \"x\"")]
    [InlineData("10.0.0.0/8", "expected ':PORT' or ':*' after the prefix length")]
    [InlineData("10.0.0.1/8:80", "has host bits set; did you mean 10.0.0.0/8?")]
    [InlineData("10.1:80", "\"10.1\" is not an IPv4 or IPv6 address")]
    [InlineData("300.0.0.1:80", "\"300.0.0.1\" is not an IPv4 or IPv6 address")]
    [InlineData("redis:6379", "\"redis\" is not an IPv4 or IPv6 address")]
    [InlineData("fd00::1:80", "must be in brackets")]
    [InlineData("[fd00::1:80", "missing ']'")]
    [InlineData("[fd00::1]", "expected ':PORT' or ':*'")]
    [InlineData("[fe80::1%eth0]:80", "is not an IPv4 or IPv6 address")]
    [InlineData("[::ffff:10.0.0.1]:80", "write the IPv4 address (10.0.0.1)")]
    public void TryParse_Invalid_ProblemNamesTheVip(string text, string expected)
    {
        Assert.False(VipSpec.TryParse(text, out var vip, out var problem));

        Assert.Null(vip);
        Assert.Contains(expected, problem, StringComparison.Ordinal);
        if (text.Length > 0)
        {
            Assert.StartsWith($"invalid vip \"{text}\": ", problem, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Contains_AddressInBlock_TrueOnlyForItsPort()
    {
        var vip = VipSpec.Parse("10.1.0.0/16:80");

        Assert.True(vip.Contains(IPAddress.Parse("10.1.200.3"), 80));
        Assert.False(vip.Contains(IPAddress.Parse("10.1.200.3"), 81));
        Assert.False(vip.Contains(IPAddress.Parse("10.2.0.1"), 80));
        Assert.False(vip.Contains(IPAddress.Parse("::1"), 80));
    }
}
