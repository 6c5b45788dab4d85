using System.Text;

namespace Istio.AppSwitch.ProxyProtocol.Tests;

/// <summary>Byte vectors for the tests, written out in hex from the specification or captured from real peers.</summary>
internal static class Vectors
{
    /// <summary>The v2 signature and the PROXY command byte.</summary>
    public const string V2Proxy = "0D0A0D0A000D0A515549540A21";

    /// <summary>
    /// What HAProxy 2.6.12 sent to a <c>send-proxy-v2 proxy-v2-options authority,unique-id,crc32c,ssl</c> server for a
    /// client that had come in with a PROXY header from 127.0.0.9:1234 to 127.0.0.10:80 carrying the authority
    /// example.com: CRC32C first, the authority passed on, HAProxy's own unique id, and an SSL TLV with no flags (the
    /// client did not use TLS).
    /// </summary>
    public const string HaproxyCapture =
        "0D0A0D0A000D0A515549540A211100557F0000097F00000A04D20050030004F1BBE79B02000B6578616D706C652E636F6D0500293746" +
        "3030303030393A303444325F37463030303030413A303035305F36423032373438395F303030302000050000000000";

    /// <summary>Hex (spaces allowed) to bytes.</summary>
    public static byte[] Bytes(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    /// <summary>ASCII text to bytes.</summary>
    public static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);

    /// <summary>A v2 header: signature, version/command byte, family byte, the body's length, and the body.</summary>
    public static byte[] V2(byte versionCommand, byte family, string bodyHex)
    {
        var body = Bytes(bodyHex);
        return [.. Bytes("0D0A0D0A000D0A515549540A"), versionCommand, family, (byte)(body.Length >> 8), (byte)body.Length, .. body];
    }

    /// <summary>A TLV in hex: type, big-endian length, value.</summary>
    public static string Tlv(byte type, string valueHex)
    {
        var length = valueHex.Replace(" ", "", StringComparison.Ordinal).Length / 2;
        return $"{type:X2}{length:X4}{valueHex}";
    }

    /// <summary>A TLV whose value is UTF-8 text, in hex.</summary>
    public static string TextTlv(byte type, string text) => Tlv(type, Convert.ToHexString(Encoding.UTF8.GetBytes(text)));

    /// <summary>The TCP over IPv4 address block 127.0.0.1:56324 -> 127.0.0.2:443.</summary>
    public const string Inet4Block = "7F000001 7F000002 DC04 01BB";
}
