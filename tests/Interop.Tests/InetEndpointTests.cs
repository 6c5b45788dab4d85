using System.Net;

namespace Istio.AppSwitch.Interop.Tests;

public sealed class InetEndpointTests
{
    public static TheoryData<string> Endpoints => new()
    {
        "127.0.0.1:80",
        "127.96.0.1:9",
        "0.0.0.0:0",
        "255.255.255.255:65535",
        "[::1]:80",
        "[::]:443",
        "[fe80::1%7]:8080",
        "[::ffff:127.0.0.1]:15001",
        "[2001:db8::abcd]:1",
    };

    [Theory]
    [MemberData(nameof(Endpoints))]
    public void WriteThenTryParse_AnyEndpoint_RoundTrips(string text)
    {
        var ipEndPoint = IPEndPoint.Parse(text);
        InetEndpoint endpoint = InetEndpoint.FromIPEndPoint(ipEndPoint);
        Span<byte> sockaddr = stackalloc byte[SocketConstants.SockaddrStorageSize];

        int length = endpoint.Write(sockaddr);
        bool parsed = InetEndpoint.TryParse(sockaddr[..length], out InetEndpoint back, out Errno error);

        Assert.True(parsed);
        Assert.Equal(Errno.Success, error);
        Assert.Equal(endpoint, back);
        Assert.Equal(ipEndPoint, back.ToIPEndPoint());
        Assert.Equal(ipEndPoint.ToString(), back.ToString());
        Assert.Equal(ipEndPoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 16 : 28, length);
        Assert.Equal(ipEndPoint.Address.GetAddressBytes(), back.AddressBytes.ToArray());
    }

    [Fact]
    public void Write_IPv4_MatchesSockaddrInLayout()
    {
        var endpoint = InetEndpoint.FromIPEndPoint(IPEndPoint.Parse("127.96.0.1:9"));
        Span<byte> sockaddr = stackalloc byte[32];
        sockaddr.Fill(0xAA);

        Assert.Equal(16, endpoint.Write(sockaddr));
        // sin_family (host order), sin_port (network order), sin_addr, then 8 zero bytes of sin_zero.
        Assert.Equal(new byte[] { 2, 0, 0, 9, 127, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0 }, sockaddr[..16].ToArray());
        Assert.Equal(0xAA, sockaddr[16]);
    }

