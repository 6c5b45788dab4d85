using Istio.AppSwitch.Dataplane.Registry;

namespace Istio.AppSwitch.Dataplane.Tests.Registry;

/// <summary><c>ax run --ports HOST:APP</c>: repeatable, comma-separated, ports 1-65535, nothing mapped twice.</summary>
public sealed class PortMappingTests
{
    [Fact]
    public void TryParse_RepeatedAndCommaSeparated_ReadsEveryPairInOrder()
    {
        Assert.True(PortMapping.TryParse(["8080:80,8443:443", "16379:6379"], out var mappings, out var error), error);

        Assert.Equal([new PortMapping(8080, 80), new PortMapping(8443, 443), new PortMapping(16379, 6379)], mappings);
        Assert.Equal("8080:80", mappings[0].ToString());
    }

    [Theory]
    [InlineData("80", "\"80\" is not of the form HOST:APP")]
    [InlineData("", "\"\" is not of the form HOST:APP")]
    [InlineData("0:80", "\"0:80\": ports are numbers from 1 to 65535")]
    [InlineData("80:65536", "\"80:65536\": ports are numbers from 1 to 65535")]
    [InlineData("-1:80", "\"-1:80\": ports are numbers from 1 to 65535")]
    [InlineData("+80:80", "\"+80:80\": ports are numbers from 1 to 65535")]
    [InlineData(" 80:80", "\" 80:80\": ports are numbers from 1 to 65535")]
    [InlineData("80:80:80", "\"80:80:80\": ports are numbers from 1 to 65535")]
    [InlineData("8080:80,8080:81", "host port 8080 is mapped twice")]
    [InlineData("8080:80,8081:80", "application port 80 is mapped twice")]
    public void TryParse_BadValue_SaysWhat(string value, string message)
    {
        Assert.False(PortMapping.TryParse([value], out _, out var error));

        Assert.Equal(message, error);
    }

    [Fact]
    public void TryParse_SeveralProblems_ReportsEveryOne()
    {
        Assert.False(PortMapping.TryParse(["x", "0:1", "5:5", "5:6"], out _, out var error));

        Assert.Equal("\"x\" is not of the form HOST:APP; \"0:1\": ports are numbers from 1 to 65535; host port 5 is mapped twice", error);
    }
}
