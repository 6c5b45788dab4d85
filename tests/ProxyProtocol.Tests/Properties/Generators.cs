using System.Net;
using System.Text;
using FsCheck;
using FsCheck.Fluent;

namespace Istio.AppSwitch.ProxyProtocol.Tests.Properties;

/// <summary>What a generated v2 header was written from, to compare the parse against.</summary>
internal sealed record HeaderSpec(string Kind, byte[] SourceAddress, ushort SourcePort, byte[] DestinationAddress, ushort DestinationPort,
    ProxyTransport Transport, ProxyTlv[] Tlvs, bool Crc32c)
{
    public byte[] Write()
    {
        var buffer = new byte[4096];
        var length = Kind switch
        {
            "local" => ProxyV2Writer.WriteLocal(buffer, Tlvs, Crc32c),
            "unix" => ProxyV2Writer.WriteProxyUnix(buffer, SourceAddress, DestinationAddress, Transport, Tlvs, Crc32c),
            _ => ProxyV2Writer.WriteProxy(buffer, SourceAddress, SourcePort, DestinationAddress, DestinationPort, Transport, Tlvs, Crc32c),
        };
        return buffer[..length];
    }

    public override string ToString() =>
        $"{Kind} {Convert.ToHexString(SourceAddress)}:{SourcePort} -> {Convert.ToHexString(DestinationAddress)}:{DestinationPort} {Transport} crc={Crc32c} " +
        string.Join(" ", Tlvs.Select(t => t.ToString()));
}

/// <summary>FsCheck generators for valid headers and for the raw material of invalid ones.</summary>
internal static class Generators
{
    private const string LabelAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_./";
    private const string TextAlphabet = "abcXYZ019 .-_:/é日🙂";

    public static Gen<byte> Byte => Gen.Choose(0, 255).Select(i => (byte)i);

    public static Gen<byte[]> Bytes(int min, int max) =>
        from length in Gen.Choose(min, max)
        from bytes in Gen.ArrayOf(Byte, length)
        select bytes;

    public static Gen<string> Text(string alphabet, int min, int max) =>
        from length in Gen.Choose(min, max)
        from chars in Gen.ArrayOf(Gen.Elements(alphabet.EnumerateRunes().Select(r => r.ToString()).ToArray()), length)
        select string.Concat(chars);

    public static Gen<ushort> Port => Gen.Choose(0, 65535).Select(i => (ushort)i);

    public static Gen<ProxyTransport> Transport => Gen.Elements(ProxyTransport.Stream, ProxyTransport.Datagram);

    /// <summary>Any TLV the writer accepts and the parser must give back as it was.</summary>
    public static Gen<ProxyTlv> Tlv => Gen.OneOf(
        Bytes(0, 20).Select(v => new ProxyTlv(ProxyTlvType.Alpn, v)),
        Text(TextAlphabet, 0, 30).Select(ProxyTlv.Authority),
        Gen.Choose(0, 10).Select(ProxyTlv.Noop),
        Bytes(0, ProxyProtocolLimits.MaxUniqueIdLength).Select(v => ProxyTlv.UniqueId(v)),
        Text("abcdefgh-0123", 0, 20).Select(ProxyTlv.Netns),
        Ssl.Select(s => s.ToTlv()),
        Labels,
        from ns in Text("abcdefghij-0123456789", 1, 20)
        from sa in Text("abcdefghij-.0123456789", 1, 20)
        select AxTlvs.Identity(new AxIdentity(ns, sa)),
        Text(TextAlphabet.Replace(" ", "", StringComparison.Ordinal), 1, 60).Select(AxTlvs.OriginalDestinationName),
        Text("abcdefghijklmnopqrstuvwxyz0123456789/.-+", 1, AxTlvs.MaxProtocolLength).Select(AxTlvs.Protocol),
        Bytes(0, 64).Select(v => AxTlvs.PeekedBytes(v)),
        from type in Gen.Elements(UnknownTypes)
        from value in Bytes(0, 40)
        select new ProxyTlv(type, value));

    public static Gen<ProxySslInfo> Ssl =>
        from client in Gen.Choose(0, 7)
        from verify in Gen.Elements(0u, 1u, 0xFFFFFFFFu)
        from subTlvs in Gen.ListOf(Gen.OneOf(
            Text("TLSv1.23", 0, 10).Select(t => ProxyTlv.FromText(ProxyTlvType.SslVersion, t)),
            Text(TextAlphabet, 0, 20).Select(t => ProxyTlv.FromText(ProxyTlvType.SslCommonName, t)),
            Text("ABCDEFGHIJ_-0123456789", 0, 30).Select(t => ProxyTlv.FromText(ProxyTlvType.SslCipher, t)),
            Text("RSA-SHA256", 0, 12).Select(t => ProxyTlv.FromText(ProxyTlvType.SslSignatureAlgorithm, t)),
            Text("RSA2048EC", 0, 8).Select(t => ProxyTlv.FromText(ProxyTlvType.SslKeyAlgorithm, t)),
            from type in Gen.Choose(0x26, 0x2F)
            from value in Bytes(0, 10)
            select new ProxyTlv((ProxyTlvType)type, value)))
        select new ProxySslInfo((ProxySslClientFlags)client, verify, subTlvs.Take(6).ToArray());

