using System.Buffers.Binary;
using FsCheck;
using FsCheck.Fluent;
using Istio.AppSwitch.Tests.Fuzzing;

namespace Istio.AppSwitch.Interop.Tests.Fuzz;

/// <summary>
/// What a trapped connect, bind or sendto hands ax: any bytes, any length, any sa_family. The parser must answer as
/// the kernel would (EINVAL for a bad length, EAFNOSUPPORT for a family it does not route) without allocating.
/// </summary>
public sealed class SockaddrFuzzTests
{
    /// <summary>Lengths 0 to 130 (past sockaddr_storage's 128) times all 65,536 sa_family values.</summary>
    public const int ExhaustiveCases = 131 * 65536;

    /// <summary>Cases of the FsCheck property over random sockaddrs.</summary>
    public const int RandomCases = 20000;

    [Fact]
    public void TryParse_EveryLength0To130_EveryFamily_8585216Cases_KernelsAnswerAndNoAllocation()
    {
        var random = FuzzDriver.CaseRandom(FuzzDriver.Seed(5), 0);
        var buffer = new byte[130];
        random.NextBytes(buffer);
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var failures = 0;
        string? firstFailure = null;
        for (var length = 0; length <= 130; length++)
        {
            for (var family = 0; family <= ushort.MaxValue; family++)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(buffer, (ushort)family);
                var parsed = InetEndpoint.TryParse(buffer.AsSpan(0, length), out var endpoint, out var error);
                if (!Expected(buffer.AsSpan(0, length), parsed, endpoint, error))
                {
                    failures++;
                    firstFailure ??= $"length {length} family {family}: {parsed} {error} {Convert.ToHexString(buffer, 0, length)}";
                }
            }
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        Assert.True(failures == 0, $"{failures} of {ExhaustiveCases} cases wrong; the first: {firstFailure}");
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void TryParse_RandomBytesOfAnyLength_20000Cases_ParsesAsTheKernelAndWritesBack()
    {
        var inet = Gen.Elements<ushort>(0, 1, 2, 10, 16, 17, 40, 44, 0x0200, 0x0A00, 0xFFFF);
        var gen = from length in Gen.Choose(0, 130)
                  from family in Gen.OneOf(inet, Gen.Choose(0, 65535).Select(f => (ushort)f))
                  from bytes in Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b), length)
                  select (Family: family, Bytes: bytes);
        Prop.ForAll(gen.ToArbitrary(), input =>
        {
            var sockaddr = input.Bytes;
            if (sockaddr.Length >= 2)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(sockaddr, input.Family);
            }

            var parsed = InetEndpoint.TryParse(sockaddr, out var endpoint, out var error);
            Assert.True(Expected(sockaddr, parsed, endpoint, error), $"{parsed} {error} {Convert.ToHexString(sockaddr)}");
            if (parsed)
            {
                // Written back, the endpoint is the same bytes (sin_zero and a missing scope id written as zeros).
                Span<byte> written = stackalloc byte[SocketConstants.SockaddrIn6Size];
                var length = endpoint.Write(written);
                Assert.True(InetEndpoint.TryParse(written[..length], out var again, out _));
                Assert.Equal(endpoint, again);
                Assert.Equal(endpoint.FlowInfo, again.FlowInfo);
                Assert.True(written[2..8].SequenceEqual(sockaddr.AsSpan(2, 6)));
            }
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(FuzzDriver.Cases(RandomCases)));
    }

    // The kernel's rules (net/socket.c move_addr_to_kernel, then inet_stream_connect / inet6's checks): longer than
    // sockaddr_storage is EINVAL; an AF_INET sockaddr needs 16 bytes, AF_INET6 24 (RFC 2133's layout, no scope id);
    // ax redirects only those two families, so every other family is EAFNOSUPPORT to ax (the call is let through).
    private static bool Expected(ReadOnlySpan<byte> sockaddr, bool parsed, in InetEndpoint endpoint, Errno error)
    {
        if (sockaddr.Length < 2 || sockaddr.Length > SocketConstants.SockaddrStorageSize)
        {
            return !parsed && error == Errno.EINVAL;
        }

        var family = BinaryPrimitives.ReadUInt16LittleEndian(sockaddr);
        switch (family)
        {
            case SocketConstants.AF_INET when sockaddr.Length < SocketConstants.SockaddrInSize:
            case SocketConstants.AF_INET6 when sockaddr.Length < InetEndpoint.MinimumSockaddrIn6Size:
                return !parsed && error == Errno.EINVAL;
            case SocketConstants.AF_INET:
                return parsed && error == Errno.Success && endpoint.IsIPv4
                    && endpoint.Port == BinaryPrimitives.ReadUInt16BigEndian(sockaddr[2..])
                    && endpoint.AddressBytes.SequenceEqual(sockaddr.Slice(4, 4))
                    && endpoint.ScopeId == 0 && endpoint.FlowInfo == 0;
            case SocketConstants.AF_INET6:
                return parsed && error == Errno.Success && endpoint.IsIPv6
                    && endpoint.Port == BinaryPrimitives.ReadUInt16BigEndian(sockaddr[2..])
                    && endpoint.FlowInfo == BinaryPrimitives.ReadUInt32BigEndian(sockaddr[4..])
                    && endpoint.AddressBytes.SequenceEqual(sockaddr.Slice(8, 16))
                    && endpoint.ScopeId == (sockaddr.Length >= SocketConstants.SockaddrIn6Size ? BinaryPrimitives.ReadUInt32LittleEndian(sockaddr[24..]) : 0);
            default:
                return !parsed && error == Errno.EAFNOSUPPORT;
        }
    }
}
