using System.Buffers;
using System.Buffers.Binary;
using System.Text.Json;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>
/// The daemon's small JSON messages written with <see cref="Utf8JsonWriter"/>, not JsonSerializer, whose metadata costs
/// milliseconds that a few fixed shapes do not need: a bare value, or a frame (4-byte little-endian length, then a JSON
/// object) as the launch socket and the keeper speak it.
/// </summary>
internal static class JsonFrames
{
    /// <summary>The JSON <paramref name="write"/> writes, as UTF-8.</summary>
    public static byte[] Value(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer);
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A frame of the object whose properties <paramref name="writeProperties"/> writes; <paramref name="what"/> names it in the error.</summary>
    /// <exception cref="ArgumentException">The object is over <paramref name="maxBytes"/>.</exception>
    public static byte[] Frame(Action<Utf8JsonWriter> writeProperties, int maxBytes, string what)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        buffer.Write<byte>([0, 0, 0, 0]); // the length prefix, filled in below
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writeProperties(writer);
            writer.WriteEndObject();
        }
        var frame = buffer.WrittenSpan.ToArray();
        if (frame.Length - 4 > maxBytes)
        {
            throw new ArgumentException($"{what} is {frame.Length - 4} bytes; the limit is {maxBytes}");
        }
        BinaryPrimitives.WriteInt32LittleEndian(frame, frame.Length - 4);
        return frame;
    }
}
