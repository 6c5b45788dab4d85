using System.Net;
using System.Text;
using Istio.AppSwitch.Dataplane.Policy.LoadBalancing;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Tests.Policy.LoadBalancing;

public sealed class AddressTextTests
{
    [Theory]
    [InlineData("10.1.2.3", "10.1.2.3")]
    [InlineData("0.0.0.0", "0.0.0.0")]
    [InlineData("255.255.255.255", "255.255.255.255")]
    [InlineData("::", "::")]
    [InlineData("::1", "::1")]
    [InlineData("fd00::1", "fd00::1")]
    [InlineData("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1")]
    [InlineData("2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1")]
    [InlineData("fe80::1:0", "fe80::1:0")]
    [InlineData("1:0:0:0:0:0:0:0", "1::")]
    [InlineData("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8")]
    [InlineData("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7")]
    [InlineData("::ffff:10.1.2.3", "::ffff:10.1.2.3")]
    [InlineData("::10.1.2.3", "::10.1.2.3")]
    [InlineData("2001:DB8::ABCD", "2001:db8::abcd")]
    public void Format_LikeInetNtop(string address, string expected)
    {
        var endpoint = new InetEndpoint(IPAddress.Parse(address).GetAddressBytes(), 443);
        Span<byte> text = stackalloc byte[AddressText.MaxLength];

        var length = AddressText.Format(endpoint, text);

        Assert.Equal(expected, Encoding.UTF8.GetString(text[..length]));
    }

    [Fact]
    public void Format_LongestIPv6_FitsMaxLength()
    {
        var endpoint = new InetEndpoint(IPAddress.Parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").GetAddressBytes(), 1);
        Span<byte> text = stackalloc byte[AddressText.MaxLength];

        Assert.Equal(39, AddressText.Format(endpoint, text));
    }

    [Fact]
    public void HashSourceAddress_IgnoresThePort_HashesTheText()
    {
        var a = new InetEndpoint([10, 1, 2, 3], 40000);
        var b = new InetEndpoint([10, 1, 2, 3], 40001);

        Assert.Equal(UpstreamCluster.HashSourceAddress(a), UpstreamCluster.HashSourceAddress(b));
        Assert.Equal(XxHash64.Hash("10.1.2.3"u8), UpstreamCluster.HashSourceAddress(a));
    }
}
