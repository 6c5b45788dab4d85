using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using FsCheck.Fluent;
using Istio.AppSwitch.ProxyProtocol.Tests.Properties;
using static Istio.AppSwitch.ProxyProtocol.Tests.Interop.ProxyProtocolJs;

namespace Istio.AppSwitch.ProxyProtocol.Tests.Interop;

/// <summary>
/// ax's codec against proxy-protocol-js 4.0.6 (npm), both ways and both versions. That library has no TLV support:
/// its side of the TLVs is a small loop in <c>pp.js</c> (see there), so for TLVs this checks framing and the length
/// field, while addresses, ports, command, family and transport are the library's own work.
/// </summary>
public class ProxyProtocolJsInteropTests
{
    [Fact]
    public async Task AxWritesV2_JsDecodes_SameFields()
    {
        // Generated headers of every kind (IPv4, IPv6, mixed, Unix, LOCAL) with random TLVs and checksums, in one batch.
        var specs = Generators.Header.Sample(300).ToArray();
        var payload = "after the header"u8.ToArray();
        var answers = await RunAsync([.. specs.Select(spec => Decode([.. spec.Write(), .. payload]))]);

        for (var i = 0; i < specs.Length; i++)
        {
            var spec = specs[i];
            var data = spec.Write();
            var answer = Ok(answers[i], spec);
            Assert.Equal(2, answer.Number("version"));
            Assert.Equal(data.Length, answer.Number("headerLength"));
            Assert.Equal(Convert.ToHexString(payload), answer.Text("payload"));
            Assert.Equal(spec.Kind == "local" ? "LOCAL" : "PROXY", answer.Text("command"));
            Assert.Equal(spec.Kind switch { "ipv4" => "INET", "ipv6" or "mixed" => "INET6", "unix" => "UNIX", _ => "UNSPEC" }, answer.Text("family"));
            Assert.Equal(spec.Transport switch { ProxyTransport.Stream => "STREAM", ProxyTransport.Datagram => "DGRAM", _ => "UNSPEC" }, answer.Text("transport"));

            var expectedTlvs = (spec.Crc32c ? [ProxyProtocolParser.Parse(data).Tlvs[0]] : Array.Empty<ProxyTlv>()).Concat(spec.Tlvs);
            Assert.Equal(
                expectedTlvs.Select(t => $"{(byte)t.Type}:{Convert.ToHexString(t.Value.Span)}"),
                answer["tlvs"]!.AsArray().Select(t => $"{t!.AsObject().Number("type")}:{t.AsObject().Text("hex")}"));

            if (spec.Kind is "ipv4" or "ipv6" or "mixed" or "unix")
            {
                var source = answer["source"]!.AsObject();
                var destination = answer["destination"]!.AsObject();
                Assert.Equal(Convert.ToHexString(Padded(spec, spec.SourceAddress)), source.Text("hex"));
                Assert.Equal(Convert.ToHexString(Padded(spec, spec.DestinationAddress)), destination.Text("hex"));
                if (spec.Kind != "unix")
                {
                    Assert.Equal(spec.SourcePort, source.Number("port"));
                    Assert.Equal(spec.DestinationPort, destination.Number("port"));
                }
            }
        }
    }

