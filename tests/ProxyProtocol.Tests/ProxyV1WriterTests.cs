using System.Net;
using System.Text;

namespace Istio.AppSwitch.ProxyProtocol.Tests;

public class ProxyV1WriterTests
{
    [Theory]
    [InlineData("192.168.0.1", 56324, "192.168.0.11", 443, "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n")]
    [InlineData("::1", 1, "2001:db8::1", 65535, "PROXY TCP6 ::1 2001:db8::1 1 65535\r\n")]
    [InlineData("127.0.0.1", 0, "::1", 80, "PROXY TCP6 ::ffff:127.0.0.1 ::1 0 80\r\n")]
    [InlineData("fe80::1%2", 5, "::1", 6, "PROXY TCP6 fe80::1 ::1 5 6\r\n")]
    public void WriteProxy_EndPoints_ExactLineThatParsesBack(string source, int sourcePort, string destination, int destinationPort, string expected)
    {
        var buffer = new byte[ProxyProtocolLimits.MaxV1HeaderLength];
        var sourceEndPoint = new IPEndPoint(IPAddress.Parse(source), sourcePort);
        var destinationEndPoint = new IPEndPoint(IPAddress.Parse(destination), destinationPort);

        var length = ProxyV1Writer.WriteProxy(buffer, sourceEndPoint, destinationEndPoint);
        var header = ProxyProtocolParser.Parse(buffer.AsSpan(0, length));

        Assert.Equal(expected, Encoding.ASCII.GetString(buffer, 0, length));
        Assert.Equal(ProxyVersion.V1, header.Version);
        Assert.Equal(sourcePort, header.Source!.Port);
        Assert.Equal(destinationPort, header.Destination!.Port);
    }

    [Fact]
    public void WriteProxy_LongestLine_Fits104Bytes()
    {
        var buffer = new byte[104];
        var all = new IPEndPoint(IPAddress.Parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), 65535);

        Assert.Equal(104, ProxyV1Writer.WriteProxy(buffer, all, all));
        Assert.Throws<ArgumentException>(() => ProxyV1Writer.WriteProxy(buffer.AsSpan(0, 103), all, all));
    }

    [Fact]
    public void WriteUnknown_WritesShortForm()
    {
        var buffer = new byte[20];

        var length = ProxyV1Writer.WriteUnknown(buffer);

        Assert.Equal("PROXY UNKNOWN\r\n", Encoding.ASCII.GetString(buffer, 0, length));
        Assert.Equal(ProxyAddressFamily.Unspecified, ProxyProtocolParser.Parse(buffer).Family);
    }
}
