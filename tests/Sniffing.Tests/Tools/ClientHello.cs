using System.Text;

namespace Istio.AppSwitch.Sniffing.Tests.Tools;

/// <summary>Builds ClientHellos (RFC 8446 section 4.1.2) with chosen extensions, well-formed or not.</summary>
internal static class ClientHello
{
    public const ushort ServerNameType = 0;
    public const ushort AlpnType = 16;
    public const ushort SupportedVersionsType = 43;

    /// <summary>A TLS record holding one ClientHello with <paramref name="extensions"/> (none: no extensions block).</summary>
    public static byte[] Record(IEnumerable<(ushort Type, byte[] Data)>? extensions, ushort recordVersion = 0x0301)
    {
        var body = Body(extensions);
        byte[] handshake = [0x01, (byte)(body.Length >> 16), (byte)(body.Length >> 8), (byte)body.Length, .. body];
        return [0x16, (byte)(recordVersion >> 8), (byte)recordVersion, (byte)(handshake.Length >> 8), (byte)handshake.Length, .. handshake];
    }

    public static byte[] Record(params (ushort Type, byte[] Data)[] extensions) => Record((IEnumerable<(ushort, byte[])>)extensions);

    public static byte[] Body(IEnumerable<(ushort Type, byte[] Data)>? extensions)
    {
        var body = new List<byte> { 0x03, 0x03 };
        body.AddRange(Enumerable.Range(0, 32).Select(i => (byte)i)); // random
        body.AddRange([32, .. Enumerable.Repeat((byte)0xAB, 32)]); // legacy_session_id
        body.AddRange([0x00, 0x04, 0x13, 0x01, 0xC0, 0x2F]); // two cipher suites
        body.AddRange([0x01, 0x00]); // null compression
        if (extensions is not null)
        {
            var block = extensions.SelectMany(e => (byte[])[.. U16(e.Type), .. U16(e.Data.Length), .. e.Data]).ToArray();
            body.AddRange([.. U16(block.Length), .. block]);
        }

        return [.. body];
    }

    public static (ushort, byte[]) ServerName(string name) => ServerName(Encoding.Latin1.GetBytes(name));

    public static (ushort, byte[]) ServerName(byte[] name) =>
        (ServerNameType, [.. U16(name.Length + 3), 0x00, .. U16(name.Length), .. name]);

    public static (ushort, byte[]) Alpn(params string[] protocols)
    {
        var list = protocols.SelectMany(p => (byte[])[(byte)p.Length, .. Encoding.Latin1.GetBytes(p)]).ToArray();
        return (AlpnType, [.. U16(list.Length), .. list]);
    }

    public static (ushort, byte[]) SupportedVersions(params ushort[] versions) =>
        (SupportedVersionsType, [(byte)(versions.Length * 2), .. versions.SelectMany(v => U16(v))]);

    public static byte[] U16(int value) => [(byte)(value >> 8), (byte)value];
}
