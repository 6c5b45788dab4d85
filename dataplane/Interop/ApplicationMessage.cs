using System.Buffers.Binary;

namespace Istio.AppSwitch.Interop;

/// <summary>
/// An application's <c>struct msghdr</c>, as read from its memory for a trapped <c>sendmsg</c>/<c>recvmsg</c>: the
/// pointers are addresses in the application, never dereferenced here. The layout is x86_64's (56 bytes).
/// </summary>
/// <param name="Name"><c>msg_name</c>: the peer's sockaddr, or 0.</param>
/// <param name="NameLength"><c>msg_namelen</c>.</param>
/// <param name="IoVectors"><c>msg_iov</c>: an array of <c>struct iovec</c>.</param>
/// <param name="IoVectorCount"><c>msg_iovlen</c>.</param>
/// <param name="Control"><c>msg_control</c>.</param>
/// <param name="ControlLength"><c>msg_controllen</c>.</param>
public readonly record struct ApplicationMessage(ulong Name, uint NameLength, ulong IoVectors, ulong IoVectorCount, ulong Control, ulong ControlLength)
{
    /// <summary>sizeof(struct msghdr).</summary>
    public const int Size = Interop.StructSizes.MsgHdr;

    /// <summary>sizeof(struct iovec).</summary>
    public const int IoVectorSize = 16;

    /// <summary>The kernel's UIO_MAXIOV: a <c>sendmsg</c> with more vectors fails with EMSGSIZE.</summary>
    public const int MaxIoVectors = 1024;

    /// <summary>Where <c>msg_namelen</c> is, from the start of the struct: the kernel writes the source's length there.</summary>
    public const int NameLengthOffset = 8;

    /// <summary>Where <c>msg_controllen</c> is: the kernel writes the length of the control data it received there.</summary>
    public const int ControlLengthOffset = 40;

    /// <summary>Where <c>msg_flags</c> is: the kernel writes the received message's flags (MSG_TRUNC, MSG_CTRUNC) there.</summary>
    public const int FlagsOffset = 48;

    /// <summary>Reads the fields from the struct's bytes. False when fewer than <see cref="Size"/> bytes are given.</summary>
    public static bool TryParse(ReadOnlySpan<byte> bytes, out ApplicationMessage message)
    {
        if (bytes.Length < Size)
        {
            message = default;
            return false;
        }
        message = new ApplicationMessage(
            BinaryPrimitives.ReadUInt64LittleEndian(bytes),
            BinaryPrimitives.ReadUInt32LittleEndian(bytes[NameLengthOffset..]),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes[16..]),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes[24..]),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes[32..]),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes[ControlLengthOffset..]));
        return true;
    }

    /// <summary>
    /// The total length of the <c>struct iovec</c> array <paramref name="vectors"/> (raw, as read from the application),
    /// saturated at <see cref="int.MaxValue"/>. False when the array is not whole vectors or a length is negative as
    /// an ssize_t (the kernel's EINVAL).
    /// </summary>
    public static bool TryGetTotalLength(ReadOnlySpan<byte> vectors, out int total)
    {
        total = 0;
        if (vectors.Length % IoVectorSize != 0)
        {
            return false;
        }
        long sum = 0;
        for (var offset = 0; offset < vectors.Length; offset += IoVectorSize)
        {
            var length = BinaryPrimitives.ReadUInt64LittleEndian(vectors[(offset + 8)..]);
            if (length > long.MaxValue)
            {
                return false;
            }
            sum = Math.Min(sum + (long)Math.Min(length, int.MaxValue), int.MaxValue);
        }
        total = (int)sum;
        return true;
    }
}

/// <summary>
/// Walks the control messages (<c>struct cmsghdr</c> and its data, each aligned to 8 bytes) of a control buffer, as
/// CMSG_FIRSTHDR/CMSG_NXTHDR do. Pure: used to decide which control messages ax may send on an application's behalf.
/// </summary>
public ref struct ControlMessageReader(ReadOnlySpan<byte> control)
{
    private readonly ReadOnlySpan<byte> _control = control;
    private int _offset;

    /// <summary>Set when reading stopped at a header that claims a length shorter than itself or past the buffer (the kernel's EINVAL).</summary>
    public bool Malformed { get; private set; }

    /// <summary>False once the buffer holds no further whole header (see <see cref="Malformed"/>).</summary>
    /// <param name="level">cmsg_level.</param>
    /// <param name="type">cmsg_type.</param>
    /// <param name="data">The message's data (cmsg_len less the header).</param>
    public bool TryRead(out int level, out int type, out ReadOnlySpan<byte> data)
    {
        level = type = 0;
        data = default;
        const int header = Interop.StructSizes.CMsgHdr;
        if (_offset + header > _control.Length)
        {
            return false;
        }
        var length = BinaryPrimitives.ReadUInt64LittleEndian(_control[_offset..]);
        if (length < header || length > (ulong)(_control.Length - _offset))
        {
            Malformed = true;
            return false;
        }
        level = BinaryPrimitives.ReadInt32LittleEndian(_control[(_offset + 8)..]);
        type = BinaryPrimitives.ReadInt32LittleEndian(_control[(_offset + 12)..]);
        data = _control.Slice(_offset + header, (int)length - header);
        _offset += (int)((length + 7) & ~7UL);
        return true;
    }
}