    [Fact]
    public async Task JsWritesV2_AxParses_SameFields()
    {
        var requests = new List<JsonObject>
        {
            V2Request("PROXY", "INET", "STREAM", "7F000001", 56324, "7F000002", 443),
            V2Request("PROXY", "INET", "DGRAM", "7F000001", 53, "7F000035", 5353),
            V2Request("PROXY", "INET6", "STREAM", "00000000000000000000000000000001", 1, "20010DB8000000000000000000000001", 65535),
            V2Request("PROXY", "INET6", "DGRAM", "00000000000000000000FFFF7F000001", 0, "00000000000000000000000000000001", 8080),
            V2Request("PROXY", "UNIX", "STREAM", Convert.ToHexString("/run/client.sock"u8), 0, Convert.ToHexString("/run/server.sock"u8), 0),
            V2Request("PROXY", "UNSPEC", "UNSPEC", "", 0, "", 0),
            V2Request("LOCAL", "UNSPEC", "UNSPEC", "", 0, "", 0),
            V2Request("PROXY", "INET", "STREAM", "7F000009", 40001, "7F00000A", 9080,
                (ProxyTlvType.Alpn, "h2"u8.ToArray()),
                (ProxyTlvType.Authority, "reviews.bookinfo"u8.ToArray()),
                (ProxyTlvType.UniqueId, "js-unique-id"u8.ToArray()),
                (ProxyTlvType.AxIdentity, "default/sleep"u8.ToArray()),
                (ProxyTlvType.AxLabels, "app=sleep,version=v1"u8.ToArray()),
                (ProxyTlvType.AxProtocol, "h2"u8.ToArray()),
                (ProxyTlvType.AxPeekedBytes, "PRI * HTTP/2.0\r\n"u8.ToArray())),
        };
        var answers = await RunAsync(requests);

        for (var i = 0; i < requests.Count; i++)
        {
            var request = requests[i];
            var data = Vectors.Bytes(Ok(answers[i], request).Text("hex"));
            var header = ProxyProtocolParser.Parse([.. data, .. "payload"u8]);

            Assert.Equal(data.Length, header.Length);
            Assert.Equal(request.Text("command") == "LOCAL" ? ProxyCommand.Local : ProxyCommand.Proxy, header.Command);
            Assert.Equal(request.Text("family") switch
            {
                "INET" => ProxyAddressFamily.InterNetwork,
                "INET6" => ProxyAddressFamily.InterNetworkV6,
                "UNIX" => ProxyAddressFamily.Unix,
                _ => ProxyAddressFamily.Unspecified,
            }, header.Family);
            var source = request["source"]!.AsObject();
            var destination = request["destination"]!.AsObject();
            switch (header.Family)
            {
                case ProxyAddressFamily.InterNetwork or ProxyAddressFamily.InterNetworkV6:
                    Assert.Equal(new IPEndPoint(new IPAddress(Vectors.Bytes(source.Text("hex"))), source.Number("port")), header.Source);
                    Assert.Equal(new IPEndPoint(new IPAddress(Vectors.Bytes(destination.Text("hex"))), destination.Number("port")), header.Destination);
                    break;
                case ProxyAddressFamily.Unix:
                    Assert.Equal(Encoding.UTF8.GetString(Vectors.Bytes(source.Text("hex"))), header.SourceUnixPath);
                    Assert.Equal(Encoding.UTF8.GetString(Vectors.Bytes(destination.Text("hex"))), header.DestinationUnixPath);
                    break;
            }
            Assert.Equal(
                request["tlvs"]!.AsArray().Select(t => $"{t!.AsObject().Number("type")}:{t.AsObject().Text("hex")}"),
                header.Tlvs.Select(t => $"{(byte)t.Type}:{Convert.ToHexString(t.Value.Span)}"));
        }

        var withTlvs = ProxyProtocolParser.Parse(Vectors.Bytes(answers[^1].Text("hex")));
        Assert.Equal("h2", withTlvs.Alpn);
        Assert.Equal("reviews.bookinfo", withTlvs.Authority);
        Assert.Equal("js-unique-id", withTlvs.UniqueIdText);
        Assert.Equal(new AxIdentity("default", "sleep"), withTlvs.AxIdentity);
        Assert.Equal([new("app", "sleep"), new("version", "v1")], withTlvs.AxLabels!);
        Assert.Equal("h2", withTlvs.AxProtocol);
    }

    [Fact]
    public async Task AxWritesV1_JsDecodes_SameFields()
    {
        (string Source, int SourcePort, string Destination, int DestinationPort)[] cases =
        [
            ("127.0.0.1", 56324, "127.0.0.2", 443),
            ("255.255.255.255", 65535, "0.0.0.0", 0),
            ("::1", 1, "2001:db8::1", 2),
            ("127.0.0.1", 3, "::1", 4),
        ];
        var lines = cases.Select(c =>
        {
            var buffer = new byte[ProxyProtocolLimits.MaxV1HeaderLength];
            return buffer[..ProxyV1Writer.WriteProxy(buffer, new IPEndPoint(IPAddress.Parse(c.Source), c.SourcePort),
                new IPEndPoint(IPAddress.Parse(c.Destination), c.DestinationPort))];
        }).ToList();
        var unknown = new byte[ProxyV1Writer.UnknownLength];
        ProxyV1Writer.WriteUnknown(unknown);
        var answers = await RunAsync([.. lines.Select(l => Decode([.. l, .. "x"u8])), Decode([.. unknown, .. "x"u8])]);

        for (var i = 0; i < cases.Length; i++)
        {
            var answer = Ok(answers[i], cases[i]);
            var v6 = lines[i].AsSpan().StartsWith("PROXY TCP6"u8);
            Assert.Equal(v6 ? "TCP6" : "TCP4", answer.Text("protocol"));
            Assert.Equal(Normalize(cases[i].Source, v6), IPAddress.Parse(answer["source"]!.AsObject().Text("address")));
            Assert.Equal(Normalize(cases[i].Destination, v6), IPAddress.Parse(answer["destination"]!.AsObject().Text("address")));
            Assert.Equal(cases[i].SourcePort, answer["source"]!.AsObject().Number("port"));
            Assert.Equal(cases[i].DestinationPort, answer["destination"]!.AsObject().Number("port"));
            Assert.Equal(lines[i].Length, answer.Number("headerLength"));
            Assert.Equal("78", answer.Text("payload"));
        }

        // proxy-protocol-js's byte parser expects four fields after UNKNOWN, which the specification lets a sender omit.
        Assert.False(answers[^1]["ok"]!.GetValue<bool>(), "proxy-protocol-js now reads the short UNKNOWN form: update docs/proxy-protocol.md");
    }

