using System.Net;
using static Istio.AppSwitch.ProxyProtocol.Tests.Vectors;

namespace Istio.AppSwitch.ProxyProtocol.Tests;

public class ProxyV2WriterTests
{
    private static readonly IPEndPoint Client4 = new(IPAddress.Parse("127.0.0.1"), 56324);
    private static readonly IPEndPoint Server4 = new(IPAddress.Parse("127.0.0.2"), 443);

    [Fact]
    public void WriteProxy_TcpOverIPv4_ExactBytes()
    {
        var buffer = new byte[64];

        var length = ProxyV2Writer.WriteProxy(buffer, Client4, Server4, ProxyTransport.Stream);

        Assert.Equal(V2(0x21, 0x11, Inet4Block), buffer[..length]);
        Assert.Equal(length, ProxyV2Writer.GetLength(Client4, Server4));
    }

    [Fact]
    public void WriteLocal_NoTlvs_Exactly16Bytes()
    {
        var buffer = new byte[16];

        Assert.Equal(16, ProxyV2Writer.WriteLocal(buffer));
        Assert.Equal(Bytes("0D0A0D0A000D0A515549540A 20 00 0000"), buffer);
    }

    [Fact]
    public void WriteProxy_HaproxyCaptureInputs_SameBytesAsHaproxy()
    {
        // The writer puts the CRC32C first, as HAProxy does, so the same TLVs give HAProxy's exact bytes and checksum.
        var buffer = new byte[200];
        ProxyTlv[] tlvs =
        [
            ProxyTlv.Authority("example.com"),
            ProxyTlv.UniqueId("7F000009:04D2_7F00000A:0050_6B027489_0000"),
            new ProxySslInfo(ProxySslClientFlags.None, 0).ToTlv(),
        ];

        var length = ProxyV2Writer.WriteProxy(buffer, new IPEndPoint(IPAddress.Parse("127.0.0.9"), 1234),
            new IPEndPoint(IPAddress.Parse("127.0.0.10"), 80), ProxyTransport.Stream, tlvs, addCrc32c: true);

        Assert.Equal(Convert.ToHexString(Bytes(HaproxyCapture)), Convert.ToHexString(buffer, 0, length));
    }

    [Theory]
    [InlineData("127.0.0.1", "::1")]
    [InlineData("::1", "127.0.0.1")]
    public void WriteProxy_MixedFamilies_IPv4Mapped(string source, string destination)
    {
        var buffer = new byte[64];
        var sourceEndPoint = new IPEndPoint(IPAddress.Parse(source), 1);
        var destinationEndPoint = new IPEndPoint(IPAddress.Parse(destination), 2);

        var length = ProxyV2Writer.WriteProxy(buffer, sourceEndPoint, destinationEndPoint, ProxyTransport.Stream);
        var header = ProxyProtocolParser.Parse(buffer.AsSpan(0, length));

        Assert.Equal(52, length);
        Assert.Equal(ProxyAddressFamily.InterNetworkV6, header.Family);
        Assert.Equal(Map(sourceEndPoint.Address), header.Source!.Address);
        Assert.Equal(Map(destinationEndPoint.Address), header.Destination!.Address);
        Assert.Equal(1, header.Source.Port);
        Assert.Equal(2, header.Destination.Port);

        static IPAddress Map(IPAddress address) => address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? address.MapToIPv6() : address;
    }

    public static TheoryData<string, string, ProxyTransport> EndPoints => new()
    {
        { "127.0.0.1", "127.0.0.2", ProxyTransport.Stream },
        { "127.0.0.1", "127.0.0.2", ProxyTransport.Datagram },
        { "::1", "2001:db8::1", ProxyTransport.Stream },
        { "::1", "2001:db8::1", ProxyTransport.Datagram },
        { "127.0.0.1", "::1", ProxyTransport.Stream },
    };

