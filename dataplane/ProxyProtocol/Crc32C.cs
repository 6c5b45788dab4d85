using System.Buffers.Binary;
using System.Numerics;

namespace Istio.AppSwitch.ProxyProtocol;

/// <summary>
/// CRC32C (Castagnoli, reflected polynomial 0x82F63B78) as RFC 4960 appendix B defines it, which PP2_TYPE_CRC32C
/// uses. <see cref="BitOperations.Crc32C(uint, ulong)"/> is in the base library and uses the SSE4.2/ARM CRC
/// instruction where there is one (a table otherwise), so no package (System.IO.Hashing is not in the shared
/// framework) and no table of our own are needed.
/// </summary>
internal static class Crc32C
{
    /// <summary>The initial value of a running CRC.</summary>
    public const uint Seed = 0xFFFF_FFFF;

    /// <summary>The CRC32C of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Finish(Append(Seed, data));

    /// <summary>Feeds <paramref name="data"/> into a running CRC that started at <see cref="Seed"/>.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        // The instruction consumes a little-endian word as its bytes in memory order, which is the byte order the
        // reflected CRC needs.
        while (data.Length >= sizeof(ulong))
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[sizeof(ulong)..];
        }

        foreach (var b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return crc;
    }

    /// <summary>Feeds <paramref name="count"/> zero bytes into a running CRC.</summary>
    public static uint AppendZeros(uint crc, int count)
    {
        for (var i = 0; i < count; i++)
        {
            crc = BitOperations.Crc32C(crc, (byte)0);
        }

        return crc;
    }

    /// <summary>The final value of a running CRC.</summary>
    public static uint Finish(uint crc) => ~crc;
}