    [Fact]
    public async Task JsWritesV1_AxParses_SameFields()
    {
        (string Protocol, string Source, int SourcePort, string Destination, int DestinationPort)[] cases =
        [
            ("TCP4", "127.0.0.1", 56324, "127.0.0.2", 443),
            ("TCP4", "192.168.0.1", 0, "192.168.0.11", 65535),
            ("TCP6", "::1", 1, "2001:db8::1", 2),
            ("TCP6", "::ffff:127.0.0.1", 3, "fe80::1:2:3:4", 4),
            ("UNKNOWN", "::1", 5, "::1", 6),
        ];
        var requests = cases.Select(c => new JsonObject
        {
            ["op"] = "encode-v1",
            ["protocol"] = c.Protocol,
            ["source"] = new JsonObject { ["address"] = c.Source, ["port"] = c.SourcePort },
            ["destination"] = new JsonObject { ["address"] = c.Destination, ["port"] = c.DestinationPort },
        }).ToList();
        var answers = await RunAsync(requests);

        for (var i = 0; i < cases.Length; i++)
        {
            var data = Vectors.Bytes(Ok(answers[i], cases[i]).Text("hex"));
            var header = ProxyProtocolParser.Parse(data);
            Assert.Equal(data.Length, header.Length);
            Assert.Equal(ProxyVersion.V1, header.Version);
            if (cases[i].Protocol == "UNKNOWN")
            {
                Assert.Equal(ProxyAddressFamily.Unspecified, header.Family);
                Assert.Null(header.Source);
                continue;
            }
            Assert.Equal(new IPEndPoint(IPAddress.Parse(cases[i].Source), cases[i].SourcePort), header.Source);
            Assert.Equal(new IPEndPoint(IPAddress.Parse(cases[i].Destination), cases[i].DestinationPort), header.Destination);
        }
    }

    [Fact]
    public async Task JsDecode_HeaderAxRejects_JsIsLaxer()
    {
        // Where ax is stricter than proxy-protocol-js (documented in docs/proxy-protocol.md): a v1 line with a leading
        // zero in an address, and a v2 PROXY header of family INET with an unspecified transport (0x10), which the
        // specification does not list.
        var leadingZeros = Vectors.Ascii("PROXY TCP4 127.0.0.01 127.0.0.2 80 443\r\n");
        var noTransport = Vectors.V2(0x21, 0x10, Vectors.Inet4Block);
        var answers = await RunAsync([Decode(leadingZeros), Decode(noTransport)]);

        Assert.True(answers[0]["ok"]!.GetValue<bool>(), answers[0].ToJsonString());
        Assert.True(answers[1]["ok"]!.GetValue<bool>(), answers[1].ToJsonString());
        Assert.Equal(ProxyProtocolErrorKind.InvalidAddress, Assert.Throws<ProxyProtocolException>(() => ProxyProtocolParser.Parse(leadingZeros)).Kind);
        Assert.Equal(ProxyProtocolErrorKind.InvalidAddressFamily, Assert.Throws<ProxyProtocolException>(() => ProxyProtocolParser.Parse(noTransport)).Kind);
    }

    private static JsonObject V2Request(string command, string family, string transport, string sourceHex, int sourcePort,
        string destinationHex, int destinationPort, params (ProxyTlvType Type, byte[] Value)[] tlvs) => new()
        {
            ["op"] = "encode-v2",
            ["command"] = command,
            ["family"] = family,
            ["transport"] = transport,
            ["source"] = new JsonObject { ["hex"] = sourceHex, ["port"] = sourcePort },
            ["destination"] = new JsonObject { ["hex"] = destinationHex, ["port"] = destinationPort },
            ["tlvs"] = new JsonArray([.. tlvs.Select(t => (JsonNode)new JsonObject { ["type"] = (int)(byte)t.Type, ["hex"] = Convert.ToHexString(t.Value) })]),
        };

    /// <summary>The address bytes as they are on the wire: IPv4-mapped when mixed, Unix paths NUL-padded to 108.</summary>
    private static byte[] Padded(HeaderSpec spec, byte[] address) => spec.Kind switch
    {
        "mixed" when address.Length == 4 => new IPAddress(address).MapToIPv6().GetAddressBytes(),
        "unix" => [.. address, .. new byte[108 - address.Length]],
        _ => address,
    };

    private static IPAddress Normalize(string address, bool v6)
    {
        var parsed = IPAddress.Parse(address);
        return v6 && parsed.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? parsed.MapToIPv6() : parsed;
    }
}