    public static Gen<ProxyTlv> Labels =>
        from keys in Gen.ListOf(Text(LabelAlphabet, 1, 12))
        from values in Gen.ArrayOf(Text(LabelAlphabet, 0, 12), 16)
        select AxTlvs.Labels(keys.Distinct(StringComparer.Ordinal).Take(16).Select((key, i) => new KeyValuePair<string, string>(key, values[i])));

    public static Gen<HeaderSpec> Header =>
        from kind in Gen.Elements("ipv4", "ipv6", "mixed", "unix", "local")
        from source in kind switch
        {
            "ipv4" or "mixed" => Bytes(4, 4),
            "ipv6" => Bytes(16, 16),
            "unix" => Bytes(0, 108),
            _ => Gen.Constant(Array.Empty<byte>()),
        }
        from destination in kind switch
        {
            "ipv4" => Bytes(4, 4),
            "ipv6" or "mixed" => Bytes(16, 16),
            "unix" => Bytes(0, 108),
            _ => Gen.Constant(Array.Empty<byte>()),
        }
        from sourcePort in Port
        from destinationPort in Port
        from transport in Transport
        from tlvs in Gen.ListOf(Tlv)
        from crc in Gen.Elements(true, false)
        select new HeaderSpec(kind, source, kind is "unix" or "local" ? (ushort)0 : sourcePort, destination,
            kind is "unix" or "local" ? (ushort)0 : destinationPort, kind == "local" ? ProxyTransport.Unspecified : transport,
            tlvs.Take(20).ToArray(), crc);

    /// <summary>A valid v1 line, with a few bytes of payload after it.</summary>
    public static Gen<(byte[] Line, int Length)> V1Line =>
        from kind in Gen.Elements("tcp4", "tcp6", "unknown")
        from source in Bytes(kind == "tcp4" ? 4 : 16, kind == "tcp4" ? 4 : 16)
        from destination in Bytes(kind == "tcp4" ? 4 : 16, kind == "tcp4" ? 4 : 16)
        from sourcePort in Port
        from destinationPort in Port
        from payload in Bytes(0, 8)
        let line = kind == "unknown"
            ? Encoding.ASCII.GetBytes("PROXY UNKNOWN\r\n")
            : V1(new IPEndPoint(new IPAddress(source), sourcePort), new IPEndPoint(new IPAddress(destination), destinationPort))
        select (line.Concat(payload).ToArray(), line.Length);

    /// <summary>Bytes that get past the first checks often: a v2 prefix with random fields, "PROXY " with random text,
    /// or anything.</summary>
    public static Gen<byte[]> NearlyHeaders => Gen.OneOf(
        Bytes(0, 64),
        from versionCommand in Gen.Elements<byte>(0x20, 0x21, 0x22, 0x11, 0x2F)
        from family in Gen.Elements<byte>(0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32, 0x10, 0x01, 0x41, 0x13)
        from length in Gen.Choose(0, 80)
        from body in Bytes(0, 90)
        select (byte[])[.. ProxyV2Parser.Signature, versionCommand, family, (byte)(length >> 8), (byte)length, .. body],
        from text in Text("PROXY TCP46UNKOW0123456789.:abcdef \r\n", 0, 120)
        select Encoding.ASCII.GetBytes("PROXY " + text));

    /// <summary>A valid header of either version, then damage: truncation, flipped bytes, inserted or removed bytes.</summary>
    public static Gen<byte[]> Mutated =>
        from valid in Gen.OneOf(Header.Select(h => h.Write()), V1Line.Select(l => l.Line))
        from mutation in Gen.Choose(0, 3)
        from position in Gen.Choose(0, 10_000)
        from value in Byte
        from count in Gen.Choose(1, 4)
        select Mutate(valid, mutation, position % Math.Max(valid.Length, 1), value, count);

    private static readonly ProxyTlvType[] UnknownTypes =
        [.. Enumerable.Range(0x06, 0x20 - 0x06).Concat(Enumerable.Range(0x26, 0x30 - 0x26)).Concat(Enumerable.Range(0x31, 0xE0 - 0x31))
            .Concat(Enumerable.Range(0xE5, 0x100 - 0xE5)).Select(i => (ProxyTlvType)i)];

    private static byte[] V1(IPEndPoint source, IPEndPoint destination)
    {
        var buffer = new byte[ProxyProtocolLimits.MaxV1HeaderLength];
        return buffer[..ProxyV1Writer.WriteProxy(buffer, source, destination)];
    }

    private static byte[] Mutate(byte[] valid, int mutation, int position, byte value, int count)
    {
        var list = valid.ToList();
        switch (mutation)
        {
            case 0:
                return valid[..position];
            case 1:
                for (var i = 0; i < count && position + i < list.Count; i++)
                {
                    list[position + i] ^= (byte)(value | 1);
                }
                break;
            case 2:
                list.InsertRange(position, Enumerable.Repeat(value, count));
                break;
            default:
                list.RemoveRange(position, Math.Min(count, list.Count - position));
                break;
        }

        return [.. list];
    }
}
