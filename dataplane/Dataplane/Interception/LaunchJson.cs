using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Unicode;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>
/// The launcher's half of <see cref="LaunchProtocol"/>, written by hand: it encodes the request and decodes the
/// response without System.Text.Json. <c>ax run</c> runs before every application, and loading System.Text.Json
/// and System.Text.Encodings.Web cost it about 11 ms (of 55 ms) for two messages of a few hundred bytes: the
/// assemblies, <c>JavaScriptEncoder</c>'s tables and the generic code that ReadyToRun does not precompile. The
/// daemon's half stays on System.Text.Json, and the tests hold each hand-written half to it.
/// </summary>
internal static class LaunchJson
{
    // JsonDocument's default; the response is flat, so this only bounds the skipping of unknown members.
    private const int MaxDepth = 64;

    /// <summary>
    /// Encodes a request as one frame: the length prefix and a JSON object. Strings are written as UTF-8 with
    /// only what JSON requires escaped (<c>"</c>, <c>\</c>, U+0000 to U+001F). A lone surrogate becomes U+FFFD,
    /// as it does in the bytes the launcher passes to <c>execve</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The message is larger than <see cref="LaunchProtocol.MaxMessageBytes"/>.</exception>
    public static byte[] EncodeRequest(LaunchRequest request)
    {
        // Two passes, one that measures and one that writes, so that the frame is allocated once, at its size,
        // and an oversized request is refused before anything is allocated for it.
        var measure = new Writer(null);
        WriteRequest(ref measure, request);
        var length = measure.Length - 4;
        if (length > LaunchProtocol.MaxMessageBytes)
        {
            throw new ArgumentException($"launch message is {length} bytes; the limit is {LaunchProtocol.MaxMessageBytes}");
        }
        var frame = new byte[measure.Length];
        var writer = new Writer(frame);
        WriteRequest(ref writer, request);
        BinaryPrimitives.WriteInt32LittleEndian(frame, length);
        return frame;
    }

    /// <summary>
    /// Decodes a response body: a JSON object whose <c>appId</c> and <c>error</c> members, when present, are
    /// strings or null. Other members are skipped, so that a newer daemon may add some. Returns null for anything
    /// JsonDocument would reject (RFC 8259 JSON, UTF-8, at most <see cref="MaxDepth"/> levels), and for
    /// <c>appId</c> or <c>error</c> of another type; a repeated member counts once, the last one wins.
    /// </summary>
    public static LaunchResponse? DecodeResponse(ReadOnlySpan<byte> body)
    {
        var reader = new Reader(body);
        string? appId = null;
        string? error = null;
        try
        {
            reader.SkipWhitespace();
            reader.Expect((byte)'{');
            reader.SkipWhitespace();
            if (!reader.TryConsume((byte)'}'))
            {
                do
                {
                    reader.SkipWhitespace();
                    var name = reader.ReadString();
                    reader.SkipWhitespace();
                    reader.Expect((byte)':');
                    reader.SkipWhitespace();
                    switch (name)
                    {
                        case "appId":
                            appId = reader.ReadStringOrNull();
                            break;
                        case "error":
                            error = reader.ReadStringOrNull();
                            break;
                        default:
                            reader.SkipValue(depth: 2); // the response object is depth 1
                            break;
                    }
                    reader.SkipWhitespace();
                }
                while (reader.TryConsume((byte)','));
                reader.Expect((byte)'}');
            }
            reader.SkipWhitespace();
            if (!reader.AtEnd)
            {
                return null;
            }
        }
        catch (FormatException)
        {
            return null;
        }
        return new LaunchResponse { AppId = appId, Error = error };
    }

    private static void WriteRequest(ref Writer writer, LaunchRequest request)
    {
        writer.Raw([0, 0, 0, 0]); // the length prefix, filled in by the caller
        writer.Raw("{\"version\":"u8);
        writer.Number(request.Version);
        if (request.Name is not null)
        {
            writer.Raw(",\"name\":"u8);
            writer.String(request.Name);
        }
        writer.Raw(",\"labels\":{"u8);
        var first = true;
        foreach (var (key, value) in request.Labels)
        {
            if (!first)
            {
                writer.Raw(","u8);
            }
            first = false;
            writer.String(key);
            writer.Raw(":"u8);
            writer.String(value);
        }
        writer.Raw("}"u8);
        if (request.Ip is not null)
        {
            writer.Raw(",\"ip\":"u8);
            writer.String(request.Ip);
        }
        if (request.NetworkNamespace != 0)
        {
            writer.Raw(",\"netns\":"u8);
            writer.Number(request.NetworkNamespace);
        }
        if (request.Ports.Count > 0)
        {
            writer.Raw(",\"ports\":["u8);
            for (var i = 0; i < request.Ports.Count; i++)
            {
                writer.Raw(i > 0 ? ",["u8 : "["u8);
                writer.Number(request.Ports[i].Host);
                writer.Raw(","u8);
                writer.Number(request.Ports[i].App);
                writer.Raw("]"u8);
            }
            writer.Raw("]"u8);
        }
        writer.Raw(",\"command\":["u8);
        for (var i = 0; i < request.Command.Count; i++)
        {
            if (i > 0)
            {
                writer.Raw(","u8);
            }
            writer.String(request.Command[i]);
        }
        writer.Raw("]"u8);
        if (request.Sidecar is not null)
        {
            writer.Raw(",\"sidecar\":"u8);
            writer.String(request.Sidecar);
        }
        writer.Raw("}"u8);
    }

