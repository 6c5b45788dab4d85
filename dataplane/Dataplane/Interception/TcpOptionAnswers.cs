using System.Buffers.Binary;
using System.Collections.Concurrent;
using Istio.AppSwitch.Interop;
using static Istio.AppSwitch.Interop.SocketConstants;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>
/// What <c>setsockopt</c>/<c>getsockopt</c> at level <c>IPPROTO_TCP</c> answer on an application's socket that ax
/// replaced with a Unix socket (a switched or delegated connection), where the kernel would say EOPNOTSUPP: the
/// options an application may set or read on a TCP connection succeed, with the value it set or a plausible default
/// (docs/unix-switch.md lists them). Pure: the handler reads and writes the application's memory.
/// </summary>
internal static class TcpOptionAnswers
{
    /// <summary>How many bytes of <c>struct tcp_info</c> are answered (Linux 6.x's size); all zero but the state.</summary>
    public const int TcpInfoSize = 232;

    /// <summary>TCP_CA_NAME_MAX: the length of a congestion control name, NUL included.</summary>
    public const int CongestionNameSize = 16;

    private const int TcpWindowClamp = 10;
    private const int TcpThinLinearTimeouts = 16;
    private const int TcpThinDupack = 17;
    private const int TcpEstablished = 1;

    /// <summary>The longest value a set stores.</summary>
    public const int MaxValueSize = CongestionNameSize;

    /// <summary>Whether ax answers the option; the others get ENOPROTOOPT, as an option the kernel does not know.</summary>
    public static bool IsAnswered(int name) => name is TCP_NODELAY or TCP_MAXSEG or TCP_CORK or TCP_KEEPIDLE or TCP_KEEPINTVL
        or TCP_KEEPCNT or TCP_SYNCNT or TCP_LINGER2 or TCP_DEFER_ACCEPT or TcpWindowClamp or TCP_INFO or TCP_QUICKACK
        or TCP_CONGESTION or TcpThinLinearTimeouts or TcpThinDupack or TCP_USER_TIMEOUT or TCP_FASTOPEN or TCP_NOTSENT_LOWAT
        or TCP_FASTOPEN_CONNECT;

    /// <summary>
    /// Checks a <c>setsockopt</c> as the kernel would before it stores anything, and says how many bytes of the value to
    /// keep. TCP_INFO is read-only.
    /// </summary>
    public static Errno CheckSet(int name, long optlen, out int keep)
    {
        keep = 0;
        if (!IsAnswered(name) || name == TCP_INFO)
        {
            return Errno.ENOPROTOOPT;
        }
        if (name == TCP_CONGESTION)
        {
            if (optlen < 1)
            {
                return Errno.EINVAL;
            }
            keep = (int)Math.Min(optlen, CongestionNameSize - 1);
            return Errno.Success;
        }
        if (optlen < sizeof(int))
        {
            return Errno.EINVAL;
        }
        keep = sizeof(int);
        return Errno.Success;
    }

    /// <summary>
    /// The bytes a <c>getsockopt</c> writes for <paramref name="name"/>, given the value the application set
    /// (<paramref name="stored"/>, empty when it set none) and its buffer's <paramref name="capacity"/> (<c>*optlen</c>).
    /// <paramref name="length"/> is what goes back into <c>*optlen</c>: as the kernel, the value cut to the buffer.
    /// </summary>
    public static Errno Answer(int name, ReadOnlySpan<byte> stored, int capacity, Span<byte> output, out int length)
    {
        length = 0;
        if (!IsAnswered(name))
        {
            return Errno.ENOPROTOOPT;
        }
        if (capacity < 0)
        {
            return Errno.EINVAL;
        }
        Span<byte> value = stackalloc byte[TcpInfoSize];
        value.Clear();
        int size;
        switch (name)
        {
            case TCP_INFO:
                size = TcpInfoSize;
                value[0] = TcpEstablished; // tcpi_state
                break;
            case TCP_CONGESTION:
                size = CongestionNameSize;
                (stored.IsEmpty ? "cubic"u8 : stored[..Math.Min(stored.Length, CongestionNameSize - 1)]).CopyTo(value);
                break;
            default:
                size = sizeof(int);
                BinaryPrimitives.WriteInt32LittleEndian(value, stored.Length >= sizeof(int)
                    ? NormalizeInt(name, BinaryPrimitives.ReadInt32LittleEndian(stored))
                    : DefaultInt(name));
                break;
        }
        length = Math.Min(capacity, size);
        value[..length].CopyTo(output);
        return Errno.Success;
    }

    /// <summary>The value the kernel reports on a fresh loopback connection.</summary>
    internal static int DefaultInt(int name) => name switch
    {
        TCP_MAXSEG => 65483, // the loopback MTU less the headers
        TCP_KEEPIDLE => 7200,
        TCP_KEEPINTVL => 75,
        TCP_KEEPCNT => 9,
        TCP_SYNCNT => 6,
        TCP_LINGER2 => 60,
        TCP_QUICKACK => 1,
        TcpThinDupack => 0,
        _ => 0,
    };

    /// <summary>Boolean options read back as 0 or 1, as the kernel stores them.</summary>
    private static int NormalizeInt(int name, int value) =>
        name is TCP_NODELAY or TCP_CORK or TCP_QUICKACK or TcpThinLinearTimeouts or TCP_FASTOPEN_CONNECT ? (value != 0 ? 1 : 0) : value;
}

/// <summary>The TCP options an application set on one of its Unix-socket replacements, by option name.</summary>
internal sealed class TcpOptionStore
{
    private readonly ConcurrentDictionary<int, byte[]> _values = new();

    /// <summary>Where a TCP_NODELAY set on the client's TCP socket before connect is carried over.</summary>
    public void Set(int name, ReadOnlySpan<byte> value) => _values[name] = value.ToArray();

    public ReadOnlySpan<byte> Get(int name) => _values.TryGetValue(name, out var value) ? value : default;
}