    [Theory]
    [MemberData(nameof(EndPoints))]
    public void WriteProxy_EveryTlvKind_RoundTrips(string source, string destination, ProxyTransport transport)
    {
        var peeked = "GET / HTTP/1.1\r\n"u8.ToArray();
        var ssl = new ProxySslInfo(ProxySslClientFlags.Ssl | ProxySslClientFlags.CertificateInConnection, 0,
        [
            ProxyTlv.FromText(ProxyTlvType.SslVersion, "TLSv1.3"),
            ProxyTlv.FromText(ProxyTlvType.SslCommonName, "reviews.bookinfo"),
            ProxyTlv.FromText(ProxyTlvType.SslCipher, "TLS_AES_256_GCM_SHA384"),
            ProxyTlv.FromText(ProxyTlvType.SslSignatureAlgorithm, "ECDSA-SHA256"),
            ProxyTlv.FromText(ProxyTlvType.SslKeyAlgorithm, "EC256"),
            new((ProxyTlvType)0x26, new byte[] { 1, 2 }),
        ]);
        ProxyTlv[] tlvs =
        [
            ProxyTlv.Alpn("h2"),
            ProxyTlv.Authority("reviews.bookinfo.svc.cluster.local"),
            ProxyTlv.Noop(3),
            ProxyTlv.UniqueId(new byte[128]),
            ssl.ToTlv(),
            ProxyTlv.Netns("blue"),
            AxTlvs.Labels([new("app", "reviews"), new("version", "v1"), new("empty", "")]),
            AxTlvs.Identity(new AxIdentity("bookinfo", "bookinfo-reviews")),
            AxTlvs.OriginalDestinationName("ratings.bookinfo.svc.cluster.local"),
            AxTlvs.Protocol("http/1.1"),
            AxTlvs.PeekedBytes(peeked),
            new((ProxyTlvType)0xEF, new byte[] { 0xAB }),
            new((ProxyTlvType)0xF0, ReadOnlyMemory<byte>.Empty),
        ];
        var sourceEndPoint = new IPEndPoint(IPAddress.Parse(source), 40000);
        var destinationEndPoint = new IPEndPoint(IPAddress.Parse(destination), 9080);
        var buffer = new byte[ProxyV2Writer.GetLength(sourceEndPoint, destinationEndPoint, tlvs, addCrc32c: true)];

        var length = ProxyV2Writer.WriteProxy(buffer, sourceEndPoint, destinationEndPoint, transport, tlvs, addCrc32c: true);
        var header = ProxyProtocolParser.Parse(buffer);

        Assert.Equal(buffer.Length, length);
        Assert.Equal(length, header.Length);
        Assert.Equal(transport, header.Transport);
        Assert.True(header.HasChecksum);
        Assert.Equal([ProxyTlvType.Crc32c, .. tlvs.Select(t => t.Type)], header.Tlvs.Select(t => t.Type));
        Assert.Equal(tlvs, header.Tlvs.Skip(1));
        Assert.Equal("h2", header.Alpn);
        Assert.Equal("reviews.bookinfo.svc.cluster.local", header.Authority);
        Assert.Equal(new byte[128], header.UniqueId!.Value.ToArray());
        Assert.Equal("blue", header.Netns);
        Assert.Equal(ssl.Client, header.Ssl!.Client);
        Assert.Equal(ssl.SubTlvs, header.Ssl.SubTlvs);
        Assert.Equal("reviews.bookinfo", header.Ssl.CommonName);
        Assert.Equal([new("app", "reviews"), new("version", "v1"), new("empty", "")], header.AxLabels!);
        Assert.Equal(new AxIdentity("bookinfo", "bookinfo-reviews"), header.AxIdentity);
        Assert.Equal("ratings.bookinfo.svc.cluster.local", header.AxOriginalDestinationName);
        Assert.Equal("http/1.1", header.AxProtocol);
        Assert.Equal(peeked, header.AxPeekedBytes!.Value.ToArray());
    }

    [Fact]
    public void WriteProxyUnix_Paths_RoundTrip()
    {
        var buffer = new byte[300];

        var length = ProxyV2Writer.WriteProxyUnix(buffer, "/run/a.sock"u8, "\0abstract"u8, ProxyTransport.Datagram,
            [ProxyTlv.Alpn("x")], addCrc32c: true);
        var header = ProxyProtocolParser.Parse(buffer.AsSpan(0, length));

        Assert.Equal(16 + 216 + 7 + 4, length);
        Assert.Equal(ProxyAddressFamily.Unix, header.Family);
        Assert.Equal(ProxyTransport.Datagram, header.Transport);
        Assert.Equal("/run/a.sock", header.SourceUnixPath);
        Assert.Equal("", header.DestinationUnixPath);
        Assert.Equal("\0abstract"u8.ToArray(), header.DestinationUnixAddress.Span[..9].ToArray());
        Assert.Equal("x", header.Alpn);
    }

