using System.Buffers.Binary;

namespace Istio.AppSwitch.Sniffing;

/// <summary>Big-endian reads over a span that report running out instead of throwing: every length in a ClientHello
/// comes from the peer.</summary>
internal ref struct SpanReader(ReadOnlySpan<byte> data)
{
    private ReadOnlySpan<byte> _rest = data;

    public readonly int Remaining => _rest.Length;

    public bool TryReadByte(out byte value)
    {
        if (_rest.IsEmpty)
        {
            value = 0;
            return false;
        }

        value = _rest[0];
        _rest = _rest[1..];
        return true;
    }

    public bool TryReadUInt16(out ushort value)
    {
        if (!BinaryPrimitives.TryReadUInt16BigEndian(_rest, out value))
        {
            return false;
        }

        _rest = _rest[2..];
        return true;
    }

    public bool TryReadSlice(int length, out ReadOnlySpan<byte> slice)
    {
        if ((uint)length > (uint)_rest.Length)
        {
            slice = default;
            return false;
        }

        slice = _rest[..length];
        _rest = _rest[length..];
        return true;
    }

    public bool TrySkip(int length) => TryReadSlice(length, out _);
}
