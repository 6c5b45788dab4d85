namespace Istio.AppSwitch.Interop;

/// <summary>Linux socket, fcntl and message constants (x86_64 values; see socket(7), ip(7), tcp(7), fcntl(2)).</summary>
public static class SocketConstants
{
#pragma warning disable CS1591 // The names are the C names.
    public const int AF_UNSPEC = 0;
    public const int AF_UNIX = 1;
    public const int AF_INET = 2;
    public const int AF_INET6 = 10;
    public const int AF_NETLINK = 16;

    public const int SOCK_STREAM = 1;
    public const int SOCK_DGRAM = 2;
    public const int SOCK_RAW = 3;
    public const int SOCK_SEQPACKET = 5;
    public const int SOCK_NONBLOCK = 0x800;
    public const int SOCK_CLOEXEC = 0x80000;
    /// <summary>Mask of the type bits in the type argument of socket(2), without SOCK_NONBLOCK/SOCK_CLOEXEC.</summary>
    public const int SOCK_TYPE_MASK = 0xf;

    public const int SOL_SOCKET = 1;
    public const int IPPROTO_IP = 0;
    public const int SOL_IP = 0;
    public const int IPPROTO_TCP = 6;
    public const int SOL_TCP = 6;
    public const int IPPROTO_UDP = 17;
    public const int IPPROTO_IPV6 = 41;
    public const int SOL_IPV6 = 41;

    public const int SO_DEBUG = 1;
    public const int SO_REUSEADDR = 2;
    public const int SO_TYPE = 3;
    public const int SO_ERROR = 4;
    public const int SO_DONTROUTE = 5;
    public const int SO_BROADCAST = 6;
    public const int SO_SNDBUF = 7;
    public const int SO_RCVBUF = 8;
    public const int SO_KEEPALIVE = 9;
    public const int SO_OOBINLINE = 10;
    public const int SO_PRIORITY = 12;
    public const int SO_LINGER = 13;
    public const int SO_REUSEPORT = 15;
    public const int SO_PASSCRED = 16;
    public const int SO_PEERCRED = 17;
    public const int SO_RCVLOWAT = 18;
    public const int SO_SNDLOWAT = 19;
    public const int SO_RCVTIMEO = 20;
    public const int SO_SNDTIMEO = 21;
    public const int SO_BINDTODEVICE = 25;
    public const int SO_ACCEPTCONN = 30;
    public const int SO_MARK = 36;
    public const int SO_PROTOCOL = 38;
    public const int SO_DOMAIN = 39;

    public const int IP_TOS = 1;
    public const int IP_TTL = 2;
    public const int IP_PKTINFO = 8;
    public const int IP_FREEBIND = 15;
    public const int IP_TRANSPARENT = 19;
    public const int IP_BIND_ADDRESS_NO_PORT = 24;
    /// <summary>SOL_IP option of netfilter's REDIRECT target; listed because proxies query it.</summary>
    public const int SO_ORIGINAL_DST = 80;
    public const int IPV6_V6ONLY = 26;
    public const int IPV6_TCLASS = 67;
    public const int IPV6_PKTINFO = 50;
    public const int IPV6_HOPLIMIT = 52;
    public const int IPV6_DONTFRAG = 62;

    /// <summary>SOL_UDP: the level of UDP's own options and control messages.</summary>
    public const int SOL_UDP = 17;
    /// <summary>UDP GSO: a sendmsg control message that splits one buffer into datagrams of the given size.</summary>
    public const int UDP_SEGMENT = 103;

    public const int TCP_NODELAY = 1;
    public const int TCP_MAXSEG = 2;
    public const int TCP_CORK = 3;
    public const int TCP_KEEPIDLE = 4;
    public const int TCP_KEEPINTVL = 5;
    public const int TCP_KEEPCNT = 6;
    public const int TCP_SYNCNT = 7;
    public const int TCP_LINGER2 = 8;
    public const int TCP_DEFER_ACCEPT = 9;
    public const int TCP_INFO = 11;
    public const int TCP_QUICKACK = 12;
    public const int TCP_CONGESTION = 13;
    public const int TCP_USER_TIMEOUT = 18;
    public const int TCP_FASTOPEN = 23;
    public const int TCP_NOTSENT_LOWAT = 25;
    public const int TCP_FASTOPEN_CONNECT = 30;

    public const int SHUT_RD = 0;
    public const int SHUT_WR = 1;
    public const int SHUT_RDWR = 2;

    public const int MSG_OOB = 0x1;
    public const int MSG_PEEK = 0x2;
    public const int MSG_CTRUNC = 0x8;
    public const int MSG_TRUNC = 0x20;
    public const int MSG_DONTWAIT = 0x40;
    public const int MSG_WAITALL = 0x100;
    public const int MSG_NOSIGNAL = 0x4000;
    public const int MSG_CMSG_CLOEXEC = 0x40000000;

    public const int SCM_RIGHTS = 1;
    public const int SCM_CREDENTIALS = 2;

    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;
    public const int FD_CLOEXEC = 1;

    public const int SOMAXCONN = 4096;

    /// <summary>sizeof(struct sockaddr_in).</summary>
    public const int SockaddrInSize = 16;
    /// <summary>sizeof(struct sockaddr_in6).</summary>
    public const int SockaddrIn6Size = 28;
    /// <summary>sizeof(struct sockaddr_un).</summary>
    public const int SockaddrUnSize = 110;
    /// <summary>sizeof(struct sockaddr_storage): the kernel rejects longer addresses with EINVAL.</summary>
    public const int SockaddrStorageSize = 128;
#pragma warning restore CS1591
}
