using System.Buffers.Binary;
using Istio.AppSwitch.Dataplane.Interception;
using Istio.AppSwitch.Interop;
using static Istio.AppSwitch.Interop.SocketConstants;

namespace Istio.AppSwitch.Dataplane.Tests.Interception;

/// <summary>Which control messages ax carries on a <c>sendmsg</c> it performs for an application (docs/udp.md).</summary>
public sealed class DatagramControlTests
{
    [Theory]
    [InlineData(IPPROTO_IP, IP_PKTINFO)]
    [InlineData(IPPROTO_IP, IP_TOS)]
    [InlineData(IPPROTO_IP, IP_TTL)]
    [InlineData(IPPROTO_IPV6, IPV6_PKTINFO)]
    [InlineData(IPPROTO_IPV6, IPV6_HOPLIMIT)]
    [InlineData(IPPROTO_IPV6, IPV6_TCLASS)]
    [InlineData(IPPROTO_IPV6, IPV6_DONTFRAG)]
    [InlineData(SOL_UDP, UDP_SEGMENT)]
    public void VetControl_UnprivilegedMessage_IsCarried(int level, int type) =>
        Assert.Equal(Errno.Success, SyscallHandler.VetControl(Control((level, type, 4))));

    [Theory]
    [InlineData(SOL_SOCKET, SO_MARK)] // needs CAP_NET_ADMIN, checked against the sender: ax
    [InlineData(SOL_SOCKET, 1)] // SCM_RIGHTS
    [InlineData(IPPROTO_IPV6, 54)] // IPV6_HOPOPTS: CAP_NET_RAW
    [InlineData(IPPROTO_IP, 7)] // IP_RETOPTS
    public void VetControl_PrivilegedOrUnknownMessage_IsEperm(int level, int type) =>
        Assert.Equal(Errno.EPERM, SyscallHandler.VetControl(Control((IPPROTO_IP, IP_TOS, 4), (level, type, 4))));

    [Fact]
    public void VetControl_EmptyAndMalformed()
    {
        Assert.Equal(Errno.Success, SyscallHandler.VetControl([]));
        var bad = Control((IPPROTO_IP, IP_TOS, 4));
        BinaryPrimitives.WriteUInt64LittleEndian(bad, 1000);
        Assert.Equal(Errno.EINVAL, SyscallHandler.VetControl(bad));
    }

    private static byte[] Control(params (int Level, int Type, int Length)[] messages)
    {
        var bytes = new List<byte>();
        foreach (var (level, type, length) in messages)
        {
            var message = new byte[(16 + length + 7) & ~7];
            BinaryPrimitives.WriteUInt64LittleEndian(message, (ulong)(16 + length));
            BinaryPrimitives.WriteInt32LittleEndian(message.AsSpan(8), level);
            BinaryPrimitives.WriteInt32LittleEndian(message.AsSpan(12), type);
            bytes.AddRange(message);
        }
        return [.. bytes];
    }
}
