namespace Istio.AppSwitch.Sniffing.Tests.Tools;

/// <summary>Re-frames the handshake bytes of TLS records.</summary>
internal static class TlsRecords
{
    /// <summary>The handshake bytes of the first record of <paramref name="records"/>, framed again in records of
    /// <paramref name="fragmentLength"/> bytes (the last one shorter), each with the original record header's type
    /// and version.</summary>
    public static byte[] Split(byte[] records, int fragmentLength)
    {
        var length = (records[3] << 8) | records[4];
        var payload = records.AsSpan(5, length);
        var output = new List<byte>();
        for (var offset = 0; offset < payload.Length; offset += fragmentLength)
        {
            var fragment = payload[offset..Math.Min(payload.Length, offset + fragmentLength)];
            output.AddRange([records[0], records[1], records[2], (byte)(fragment.Length >> 8), (byte)fragment.Length]);
            output.AddRange(fragment);
        }

        return [.. output];
    }
}
