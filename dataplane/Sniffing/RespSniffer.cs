namespace Istio.AppSwitch.Sniffing;

/// <summary>
/// A Redis RESP request: an array of bulk strings, <c>*N\r\n$len\r\nCOMMAND\r\n...</c>, which every Redis client
/// library and redis-cli send. Only the array header and the first bulk string (the command name) are read. Redis
/// itself requires CRLF here, not a bare LF.
/// </summary>
internal static class RespSniffer
{
    private const int MaxDigits = 7; // MaxRespArrayLength has 7 digits; MaxRespCommandLength fewer.

    public static SniffStatus Sniff(ReadOnlySpan<byte> data, out SniffResult result)
    {
        result = SniffResult.None;
        var position = 1;
        var status = ReadLength(data, ref position, out var count);
        if (status != SniffStatus.Complete)
        {
            return status;
        }

        if (count is < 1 or > SniffLimits.MaxRespArrayLength)
        {
            return SniffStatus.Unrecognized;
        }

        // From here the bytes can only be RESP: say Redis even while the command is still to come.
        result = Results.RedisPending;
        if (position == data.Length)
        {
            return SniffStatus.NeedMoreData;
        }

        if (data[position] != '$')
        {
            result = SniffResult.None;
            return SniffStatus.Unrecognized;
        }

        position++;
        status = ReadLength(data, ref position, out var length);
        if (status == SniffStatus.NeedMoreData)
        {
            return status;
        }

        if (status == SniffStatus.Unrecognized || length is < 1 or > SniffLimits.MaxRespCommandLength)
        {
            result = SniffResult.None;
            return SniffStatus.Unrecognized;
        }

        var rest = data[position..];
        var name = rest[..Math.Min(length, rest.Length)];
        // The command name is printable ASCII without spaces; checked on what has arrived so that junk fails early.
        if (name.ContainsAnyExceptInRange((byte)0x21, (byte)0x7E))
        {
            result = SniffResult.None;
            return SniffStatus.Unrecognized;
        }

        var terminator = rest[name.Length..];
        if (name.Length < length || terminator.Length < 2)
        {
            if ((terminator.Length == 1 && terminator[0] != '\r'))
            {
                result = SniffResult.None;
                return SniffStatus.Unrecognized;
            }

            return SniffStatus.NeedMoreData;
        }

        if (terminator[0] != '\r' || terminator[1] != '\n')
        {
            result = SniffResult.None;
            return SniffStatus.Unrecognized;
        }

        Span<char> buffer = stackalloc char[SniffLimits.MaxRespCommandLength];
        var lower = TextBytes.ToLower(name, buffer);
        var command = TextCommands.TryGetRedis(lower, out var known) ? known : new string(lower);
        result = new SniffResult(SniffedProtocol.Redis, Results.RedisToken) { Command = command };
        return SniffStatus.Complete;
    }

    /// <summary>Reads <c>digits CR LF</c> at <paramref name="position"/> and moves past it.</summary>
    private static SniffStatus ReadLength(ReadOnlySpan<byte> data, ref int position, out int value)
    {
        value = 0;
        var digits = 0;
        while (position < data.Length && char.IsAsciiDigit((char)data[position]))
        {
            if (++digits > MaxDigits)
            {
                return SniffStatus.Unrecognized;
            }

            value = (value * 10) + (data[position] - '0');
            position++;
        }

        if (position == data.Length)
        {
            return SniffStatus.NeedMoreData;
        }

        if (digits == 0 || data[position] != '\r')
        {
            return SniffStatus.Unrecognized;
        }

        if (++position == data.Length)
        {
            return SniffStatus.NeedMoreData;
        }

        if (data[position] != '\n')
        {
            return SniffStatus.Unrecognized;
        }

        position++;
        return SniffStatus.Complete;
    }
}