    private static bool NeedsEscape(char c) => c < 0x20 || c == '"' || c == '\\';

    /// <summary>Writes into a buffer of the right size, or only counts the bytes when it has none.</summary>
    private struct Writer(byte[]? buffer)
    {
        private readonly byte[]? _buffer = buffer;

        public int Length { get; private set; }

        public void Raw(ReadOnlySpan<byte> bytes)
        {
            if (_buffer is not null)
            {
                bytes.CopyTo(_buffer.AsSpan(Length));
            }
            Length += bytes.Length;
        }

        public void Number(int value)
        {
            Span<byte> digits = stackalloc byte[11];
            value.TryFormat(digits, out var written, provider: CultureInfo.InvariantCulture);
            Raw(digits[..written]);
        }

        public void Number(ulong value)
        {
            Span<byte> digits = stackalloc byte[20];
            value.TryFormat(digits, out var written, provider: CultureInfo.InvariantCulture);
            Raw(digits[..written]);
        }

        public void String(string value)
        {
            Raw("\""u8);
            var rest = value.AsSpan();
            while (!rest.IsEmpty)
            {
                // Runs without escapes go through the UTF-8 encoder whole. Escapes are ASCII, so a run never ends
                // inside a surrogate pair.
                var run = 0;
                while (run < rest.Length && !NeedsEscape(rest[run]))
                {
                    run++;
                }
                Length += _buffer is null
                    ? Encoding.UTF8.GetByteCount(rest[..run])
                    : Encoding.UTF8.GetBytes(rest[..run], _buffer.AsSpan(Length));
                if (run == rest.Length)
                {
                    break;
                }
                Escape(rest[run]);
                rest = rest[(run + 1)..];
            }
            Raw("\""u8);
        }

        private void Escape(char c)
        {
            switch (c)
            {
                case '"':
                    Raw("\\\""u8);
                    break;
                case '\\':
                    Raw("\\\\"u8);
                    break;
                case '\n':
                    Raw("\\n"u8);
                    break;
                case '\r':
                    Raw("\\r"u8);
                    break;
                case '\t':
                    Raw("\\t"u8);
                    break;
                default:
                    ReadOnlySpan<byte> hex = "0123456789ABCDEF"u8;
                    Raw("\\u00"u8);
                    Raw([hex[c >> 4], hex[c & 0xF]]);
                    break;
            }
        }
    }

