using Istio.AppSwitch.Xds.Sidecar;

namespace Istio.AppSwitch.Xds.Tests.Sidecar;

public sealed class PilotConnectionOptionsTests
{
    [Theory]
    [InlineData("istiod.istio-system.svc:15010", "http://istiod.istio-system.svc:15010/")]
    [InlineData("istiod.istio-system.svc:15012", "https://istiod.istio-system.svc:15012/")]
    [InlineData("127.0.0.1:15010", "http://127.0.0.1:15010/")]
    [InlineData("[::1]:15012", "https://[::1]:15012/")]
    public void Parse_HostPort_PicksSchemeByPort(string text, string address) =>
        Assert.Equal(new Uri(address), PilotConnectionOptions.Parse(text).Address);

    [Theory]
    [InlineData("istiod")]
    [InlineData(":15010")]
    [InlineData("istiod:0")]
    [InlineData("istiod:99999")]
    [InlineData("::1:15010")]
    public void Parse_Bad_Throws(string text) => Assert.Throws<FormatException>(() => PilotConnectionOptions.Parse(text));

    [Fact]
    public void CreateCallHeaders_Plaintext_SendsNoToken()
    {
        var token = Path.GetTempFileName();
        try
        {
            File.WriteAllText(token, "secret\n");
            var options = PilotConnectionOptions.Parse("127.0.0.1:15010") with { TokenFile = token, ClusterId = "Kubernetes" };

            var headers = options.CreateCallHeaders();

            Assert.Null(headers.GetValue("authorization"));
            Assert.Equal("Kubernetes", headers.GetValue("clusterid"));
            Assert.Equal("Bearer secret", (options with { Port = 15012 }).CreateCallHeaders().GetValue("authorization"));
        }
        finally
        {
            File.Delete(token);
        }
    }
}
