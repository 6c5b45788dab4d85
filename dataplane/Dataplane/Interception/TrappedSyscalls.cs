using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>
/// The calls the seccomp filter of <c>ax run</c> traps. Everything else runs in the kernel untouched, so each
/// entry here puts that call of every application on the daemon's path: add one only for a feature that needs it.
/// </summary>
public static class TrappedSyscalls
{
    /// <summary>
    /// connect, bind, listen, getsockname, getpeername, and accept/accept4 (inbound policy). An accept by an app that no
    /// inbound policy selects costs one round trip to the daemon and a CONTINUE.
    /// </summary>
    public static ReadOnlySpan<int> All =>
    [
        SyscallNumbers.Connect, SyscallNumbers.Bind, SyscallNumbers.Listen,
        SyscallNumbers.GetSockName, SyscallNumbers.GetPeerName,
        SyscallNumbers.Accept, SyscallNumbers.Accept4,
    ];

    /// <summary>
    /// Calls trapped only when an argument says ax may have to act: the filter tests the argument in the kernel, so
    /// the same call made otherwise (a <c>sendto</c> with no address, which is a TCP send) never reaches the daemon.
    /// </summary>
    /// <remarks>
    /// <c>sendto</c> with a destination (arg 4) and <c>recvfrom</c> with a source buffer (arg 4): the UDP calls that
    /// name a peer (docs/udp.md). A TCP send or receive, and a connected UDP socket's, pass NULL there and stay in the
    /// kernel. <c>sendmsg</c>/<c>recvmsg</c> carry the address inside <c>struct msghdr</c>, which the filter cannot
    /// read, so they are not trapped: a connected UDP socket needs neither.
    /// <para><c>setsockopt</c>/<c>getsockopt</c> at level <c>IPPROTO_TCP</c>: on a Unix socket that ax installed in place of a
    /// TCP one (a switched or delegated connection, docs/unix-switch.md) ax answers them; SOL_SOCKET and the rest
    /// never leave the kernel.</para>
    /// </remarks>
    public static ReadOnlySpan<ArgumentTrap> WhenArgument => SendToTraps;

    /// <summary>
    /// The argument traps for an application launched with <c>ax run --udp MODE</c> (docs/udp.md): <see cref="WhenArgument"/>
    /// for the default, fewer for <see cref="UdpInterception.Connect"/>, and every <c>sendmsg</c>/<c>recvmsg</c> as well
    /// for <see cref="UdpInterception.Message"/>.
    /// </summary>
    public static ReadOnlySpan<ArgumentTrap> WhenArgumentFor(UdpInterception udp) => udp switch
    {
        UdpInterception.Connect => ConnectOnlyTraps,
        UdpInterception.Message => MessageTraps,
        _ => SendToTraps,
    };

    private static readonly ArgumentTrap[] ConnectOnlyTraps =
    [
        new(SyscallNumbers.SetSockOpt, 1, ArgumentCondition.Equal, SocketConstants.IPPROTO_TCP),
        new(SyscallNumbers.GetSockOpt, 1, ArgumentCondition.Equal, SocketConstants.IPPROTO_TCP),
    ];

    private static readonly ArgumentTrap[] SendToTraps =
    [
        new(SyscallNumbers.SendTo, 4, ArgumentCondition.NonZero),
        new(SyscallNumbers.RecvFrom, 4, ArgumentCondition.NonZero),
        .. ConnectOnlyTraps,
    ];

    // The msghdr pointer is never NULL in a call that works, so these trap every sendmsg and recvmsg: the filter cannot
    // see msg_name behind it.
    private static readonly ArgumentTrap[] MessageTraps =
    [
        .. SendToTraps,
        new(SyscallNumbers.SendMsg, 1, ArgumentCondition.NonZero),
        new(SyscallNumbers.RecvMsg, 1, ArgumentCondition.NonZero),
    ];
}

/// <summary>
/// Which UDP calls of an application ax traps (<c>ax run --udp MODE</c>, docs/udp.md). Each mode traps what the one before
/// it does, and more: the more an application's datagrams name their peer in each call, the more of its calls ax sees.
/// </summary>
public enum UdpInterception
{
    /// <summary>
    /// <c>sendto</c>/<c>recvfrom</c> with an address, besides <c>connect</c>: unconnected sockets that use them reach VIPs.
    /// The default.
    /// </summary>
    SendTo,

    /// <summary>Only <c>connect</c>: connected UDP sockets reach VIPs, and no datagram is ever trapped (UDP servers).</summary>
    Connect,

    /// <summary>Also every <c>sendmsg</c> and <c>recvmsg</c>: unconnected sockets that use them reach VIPs too.</summary>
    Message,
}