    /// <summary>A strict reader of RFC 8259 JSON; every error is a <see cref="FormatException"/>.</summary>
    private ref struct Reader(ReadOnlySpan<byte> input)
    {
        private readonly ReadOnlySpan<byte> _input = input;
        private int _position;

        public readonly bool AtEnd => _position == _input.Length;

        public void SkipWhitespace()
        {
            while (_position < _input.Length && _input[_position] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r')
            {
                _position++;
            }
        }

        public bool TryConsume(byte expected)
        {
            if (_position < _input.Length && _input[_position] == expected)
            {
                _position++;
                return true;
            }
            return false;
        }

        public void Expect(byte expected)
        {
            if (!TryConsume(expected))
            {
                throw new FormatException($"expected '{(char)expected}' at byte {_position}");
            }
        }

        public string? ReadStringOrNull()
        {
            if (TryLiteral("null"u8))
            {
                return null;
            }
            return ReadString();
        }

        public string ReadString()
        {
            Expect((byte)'"');
            var start = _position;
            // The common case has no escapes: decode the bytes in place.
            while (_position < _input.Length && _input[_position] is not ((byte)'"' or (byte)'\\') && _input[_position] >= 0x20)
            {
                _position++;
            }
            if (_position < _input.Length && _input[_position] == '"')
            {
                _position++;
                return Decode(_input[start..(_position - 1)]);
            }

            // Escapes: gather the UTF-8 bytes of the whole string, then decode them once.
            var bytes = new List<byte>(_position - start + 16);
            foreach (var b in _input[start.._position])
            {
                bytes.Add(b);
            }
            while (true)
            {
                if (_position >= _input.Length)
                {
                    throw new FormatException("unterminated string");
                }
                var b = _input[_position++];
                if (b == '"')
                {
                    return Decode(CollectionsMarshal.AsSpan(bytes));
                }
                if (b < 0x20)
                {
                    throw new FormatException("control character in a string");
                }
                if (b != '\\')
                {
                    bytes.Add(b);
                    continue;
                }
                if (_position >= _input.Length)
                {
                    throw new FormatException("unterminated escape");
                }
                switch (_input[_position++])
                {
                    case (byte)'"': bytes.Add((byte)'"'); break;
                    case (byte)'\\': bytes.Add((byte)'\\'); break;
                    case (byte)'/': bytes.Add((byte)'/'); break;
                    case (byte)'b': bytes.Add((byte)'\b'); break;
                    case (byte)'f': bytes.Add((byte)'\f'); break;
                    case (byte)'n': bytes.Add((byte)'\n'); break;
                    case (byte)'r': bytes.Add((byte)'\r'); break;
                    case (byte)'t': bytes.Add((byte)'\t'); break;
                    case (byte)'u': AppendCodePoint(bytes, ReadEscapedCodePoint()); break;
                    default: throw new FormatException("invalid escape");
                }
            }
        }

        /// <summary>Skips one value; <paramref name="depth"/> is the depth an object or array here would have.</summary>
        public void SkipValue(int depth)
        {
            if (_position >= _input.Length)
            {
                throw new FormatException("missing value");
            }
            switch (_input[_position])
            {
                case (byte)'"':
                    _ = ReadString();
                    return;
                case (byte)'{':
                    EnterContainer(depth);
                    SkipWhitespace();
                    if (TryConsume((byte)'}'))
                    {
                        return;
                    }
                    do
                    {
                        SkipWhitespace();
                        _ = ReadString();
                        SkipWhitespace();
                        Expect((byte)':');
                        SkipWhitespace();
                        SkipValue(depth + 1);
                        SkipWhitespace();
                    }
                    while (TryConsume((byte)','));
                    Expect((byte)'}');
                    return;
                case (byte)'[':
                    EnterContainer(depth);
                    SkipWhitespace();
                    if (TryConsume((byte)']'))
                    {
                        return;
                    }
                    do
                    {
                        SkipWhitespace();
                        SkipValue(depth + 1);
                        SkipWhitespace();
                    }
                    while (TryConsume((byte)','));
                    Expect((byte)']');
                    return;
                default:
                    if (TryLiteral("true"u8) || TryLiteral("false"u8) || TryLiteral("null"u8))
                    {
                        return;
                    }
                    SkipNumber();
                    return;
            }
        }

        private void EnterContainer(int depth)
        {
            if (depth > MaxDepth)
            {
                throw new FormatException("nested too deeply");
            }
            _position++;
        }

        private static string Decode(ReadOnlySpan<byte> utf8) =>
            Utf8.IsValid(utf8) ? Encoding.UTF8.GetString(utf8) : throw new FormatException("a string is not valid UTF-8");

        private static void AppendCodePoint(List<byte> bytes, int codePoint)
        {
            Span<byte> utf8 = stackalloc byte[4];
            var length = new Rune(codePoint).EncodeToUtf8(utf8);
            foreach (var b in utf8[..length])
            {
                bytes.Add(b);
            }
        }

        // After "\u": four hex digits, and for a high surrogate the "\uXXXX" of its low surrogate. A lone
        // surrogate is an error, as it is for JsonElement.GetString.
        private int ReadEscapedCodePoint()
        {
            var unit = ReadHex4();
            if (char.IsLowSurrogate((char)unit))
            {
                throw new FormatException("lone low surrogate");
            }
            if (!char.IsHighSurrogate((char)unit))
            {
                return unit;
            }
            if (!(TryConsume((byte)'\\') && TryConsume((byte)'u')))
            {
                throw new FormatException("lone high surrogate");
            }
            var low = ReadHex4();
            if (!char.IsLowSurrogate((char)low))
            {
                throw new FormatException("lone high surrogate");
            }
            return char.ConvertToUtf32((char)unit, (char)low);
        }

        private int ReadHex4()
        {
            if (_position + 4 > _input.Length)
            {
                throw new FormatException("short \\u escape");
            }
            var value = 0;
            for (var i = 0; i < 4; i++)
            {
                var digit = HexValue(_input[_position++]);
                value = (value << 4) | digit;
            }
            return value;
        }

        private static int HexValue(byte b) => b switch
        {
            >= (byte)'0' and <= (byte)'9' => b - '0',
            >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
            >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
            _ => throw new FormatException("invalid hex digit"),
        };

        private bool TryLiteral(ReadOnlySpan<byte> literal)
        {
            if (_input[_position..].StartsWith(literal))
            {
                _position += literal.Length;
                return true;
            }
            return false;
        }

        // -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
        private void SkipNumber()
        {
            TryConsume((byte)'-');
            if (!TryConsume((byte)'0'))
            {
                if (!IsDigitAt(_position) || _input[_position] == '0')
                {
                    throw new FormatException("invalid value");
                }
                SkipDigits();
            }
            if (TryConsume((byte)'.'))
            {
                RequireDigits();
            }
            if (TryConsume((byte)'e') || TryConsume((byte)'E'))
            {
                if (!TryConsume((byte)'+'))
                {
                    TryConsume((byte)'-');
                }
                RequireDigits();
            }
        }

        private void RequireDigits()
        {
            if (!IsDigitAt(_position))
            {
                throw new FormatException("invalid number");
            }
            SkipDigits();
        }

        private void SkipDigits()
        {
            while (IsDigitAt(_position))
            {
                _position++;
            }
        }

        private readonly bool IsDigitAt(int position) => position < _input.Length && _input[position] is >= (byte)'0' and <= (byte)'9';
    }
}
