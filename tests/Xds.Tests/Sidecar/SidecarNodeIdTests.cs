using System.Net;
using Istio.AppSwitch.Xds.Sidecar;

namespace Istio.AppSwitch.Xds.Tests.Sidecar;

public sealed class SidecarNodeIdTests
{
    [Theory]
    [InlineData("sidecar~127.0.0.5~reviews-v1-545db77b95-2ps7q.default~default.svc.cluster.local", "127.0.0.5", "reviews-v1-545db77b95-2ps7q", "default")]
    [InlineData("sidecar~::1~web.0.shop~shop.svc.cluster.local", "::1", "web.0", "shop")]
    public void Parse_ValidId_RoundTrips(string text, string ip, string pod, string ns)
    {
        var id = SidecarNodeId.Parse(text);

        Assert.Equal(IPAddress.Parse(ip), id.IpAddress);
        Assert.Equal(pod, id.PodName);
        Assert.Equal(ns, id.Namespace);
        Assert.Equal(text, id.ToString());
    }

    [Theory]
    [InlineData("sidecar~1.2.3.4~foo~bar", "is not POD.NAMESPACE")] // the bootstrap golden's test id: istiod would not find a namespace
    [InlineData("router~127.0.0.5~a.default~default.svc.cluster.local", "the type is 'router'")]
    [InlineData("sidecar~not-an-ip~a.default~default.svc.cluster.local", "is not an IP address")]
    [InlineData("sidecar~127.0.0.5~a.default~other.svc.cluster.local", "needs 'default.svc.cluster.local'")]
    [InlineData("sidecar~127.0.0.5~a.Default~Default.svc.cluster.local", "is not a DNS-1123 label")]
    [InlineData("sidecar~127.0.0.5~a_b.default~default.svc.cluster.local", "is not a DNS-1123 subdomain")]
    [InlineData("sidecar~127.0.0.5~a.default", "four '~'-separated parts")]
    [InlineData("", "four '~'-separated parts")]
    public void Parse_BadId_FailsWithReason(string text, string reason)
    {
        Assert.False(SidecarNodeId.TryParse(text, out _, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
        Assert.Contains(reason, Assert.Throws<FormatException>(() => SidecarNodeId.Parse(text)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_BadNamespace_Throws() =>
        Assert.Throws<FormatException>(() => SidecarNodeId.Create(IPAddress.Loopback, "pod", "not.a.label"));

    [Theory]
    [InlineData("MESH_ID=cluster.local", "MESH_ID", "cluster.local")]
    [InlineData("K=a=b", "K", "a=b")]
    [InlineData("EMPTY=", "EMPTY", "")]
    public void ParseMetaArgument_KeyValue_Splits(string argument, string key, string value) =>
        Assert.Equal(KeyValuePair.Create(key, value), XdsNodeOptions.ParseMetaArgument(argument));

    [Theory]
    [InlineData("novalue")]
    [InlineData("=value")]
    public void ParseMetaArgument_NoKey_Throws(string argument) =>
        Assert.Throws<FormatException>(() => XdsNodeOptions.ParseMetaArgument(argument));
}