    [Fact]
    public void Write_IPv6_MatchesSockaddrIn6Layout()
    {
        var endpoint = new InetEndpoint(IPAddress.Parse("fe80::1").GetAddressBytes(), 0x1234, scopeId: 0x01020304, flowInfo: 0x000abcde);
        Span<byte> sockaddr = stackalloc byte[28];

        Assert.Equal(28, endpoint.Write(sockaddr));
        Assert.Equal(new byte[] { 10, 0, 0x12, 0x34, 0, 0x0a, 0xbc, 0xde }, sockaddr[..8].ToArray());
        Assert.Equal(IPAddress.Parse("fe80::1").GetAddressBytes(), sockaddr[8..24].ToArray());
        Assert.Equal(new byte[] { 4, 3, 2, 1 }, sockaddr[24..28].ToArray());
        Assert.True(InetEndpoint.TryParse(sockaddr, out InetEndpoint back, out _));
        Assert.Equal(0x000abcdeu, back.FlowInfo);
        Assert.Equal(0x01020304u, back.ScopeId);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void TryParse_ShorterThanFamily_Einval(int length)
    {
        Assert.False(InetEndpoint.TryParse(new byte[length], out _, out Errno error));
        Assert.Equal(Errno.EINVAL, error);
    }

    [Fact]
    public void TryParse_EveryLengthOfEachFamily_EinvalBelowMinimumSuccessFromIt()
    {
        for (int length = 2; length <= SocketConstants.SockaddrStorageSize + 1; length++)
        {
            var v4 = new byte[length];
            v4[0] = SocketConstants.AF_INET;
            bool v4Parsed = InetEndpoint.TryParse(v4, out _, out Errno v4Error);
            Assert.Equal(length is >= 16 and <= 128, v4Parsed);
            Assert.Equal(v4Parsed ? Errno.Success : Errno.EINVAL, v4Error);

            var v6 = new byte[length];
            v6[0] = SocketConstants.AF_INET6;
            if (length >= 28)
            {
                v6[24] = 5;
            }

            // 24 bytes (RFC 2133, no sin6_scope_id) is accepted by the kernel, with scope id 0.
            bool v6Parsed = InetEndpoint.TryParse(v6, out InetEndpoint endpoint, out Errno v6Error);
            Assert.Equal(length is >= 24 and <= 128, v6Parsed);
            Assert.Equal(v6Parsed ? Errno.Success : Errno.EINVAL, v6Error);
            if (v6Parsed)
            {
                Assert.Equal(length >= 28 ? 5u : 0u, endpoint.ScopeId);
            }
        }
    }

    [Theory]
    [InlineData(SocketConstants.AF_UNSPEC)]
    [InlineData(SocketConstants.AF_UNIX)]
    [InlineData(SocketConstants.AF_NETLINK)]
    [InlineData(17)]
    [InlineData(0xffff)]
    public void TryParse_OtherFamilies_Eafnosupport(int family)
    {
        var sockaddr = new byte[SocketConstants.SockaddrIn6Size];
        sockaddr[0] = (byte)family;
        sockaddr[1] = (byte)(family >> 8);

        Assert.False(InetEndpoint.TryParse(sockaddr, out InetEndpoint endpoint, out Errno error));
        Assert.Equal(Errno.EAFNOSUPPORT, error);
        Assert.Equal(default, endpoint);
    }

    [Fact]
    public void TryParse_OtherFamilyButTooLong_EinvalFirst()
    {
        var sockaddr = new byte[SocketConstants.SockaddrStorageSize + 1];
        sockaddr[0] = SocketConstants.AF_UNIX;

        Assert.False(InetEndpoint.TryParse(sockaddr, out _, out Errno error));
        Assert.Equal(Errno.EINVAL, error);
    }

    [Theory]
    [InlineData("127.0.0.1:1", true, false, false)]
    [InlineData("127.255.0.9:1", true, false, false)]
    [InlineData("128.0.0.1:1", false, false, false)]
    [InlineData("0.0.0.0:1", false, true, false)]
    [InlineData("[::1]:1", true, false, false)]
    [InlineData("[::]:1", false, true, false)]
    [InlineData("[::2]:1", false, false, false)]
    [InlineData("[::ffff:127.0.0.1]:1", true, false, true)]
    [InlineData("[::ffff:10.0.0.1]:1", false, false, true)]
    public void Classification_KnownAddresses_AsTheKernelRoutesThem(string text, bool loopback, bool any, bool mapped)
    {
        InetEndpoint endpoint = InetEndpoint.FromIPEndPoint(IPEndPoint.Parse(text));

        Assert.Equal(loopback, endpoint.IsLoopback);
        Assert.Equal(any, endpoint.IsAnyAddress);
        Assert.Equal(mapped, endpoint.IsIPv4MappedIPv6);
    }

    [Fact]
    public void Default_HasNoFamily_ClassifiesAsNothingAndRefusesToWrite()
    {
        InetEndpoint endpoint = default;

        Assert.Equal(0, endpoint.Family);
        Assert.False(endpoint.IsLoopback);
        Assert.False(endpoint.IsAnyAddress);
        Assert.True(endpoint.AddressBytes.IsEmpty);
        Assert.Equal("(none)", endpoint.ToString());
        Assert.Throws<InvalidOperationException>(() => endpoint.Write(new byte[32]));
    }

    [Fact]
    public void WithPortAndWithAddressOf_ChangeOnlyTheirPart()
    {
        InetEndpoint vip = InetEndpoint.FromIPEndPoint(IPEndPoint.Parse("127.96.0.1:9"));
        InetEndpoint server = InetEndpoint.FromIPEndPoint(IPEndPoint.Parse("[fe80::1%3]:8080"));

        Assert.Equal(IPEndPoint.Parse("127.96.0.1:80"), vip.WithPort(80).ToIPEndPoint());
        InetEndpoint moved = vip.WithAddressOf(server);
        Assert.Equal(SocketConstants.AF_INET6, moved.Family);
        Assert.Equal(3u, moved.ScopeId);
        Assert.Equal((ushort)9, moved.Port);
        Assert.Equal("[fe80::1%3]:9", moved.ToString());
    }

    [Fact]
    public void MapToIPv6ThenMapToIPv4_RoundTrips()
    {
        InetEndpoint v4 = InetEndpoint.FromIPEndPoint(IPEndPoint.Parse("127.96.0.1:9"));

        InetEndpoint mapped = v4.MapToIPv6();

        Assert.True(mapped.IsIPv4MappedIPv6);
        Assert.Equal("[::ffff:127.96.0.1]:9", mapped.ToString());
        Assert.Equal(v4, mapped.MapToIPv4());
        Assert.NotEqual(v4, mapped);
    }

    [Fact]
    public void Equality_IgnoresFlowInfoButNotScope()
    {
        byte[] address = IPAddress.IPv6Loopback.GetAddressBytes();

        Assert.Equal(new InetEndpoint(address, 1, 0, flowInfo: 1), new InetEndpoint(address, 1, 0, flowInfo: 2));
        Assert.Equal(new InetEndpoint(address, 1, 0, 1).GetHashCode(), new InetEndpoint(address, 1, 0, 2).GetHashCode());
        Assert.NotEqual(new InetEndpoint(address, 1, scopeId: 1), new InetEndpoint(address, 1, scopeId: 2));
        Assert.True(new InetEndpoint(address, 1) == new InetEndpoint(address, 1));
        Assert.True(new InetEndpoint(address, 1) != new InetEndpoint(address, 2));
    }

    [Fact]
    public void Constructor_WrongAddressLength_Throws()
    {
        Assert.Throws<ArgumentException>(() => new InetEndpoint(new byte[5], 1));
        Assert.Throws<ArgumentException>(() => new InetEndpoint(new byte[4], 1, scopeId: 1));
        Assert.Throws<ArgumentException>(() => InetEndpoint.FromIPEndPoint(IPEndPoint.Parse("127.0.0.1:1")).Write(new byte[15]));
    }

    [Fact]
    public void CopyAddressTo_IPv4_CopiesFourBytes()
    {
        InetEndpoint endpoint = InetEndpoint.FromIPEndPoint(IPEndPoint.Parse("127.96.0.1:9"));
        Span<byte> destination = stackalloc byte[16];

        Assert.Equal(4, endpoint.CopyAddressTo(destination));
        Assert.Equal(new byte[] { 127, 96, 0, 1 }, destination[..4].ToArray());
        Assert.Equal(IPAddress.Parse("127.96.0.1"), endpoint.Address);
    }
}
