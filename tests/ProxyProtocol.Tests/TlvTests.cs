using System.Text;

namespace Istio.AppSwitch.ProxyProtocol.Tests;

public class TlvTests
{
    [Fact]
    public void Labels_Pairs_WireFormat()
    {
        var tlv = AxTlvs.Labels([new("app", "reviews"), new("app.kubernetes.io/version", "v2")]);

        Assert.Equal(ProxyTlvType.AxLabels, tlv.Type);
        Assert.Equal("app=reviews,app.kubernetes.io/version=v2", Encoding.UTF8.GetString(tlv.Value.Span));
        Assert.Empty(AxTlvs.Labels([]).Value.ToArray());
    }

    [Theory]
    [InlineData("", "v")]
    [InlineData("a,b", "v")]
    [InlineData("a=b", "v")]
    [InlineData("a", "v,w")]
    [InlineData("a", "v=w")]
    public void Labels_BadPair_Throws(string key, string value) =>
        Assert.Throws<ArgumentException>(() => AxTlvs.Labels([new(key, value)]));

    [Fact]
    public void Labels_DuplicateKey_Throws() =>
        Assert.Throws<ArgumentException>(() => AxTlvs.Labels([new("a", "1"), new("a", "2")]));

    [Fact]
    public void Identity_WireFormat()
    {
        var tlv = AxTlvs.Identity(new AxIdentity("istio-system", "istio-ingressgateway-service-account"));

        Assert.Equal(ProxyTlvType.AxIdentity, tlv.Type);
        Assert.Equal("istio-system/istio-ingressgateway-service-account", Encoding.UTF8.GetString(tlv.Value.Span));
    }

    [Theory]
    [InlineData("", "sa")]
    [InlineData("ns", "")]
    [InlineData("a/b", "sa")]
    [InlineData("ns", "s/a")]
    public void Identity_BadPart_Throws(string ns, string serviceAccount) =>
        Assert.Throws<ArgumentException>(() => AxTlvs.Identity(new AxIdentity(ns, serviceAccount)));

    [Theory]
    [InlineData("")]
    [InlineData("http 1.1")]
    [InlineData("héllo")]
    [InlineData("0123456789012345678901234567890123456789012345678901234567890123456789")]
    public void Protocol_BadToken_Throws(string protocol) =>
        Assert.Throws<ArgumentException>(() => AxTlvs.Protocol(protocol));

    [Theory]
    [InlineData("http/1.1")]
    [InlineData("h2")]
    [InlineData("tls")]
    [InlineData("redis")]
    public void Protocol_Token_Accepted(string protocol) =>
        Assert.Equal(protocol, Encoding.ASCII.GetString(AxTlvs.Protocol(protocol).Value.Span));

    [Fact]
    public void OriginalDestinationName_Bounds()
    {
        Assert.Throws<ArgumentException>(() => AxTlvs.OriginalDestinationName(""));
        Assert.Throws<ArgumentException>(() => AxTlvs.OriginalDestinationName(new string('a', 256)));
        Assert.Equal(255, AxTlvs.OriginalDestinationName(new string('a', 255)).Value.Length);
    }

    [Fact]
    public void StandardBuilders_Validate()
    {
        Assert.Throws<ArgumentException>(() => ProxyTlv.UniqueId(new string('x', 129)));
        Assert.Throws<ArgumentException>(() => ProxyTlv.Netns("nét"));
        Assert.Equal(3, ProxyTlv.Noop(3).Value.Length);
    }

    [Fact]
    public void SslInfo_NestedSsl_Throws()
    {
        Assert.Throws<ArgumentException>(() => new ProxySslInfo(ProxySslClientFlags.Ssl, 0, [new ProxyTlv(ProxyTlvType.Ssl, new byte[5])]));
        Assert.Throws<ArgumentException>(() => ProxySslInfo.WriteValue(new byte[64], ProxySslClientFlags.Ssl, 0, [new ProxyTlv(ProxyTlvType.Ssl, new byte[5])]));
    }

    [Fact]
    public void SslInfo_WriteValue_ExactBytes()
    {
        var buffer = new byte[32];

        var length = ProxySslInfo.WriteValue(buffer, ProxySslClientFlags.Ssl, 0x01020304, [ProxyTlv.FromText(ProxyTlvType.SslVersion, "TLSv1.2")]);

        Assert.Equal(Vectors.Bytes("01 01020304 21 0007 544C5376312E32"), buffer[..length]);
        Assert.Equal(length, ProxySslInfo.GetValueLength([ProxyTlv.FromText(ProxyTlvType.SslVersion, "TLSv1.2")]));
        Assert.Throws<ArgumentException>(() => ProxySslInfo.WriteValue(buffer.AsSpan(0, length - 1), ProxySslClientFlags.Ssl, 0, [ProxyTlv.FromText(ProxyTlvType.SslVersion, "TLSv1.2")]));
    }

    [Fact]
    public void SslInfo_NotVerified_WhenVerifyNonZero()
    {
        var info = new ProxySslInfo(ProxySslClientFlags.Ssl | ProxySslClientFlags.CertificateInConnection, 1);

        Assert.False(info.IsClientCertificateVerified);
        Assert.Null(info.CommonName);
    }

    [Fact]
    public void Tlv_Equality_ByTypeAndBytes()
    {
        var a = new ProxyTlv(ProxyTlvType.Alpn, new byte[] { 1, 2 });
        var b = new ProxyTlv(ProxyTlvType.Alpn, new byte[] { 1, 2 });
        var c = new ProxyTlv(ProxyTlvType.Authority, new byte[] { 1, 2 });

        Assert.Equal(a, b);
        Assert.True(a == b);
        Assert.True(a != c);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.Equal(5, a.EncodedLength);
    }

    [Fact]
    public void CustomRange_IsCustom()
    {
        Assert.True(ProxyTlvTypeRanges.IsCustom(ProxyTlvType.AxLabels));
        Assert.True(ProxyTlvTypeRanges.IsCustom((ProxyTlvType)0xEF));
        Assert.False(ProxyTlvTypeRanges.IsCustom((ProxyTlvType)0xF0));
        Assert.False(ProxyTlvTypeRanges.IsCustom(ProxyTlvType.Ssl));
    }
}
