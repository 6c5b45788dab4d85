using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Istio.AppSwitch.Sniffing.Tests.Tools;

namespace Istio.AppSwitch.Sniffing.Tests.Properties;

/// <summary>A generated HTTP/1 request and what the sniffer must find in it.</summary>
internal sealed record HttpSample(byte[] Bytes, string Method, string Path, string Host, KeyValuePair<string, string>[] Headers, string Token)
{
    public override string ToString() => Encoding.Latin1.GetString(Bytes);
}

/// <summary>A generated ClientHello (possibly split across records) and what the sniffer must find in it.</summary>
internal sealed record TlsSample(byte[] Bytes, string? Sni, string[] Alpn)
{
    public override string ToString() => $"sni={Sni} alpn=[{string.Join(',', Alpn)}] {Convert.ToHexString(Bytes)}";
}

/// <summary>FsCheck generators for valid samples of each protocol, and for bytes that are nearly valid or not at all.</summary>
internal static class Generators
{
    private const string Lower = "abcdefghijklmnopqrstuvwxyz";
    private const string TokenChars = Lower + "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~";
    private const string ValueChars = Lower + "ABC0123456789 \t-_.,;:/=\"()\u00e9\u00ff";
    private const string PathChars = Lower + "0123456789-._~/?=&%:@!$'()*+,;";

    public static Gen<byte> Byte => Gen.Choose(0, 255).Select(i => (byte)i);

    public static Gen<byte[]> Bytes(int min, int max) =>
        from length in Gen.Choose(min, max)
        from bytes in Gen.ArrayOf(Byte, length)
        select bytes;

    public static Gen<string> Text(string alphabet, int min, int max) =>
        from length in Gen.Choose(min, max)
        from chars in Gen.ArrayOf(Gen.Elements(alphabet.ToCharArray()), length)
        select new string(chars);

    public static Gen<string> HostName =>
        from labels in Gen.ListOf(Text(Lower + "0123456789-", 1, 20))
        select labels.Count == 0 ? "host" : string.Join('.', labels.Take(6));

    public static Gen<HttpSample> Http =>
        // An extension method may be any token, but one that starts with '*' is read as RESP (docs/sniffing.md).
        from method in Gen.OneOf(Gen.Elements("GET", "POST", "PUT", "DELETE", "OPTIONS"),
            from first in Gen.Elements(Lower.ToCharArray())
            from rest in Text(TokenChars, 0, SniffLimits.MaxVerbLength - 1)
            select first + rest)
        from path in Text(PathChars, 0, 80)
        from host in HostName
        from minor in Gen.Elements(0, 1)
        from names in Gen.ListOf(Text(TokenChars, 1, 20))
        from values in Gen.ArrayOf(Text(ValueChars, 0, 40), 30)
        from lineEnd in Gen.Elements("\r\n", "\n")
        let fields = names.Where(n => !n.Equals("host", StringComparison.OrdinalIgnoreCase)).Take(30)
            .Select((n, i) => new KeyValuePair<string, string>(n, values[i])).ToArray()
        let text = $"{method} /{path} HTTP/1.{minor}{lineEnd}Host: {host}{lineEnd}" +
            string.Concat(fields.Select(f => $"{f.Key}:{f.Value}{lineEnd}")) + lineEnd
        select new HttpSample(Encoding.Latin1.GetBytes(text), method, "/" + path, host,
            [new("host", host), .. fields.Select(f => new KeyValuePair<string, string>(f.Key.ToLowerInvariant(), f.Value.Trim(' ', '\t')))],
            minor == 0 ? "http/1.0" : "http/1.1");

    public static Gen<TlsSample> Tls =>
        from sni in Gen.OneOf(HostName.Select(h => (string?)h), Gen.Constant<string?>(null))
        from alpn in Gen.ListOf(Text(Lower + "/.0123456789", 1, 12))
        from grease in Gen.Elements(true, false)
        from fragment in Gen.OneOf(Gen.Constant(0), Gen.Choose(1, 300))
        let extensions = new List<(ushort, byte[])>()
            .Concat(grease ? [(0x0A0A, [])] : Array.Empty<(ushort, byte[])>())
            .Concat(sni is null ? [] : [ClientHello.ServerName(sni.ToUpperInvariant())])
            .Concat(alpn.Count == 0 ? [] : [ClientHello.Alpn([.. alpn.Take(20)])])
            .Append(ClientHello.SupportedVersions(0x0304, 0x0303))
        let record = ClientHello.Record(extensions)
        select new TlsSample(fragment == 0 ? record : TlsRecords.Split(record, fragment), sni,
            [.. alpn.Take(Math.Min(20, SniffLimits.MaxAlpnProtocols))]);

    public static Gen<(byte[] Bytes, string Command)> Resp =>
        from command in Text(Lower + "ABCDEFGHIJKLMNOPQRSTUVWXYZ_.|", 1, SniffLimits.MaxRespCommandLength)
        from arguments in Gen.ListOf(Text(ValueChars, 0, 20))
        let parts = arguments.Take(10).Prepend(command).ToArray()
        let text = $"*{parts.Length}\r\n" + string.Concat(parts.Select(p => $"${Encoding.Latin1.GetByteCount(p)}\r\n{p}\r\n"))
        select (Encoding.Latin1.GetBytes(text), command.ToLowerInvariant());

    /// <summary>A valid sample of any protocol.</summary>
    public static Gen<byte[]> Valid => Gen.OneOf(
        Http.Select(s => s.Bytes),
        Tls.Select(s => s.Bytes),
        Resp.Select(s => s.Bytes),
        Gen.Elements("get k\r\n", "set k 0 0 1\r\nx\r\n", "PING\r\n", "mg k v\r\n", "incr n\r\n").Select(Encoding.ASCII.GetBytes),
        Bytes(0, 40).Select(tail => (byte[])[.. ProtocolSniffer.Http2Preface, .. tail]));

    /// <summary>Bytes that get past the first checks often: a protocol's first bytes, then anything.</summary>
    public static Gen<byte[]> NearlyValid => Gen.OneOf(
        Bytes(0, 300),
        from start in Gen.Elements("\u0016\u0003\u0001", "*", "*1\r\n$", "GET ", "GET / HTTP/1.1\r\n", "PRI * ", "get ", "mg ")
        from tail in Bytes(0, 200)
        select (byte[])[.. Encoding.Latin1.GetBytes(start), .. tail],
        from text in Text(TokenChars + " \r\n:$*", 0, 200)
        select Encoding.Latin1.GetBytes(text));

    /// <summary>A valid sample, then damage: truncation, a changed byte, inserted or removed bytes.</summary>
    public static Gen<byte[]> Damaged =>
        from valid in Valid
        from mutation in Gen.Choose(0, 3)
        from position in Gen.Choose(0, 100_000)
        from value in Byte
        from count in Gen.Choose(1, 4)
        select Mutate(valid, mutation, position % Math.Max(valid.Length, 1), value, count);

    private static byte[] Mutate(byte[] data, int mutation, int position, byte value, int count)
    {
        var list = data.ToList();
        switch (mutation)
        {
            case 0:
                return data[..position];
            case 1 when list.Count > 0:
                list[position] = value;
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
