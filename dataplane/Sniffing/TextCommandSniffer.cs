namespace Istio.AppSwitch.Sniffing;

/// <summary>
/// A complete text command line that is not HTTP: a Redis inline command or a memcached text or meta command. Both
/// are <c>verb args...</c>, so the verb decides, then the arguments (see docs/sniffing.md, "Redis or memcached"):
/// <list type="bullet">
/// <item>a verb only memcached has (<c>gets</c>, <c>cas</c>, <c>mg</c>, ...) is memcached if written in lower case,
/// as memcached matches verbs case-sensitively; otherwise it is neither;</item>
/// <item>a verb only Redis has (<c>ping</c>, <c>auth</c>, <c>hello</c>, ...) is Redis, in any case;</item>
/// <item>a verb both have (<c>get</c>, <c>set</c>, <c>incr</c>, ...) is Redis when not in lower case, and otherwise
/// is decided by the arguments where exactly one of the two accepts them (memcached's <c>set k 0 0 5</c>, Redis's
/// <c>incr k</c>). When both or neither would, the result is protocol Unknown with the command set.</item>
/// </list>
/// </summary>
internal static class TextCommandSniffer
{
    public static SniffStatus Sniff(ReadOnlySpan<byte> line, out SniffResult result)
    {
        result = SniffResult.None;
        var verbEnd = line.IndexOfAny((byte)' ', (byte)'\t');
        var verb = verbEnd < 0 ? line : line[..verbEnd];
        if (verb.Length > SniffLimits.MaxVerbLength || !TextBytes.IsVerb(verb) || TextBytes.ContainsControl(line))
        {
            return SniffStatus.Unrecognized;
        }

        Span<char> buffer = stackalloc char[SniffLimits.MaxVerbLength];
        var lower = TextBytes.ToLower(verb, buffer);
        var inMemcached = TextCommands.TryGetMemcached(lower, out var memcachedVerb);
        var inRedis = TextCommands.TryGetRedis(lower, out var redisVerb);
        var lowerCase = !TextBytes.HasUpper(verb);
        var args = verbEnd < 0 ? default : line[verbEnd..];

        var (protocol, command) = (inMemcached, inRedis) switch
        {
            (true, false) when lowerCase => (SniffedProtocol.Memcached, memcachedVerb),
            (false, true) => (SniffedProtocol.Redis, redisVerb),
            (true, true) when !lowerCase => (SniffedProtocol.Redis, redisVerb),
            (true, true) => (ByArguments(redisVerb, args), redisVerb),
            _ => (SniffedProtocol.Unknown, null),
        };
        if (command is null)
        {
            return SniffStatus.Unrecognized;
        }

        result = new SniffResult(protocol, Results.TokenOf(protocol)) { Command = command };
        return SniffStatus.Complete;
    }

    /// <summary>Decides a lower-case verb that both servers know by which of them accepts its arguments (memcached's
    /// protocol.txt, Redis's command arities).</summary>
    private static SniffedProtocol ByArguments(string verb, ReadOnlySpan<byte> args)
    {
        var arguments = new Arguments(args);
        var (memcached, redis) = verb switch
        {
            "get" => (arguments.Count >= 1, arguments.Count == 1),
            "set" => (IsStorage(arguments), arguments.Count >= 2 && !IsStorage(arguments)),
            "append" => (IsStorage(arguments), arguments.Count == 2),
            "incr" or "decr" => (IsKeyNumber(arguments, TextBytes.IsDigits), arguments.Count == 1),
            "touch" => (IsKeyNumber(arguments, TextBytes.IsInteger), arguments.Count >= 1),
            _ => (true, true),
        };
        return (memcached, redis) switch
        {
            (true, false) => SniffedProtocol.Memcached,
            (false, true) => SniffedProtocol.Redis,
            _ => SniffedProtocol.Unknown,
        };
    }

    /// <summary><c>key flags exptime bytes [noreply]</c>.</summary>
    private static bool IsStorage(Arguments arguments) =>
        arguments.Count is 4 or 5 && TextBytes.IsDigits(arguments[1]) && TextBytes.IsInteger(arguments[2]) &&
        TextBytes.IsDigits(arguments[3]) && (arguments.Count == 4 || arguments[4].SequenceEqual("noreply"u8));

    /// <summary><c>key number [noreply]</c> (incr, decr, touch).</summary>
    private static bool IsKeyNumber(Arguments arguments, SpanPredicate isNumber) =>
        arguments.Count is 2 or 3 && isNumber(arguments[1]) && (arguments.Count == 2 || arguments[2].SequenceEqual("noreply"u8));

    private delegate bool SpanPredicate(ReadOnlySpan<byte> span);

    /// <summary>The arguments of a command line, split on runs of spaces and tabs as both servers do.</summary>
    private readonly ref struct Arguments
    {
        private readonly ReadOnlySpan<byte> _text;

        public Arguments(ReadOnlySpan<byte> text)
        {
            _text = text;
            var count = 0;
            var rest = TextBytes.TrimWhitespace(text);
            while (!rest.IsEmpty)
            {
                count++;
                var end = rest.IndexOfAny((byte)' ', (byte)'\t');
                rest = end < 0 ? default : TextBytes.TrimWhitespace(rest[end..]);
            }

            Count = count;
        }

        public int Count { get; }

        public ReadOnlySpan<byte> this[int index]
        {
            get
            {
                var rest = TextBytes.TrimWhitespace(_text);
                for (var i = 0; !rest.IsEmpty; i++)
                {
                    var end = rest.IndexOfAny((byte)' ', (byte)'\t');
                    if (i == index)
                    {
                        return end < 0 ? rest : rest[..end];
                    }

                    rest = end < 0 ? default : TextBytes.TrimWhitespace(rest[end..]);
                }

                return default;
            }
        }
    }
}