    [Fact]
    public void WriteLocal_WithTlvsAndChecksum_RoundTrips()
    {
        var buffer = new byte[64];

        var length = ProxyV2Writer.WriteLocal(buffer, [ProxyTlv.UniqueId("check")], addCrc32c: true);
        var header = ProxyProtocolParser.Parse(buffer.AsSpan(0, length));

        Assert.True(header.IsLocal);
        Assert.True(header.HasChecksum);
        Assert.Equal("check", header.UniqueIdText);
    }

    [Fact]
    public void WriteProxy_SpanAddresses_SameAsEndPoints()
    {
        var fromSpans = new byte[64];
        var fromEndPoints = new byte[64];

        var length = ProxyV2Writer.WriteProxy(fromSpans, [127, 0, 0, 1], 56324, [127, 0, 0, 2], 443, ProxyTransport.Stream);
        ProxyV2Writer.WriteProxy(fromEndPoints, Client4, Server4, ProxyTransport.Stream);

        Assert.Equal(fromEndPoints, fromSpans);
        Assert.Equal(28, length);
        Assert.Equal(28, ProxyV2Writer.GetLength([127, 0, 0, 1], [127, 0, 0, 2]));
    }

    [Fact]
    public void WriteProxy_DestinationTooSmall_Throws()
    {
        var buffer = new byte[27];

        Assert.Throws<ArgumentException>(() => ProxyV2Writer.WriteProxy(buffer, Client4, Server4, ProxyTransport.Stream));
        Assert.Throws<ArgumentException>(() => ProxyV2Writer.WriteLocal(buffer.AsSpan(0, 15)));
    }

    [Fact]
    public void WriteProxy_BadArguments_Throw()
    {
        var buffer = new byte[1024];

        Assert.Throws<ArgumentException>(() => ProxyV2Writer.WriteProxy(buffer, [1, 2, 3], 1, [127, 0, 0, 1], 2, ProxyTransport.Stream));
        Assert.Throws<ArgumentException>(() => ProxyV2Writer.WriteProxy(buffer, Client4, Server4, ProxyTransport.Unspecified));
        Assert.Throws<ArgumentException>(() => ProxyV2Writer.WriteProxy(buffer, Client4, Server4, ProxyTransport.Stream,
            [new ProxyTlv(ProxyTlvType.Crc32c, new byte[4])]));
        Assert.Throws<ArgumentException>(() => ProxyV2Writer.WriteProxy(buffer, Client4, Server4, ProxyTransport.Stream,
            [new ProxyTlv(ProxyTlvType.UniqueId, new byte[129])]));
        Assert.Throws<ArgumentException>(() => ProxyV2Writer.WriteProxyUnix(buffer, new byte[109], "/x"u8, ProxyTransport.Stream));
        Assert.Throws<ArgumentException>(() => ProxyV2Writer.GetLength(ProxyAddressFamily.InterNetwork,
            [new ProxyTlv(ProxyTlvType.Noop, new byte[65535])]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ProxyTlv(ProxyTlvType.Noop, new byte[65536]));
    }

    [Fact]
    public void WriteProxy_HotPath_AllocatesNothing()
    {
        // The daemon builds its TLVs once and writes a header per connection: that must not allocate.
        ProxyTlv[] tlvs =
        [
            AxTlvs.Identity(new AxIdentity("default", "sleep")),
            AxTlvs.Labels([new("app", "sleep")]),
            AxTlvs.Protocol("h2"),
            ProxyTlv.UniqueId("0123456789abcdef"),
        ];
        var buffer = new byte[256];
        var source = new byte[] { 127, 0, 0, 1 };
        var destination = new byte[16];
        destination[15] = 1;
        var endPoint = new IPEndPoint(IPAddress.Loopback, 1);
        Write();

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            Write();
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);

        void Write()
        {
            ProxyV2Writer.WriteProxy(buffer, source, 40000, destination, 80, ProxyTransport.Stream, tlvs, addCrc32c: true);
            ProxyV2Writer.WriteProxy(buffer, endPoint, endPoint, ProxyTransport.Stream, tlvs, addCrc32c: true);
            ProxyV2Writer.WriteLocal(buffer, tlvs, addCrc32c: true);
            ProxyV2Writer.GetLength(source, destination, tlvs, addCrc32c: true);
        }
    }
}
