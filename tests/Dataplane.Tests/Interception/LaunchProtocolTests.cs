using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Istio.AppSwitch.Dataplane.Interception;

namespace Istio.AppSwitch.Dataplane.Tests.Interception;

/// <summary>
/// The launcher's hand-written half of the launch protocol (request out, response in) against the daemon's half,
/// which is System.Text.Json: every request the launcher writes must read back the same through JsonDocument, and
/// every response must read the same as JsonDocument reads it, including where JsonDocument rejects it.
/// </summary>
public sealed class LaunchProtocolTests
{
    private static readonly string[] AwkwardStrings =
    [
        "", "plain", "with \"quotes\" and \\backslashes\\", "/slash", "tab\tnewline\nreturn\rbell\afeed\fback\b",
        "nul\0and\u001Funit separator", "del\u007F", "<html>&'+", "ünïcödé", "日本語", "emoji 😀 pair",
        "\u2028\u2029 line separators", "\uFFFF\uFFFE", "a=b,c=d", "--name", "-- ",
    ];

    public static TheoryData<string> Awkward()
    {
        var data = new TheoryData<string>();
        foreach (var s in AwkwardStrings)
        {
            data.Add(s);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Awkward))]
    public void EncodeRequest_AwkwardStrings_ReadBackTheSameThroughJsonDocument(string text)
    {
        var request = new LaunchRequest
        {
            Name = text,
            Labels = new Dictionary<string, string>(StringComparer.Ordinal) { [text + "k"] = text, ["plain"] = "v" },
            Ip = text,
            Command = ["/bin/echo", text, text + text],
        };

        AssertRoundTrip(request, request);
    }

    [Fact]
    public void EncodeRequest_NoNameNoIpNoLabels_OmitsThem()
    {
        var request = new LaunchRequest { Command = ["/bin/true"] };

        var frame = LaunchProtocol.Encode(request);

        Assert.Equal("{\"version\":1,\"labels\":{},\"command\":[\"/bin/true\"]}", Encoding.UTF8.GetString(frame.AsSpan(4)));
        AssertRoundTrip(request, request);
    }

    [Fact]
    public void EncodeRequest_NetnsAndPorts_ReadBackTheSame()
    {
        var request = new LaunchRequest
        {
            Command = ["redis-server"],
            NetworkNamespace = ulong.MaxValue - 1,
            Ports = [new Dataplane.Registry.PortMapping(16379, 6379), new Dataplane.Registry.PortMapping(1, 65535)],
        };

        var frame = LaunchProtocol.Encode(request);

        Assert.Equal("{\"version\":1,\"labels\":{},\"netns\":18446744073709551614,\"ports\":[[16379,6379],[1,65535]],\"command\":[\"redis-server\"]}",
            Encoding.UTF8.GetString(frame.AsSpan(4)));
        AssertRoundTrip(request, request);
    }

    [Theory]
    [MemberData(nameof(Awkward))]
    public void EncodeRequest_Sidecar_ReadsBackTheSame_AndIsLeftOutWhenNull(string text)
    {
        var request = new LaunchRequest { Command = ["ax", "proxy"], Sidecar = text };

        var frame = LaunchProtocol.Encode(request);

        Assert.Contains(",\"command\":[\"ax\",\"proxy\"],\"sidecar\":\"", Encoding.UTF8.GetString(frame.AsSpan(4)), StringComparison.Ordinal);
        Assert.Equal(text, LaunchProtocol.DecodeRequest(frame.AsMemory(4))!.Sidecar);
        AssertRoundTrip(request, request);
        Assert.Null(LaunchProtocol.DecodeRequest(LaunchProtocol.Encode(new LaunchRequest { Command = ["x"] }).AsMemory(4))!.Sidecar);
    }

    [Theory]
    [InlineData("{\"version\":1,\"command\":[\"x\"],\"ports\":[[1]]}")]
    [InlineData("{\"version\":1,\"command\":[\"x\"],\"ports\":[[1,2,3]]}")]
    [InlineData("{\"version\":1,\"command\":[\"x\"],\"ports\":[[\"1\",2]]}")]
    [InlineData("{\"version\":1,\"command\":[\"x\"],\"netns\":-1}")]
    [InlineData("{\"version\":1,\"command\":[\"x\"],\"netns\":\"1\"}")]
    public void DecodeRequest_MalformedNetnsOrPorts_IsRejected(string json)
    {
        Assert.Null(LaunchProtocol.DecodeRequest(Encoding.UTF8.GetBytes(json)));
    }

    [Fact]
    public void EncodeRequest_LoneSurrogates_BecomeReplacementCharacters()
    {
        // As in the bytes execve gets: PreparedExec encodes with Encoding.UTF8, which replaces them too.
        var request = new LaunchRequest { Name = "a\uD800b", Command = ["x\uDC00", "\uD83D"] };

        AssertRoundTrip(request, new LaunchRequest { Name = "a\uFFFDb", Command = ["x\uFFFD", "\uFFFD"] });
    }

    [Fact]
    public void EncodeRequest_RandomStrings_ReadBackTheSameThroughJsonDocument()
    {
        var random = new Random(20261122);
        for (var i = 0; i < 2000; i++)
        {
            var command = new List<string>();
            for (var j = random.Next(1, 5); j > 0; j--)
            {
                command.Add(RandomString(random));
            }
            var request = new LaunchRequest
            {
                Name = random.Next(2) == 0 ? null : RandomString(random),
                Labels = new Dictionary<string, string>(StringComparer.Ordinal) { [RandomString(random) + "k"] = RandomString(random) },
                Ip = random.Next(2) == 0 ? null : RandomString(random),
                Command = command,
            };

            AssertRoundTrip(request, request);
        }
    }

    [Fact]
    public void EncodeRequest_LengthPrefix_IsTheBodyLength()
    {
        var frame = LaunchProtocol.Encode(new LaunchRequest { Name = "ünï", Command = ["a\"b"] });

        Assert.Equal(frame.Length - 4, LaunchProtocol.ReadLength(frame));
    }

    [Fact]
    public void EncodeRequest_OverTheLimit_Throws()
    {
        var tooLong = new string('x', LaunchProtocol.MaxMessageBytes);
        var atLimit = new string('x', LaunchProtocol.MaxMessageBytes - "{\"version\":1,\"labels\":{},\"command\":[\"\"]}".Length);

        Assert.Throws<ArgumentException>(() => LaunchProtocol.Encode(new LaunchRequest { Command = [tooLong] }));
        Assert.Equal(4 + LaunchProtocol.MaxMessageBytes, LaunchProtocol.Encode(new LaunchRequest { Command = [atLimit] }).Length);
    }

    [Theory]
    [MemberData(nameof(Awkward))]
    public void DecodeResponse_WhatTheDaemonWrites_ReadsTheSame(string text)
    {
        foreach (var response in new[] { new LaunchResponse { AppId = text }, new LaunchResponse { Error = text }, new LaunchResponse() })
        {
            var frame = LaunchProtocol.Encode(response);

            Assert.Equal(response, LaunchProtocol.DecodeResponse(frame.AsMemory(4)));
        }
    }

    [Theory]
    [InlineData("{\"appId\":\"app-1\"}")]
    [InlineData(" \t\r\n{ \"appId\" : \"app-1\" , \"error\" : null } \n")]
    [InlineData("{}")]
    [InlineData("{\"error\":\"no\\u0020way \\\"quoted\\\" \\\\ \\/ \\b\\f\\n\\r\\t \\uD83D\\uDE00 \\u00e9\"}")]
    [InlineData("{\"future\":{\"a\":[1,-2.5e+3,0.0,1E-7,true,false,null,\"s\",{},[]]},\"appId\":\"app-2\",\"n\":-0}")]
    [InlineData("{\"appId\":\"first\",\"appId\":\"second\"}")]
    [InlineData("{\"appId\":null}")]
    [InlineData("{\"appI\\u0064\":\"escaped name\"}")]
    [InlineData("{\"app\u00e9\":\"x\"}")]
    public void DecodeResponse_ValidJson_ReadsAsJsonDocumentDoes(string json)
    {
        var body = Encoding.UTF8.GetBytes(json);

        var expected = ReferenceDecode(body);

        Assert.NotNull(expected);
        Assert.Equal(expected, LaunchProtocol.DecodeResponse(body));
    }

    [Theory]
    [InlineData("")]
    [InlineData("null")]
    [InlineData("[]")]
    [InlineData("\"appId\"")]
    [InlineData("{")]
    [InlineData("{\"appId\":\"x\"")]
    [InlineData("{\"appId\":\"x}")]
    [InlineData("{\"appId\":\"x\"}}")]
    [InlineData("{\"appId\":\"x\"} x")]
    [InlineData("{\"appId\":\"x\",}")]
    [InlineData("{,}")]
    [InlineData("{\"appId\" \"x\"}")]
    [InlineData("{appId:\"x\"}")]
    [InlineData("{'appId':'x'}")]
    [InlineData("{\"appId\":1}")]
    [InlineData("{\"appId\":true}")]
    [InlineData("{\"error\":{}}")]
    [InlineData("{\"appId\":\"a\tb\"}")]
    [InlineData("{\"appId\":\"\\x\"}")]
    [InlineData("{\"appId\":\"\\u12\"}")]
    [InlineData("{\"appId\":\"\\u12G4\"}")]
    [InlineData("{\"appId\":\"\\uD800\"}")]
    [InlineData("{\"appId\":\"\\uDC00\"}")]
    [InlineData("{\"appId\":\"\\uD800\\u0041\"}")]
    [InlineData("{\"n\":01}")]
    [InlineData("{\"n\":1.}")]
    [InlineData("{\"n\":.5}")]
    [InlineData("{\"n\":+1}")]
    [InlineData("{\"n\":1e}")]
    [InlineData("{\"n\":-}")]
    [InlineData("{\"n\":tru}")]
    [InlineData("{\"n\":nul}")]
    [InlineData("{\"n\":NaN}")]
    [InlineData("{\"n\":[1,]}")]
    [InlineData("{\"n\":[1 2]}")]
    [InlineData("{\"n\":{\"a\"}}")]
    public void DecodeResponse_InvalidJson_NullAsJsonDocument(string json)
    {
        var body = Encoding.UTF8.GetBytes(json);

        Assert.Null(ReferenceDecode(body));
        Assert.Null(LaunchProtocol.DecodeResponse(body));
    }

    [Theory]
    [InlineData(new byte[] { 0x22, 0xFF, 0x22 })] // not UTF-8
    [InlineData(new byte[] { 0x22, 0xC3, 0x22 })] // a truncated sequence
    [InlineData(new byte[] { 0x22, 0xED, 0xA0, 0x80, 0x22 })] // an encoded surrogate
    [InlineData(new byte[] { 0x22, 0xC0, 0xAF, 0x22 })] // overlong
    public void DecodeResponse_InvalidUtf8_NullAsJsonDocument(byte[] stringToken)
    {
        byte[] body = [.. "{\"appId\":"u8, .. stringToken, .. "}"u8];

        Assert.Null(ReferenceDecode(body));
        Assert.Null(LaunchProtocol.DecodeResponse(body));
    }

    [Theory]
    [InlineData(62, true)]
    [InlineData(63, true)]
    [InlineData(64, false)]
    [InlineData(200, false)]
    public void DecodeResponse_DeepNesting_LimitedAsJsonDocument(int depth, bool valid)
    {
        var json = "{\"x\":" + new string('[', depth) + new string(']', depth) + ",\"appId\":\"a\"}";
        var body = Encoding.UTF8.GetBytes(json);

        Assert.Equal(valid, ReferenceDecode(body) is not null);
        Assert.Equal(valid, LaunchProtocol.DecodeResponse(body) is not null);
    }

    // What LaunchProtocol.DecodeResponse was before the launcher stopped using System.Text.Json.
    private static LaunchResponse? ReferenceDecode(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return null;
            }
            return new LaunchResponse
            {
                AppId = root.TryGetProperty("appId", out var appId) ? appId.GetString() : null,
                Error = root.TryGetProperty("error", out var error) ? error.GetString() : null,
            };
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return null;
        }
    }

    private static void AssertRoundTrip(LaunchRequest request, LaunchRequest expected)
    {
        var frame = LaunchProtocol.Encode(request);

        Assert.Equal(frame.Length - 4, BinaryPrimitives.ReadInt32LittleEndian(frame));
        var decoded = LaunchProtocol.DecodeRequest(frame.AsMemory(4));
        Assert.NotNull(decoded);
        Assert.Equal(expected.Version, decoded.Version);
        Assert.Equal(expected.Name, decoded.Name);
        Assert.Equal(expected.Ip, decoded.Ip);
        Assert.Equal(expected.Command, decoded.Command);
        Assert.Equal(expected.Labels.OrderBy(l => l.Key, StringComparer.Ordinal), decoded.Labels.OrderBy(l => l.Key, StringComparer.Ordinal));
        Assert.Equal(expected.NetworkNamespace, decoded.NetworkNamespace);
        Assert.Equal(expected.Ports, decoded.Ports);
        Assert.Equal(expected.Sidecar, decoded.Sidecar);
    }

    // Any UTF-16 code unit but surrogates (a lone one is replaced on encoding), plus whole surrogate pairs.
    private static string RandomString(Random random)
    {
        var builder = new StringBuilder();
        for (var n = random.Next(0, 12); n > 0; n--)
        {
            switch (random.Next(4))
            {
                case 0:
                    builder.Append((char)random.Next(0, 0x80));
                    break;
                case 1:
                    builder.Append((char)random.Next(0, 0x20));
                    break;
                case 2:
                    builder.Append(char.ConvertFromUtf32(random.Next(0x10000, 0x110000)));
                    break;
                default:
                    var c = (char)random.Next(0x80, 0x10000);
                    builder.Append(char.IsSurrogate(c) ? 'x' : c);
                    break;
            }
        }
        return builder.ToString();
    }
}
