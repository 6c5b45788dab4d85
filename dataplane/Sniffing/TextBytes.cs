using System.Buffers;
using System.Text;

namespace Istio.AppSwitch.Sniffing;

/// <summary>Byte classes of the text protocols (RFC 9110 section 5.6.2 for tokens).</summary>
internal static class TextBytes
{
    private static readonly SearchValues<byte> TokenBytes =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    // Control characters other than HT: never in a request line, a field value or a command line.
    private static readonly SearchValues<byte> ControlBytes = SearchValues.Create(
        [.. Enumerable.Range(0, 0x20).Where(b => b != '\t').Select(b => (byte)b), 0x7F]);

    private static readonly SearchValues<byte> VerbBytes =
        SearchValues.Create("_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    public static bool IsToken(byte b) => TokenBytes.Contains(b);

    public static bool IsToken(ReadOnlySpan<byte> span) => !span.IsEmpty && !span.ContainsAnyExcept(TokenBytes);

    /// <summary>A Redis or memcached verb: letters, digits and '_' (<c>flush_all</c>, <c>sort_ro</c>).</summary>
    public static bool IsVerb(ReadOnlySpan<byte> span) => !span.IsEmpty && !span.ContainsAnyExcept(VerbBytes);

    public static bool ContainsControl(ReadOnlySpan<byte> span) => span.ContainsAny(ControlBytes);

    public static bool IsWhitespace(byte b) => b is (byte)' ' or (byte)'\t';

    public static ReadOnlySpan<byte> TrimWhitespace(ReadOnlySpan<byte> span)
    {
        var start = 0;
        while (start < span.Length && IsWhitespace(span[start]))
        {
            start++;
        }

        var end = span.Length;
        while (end > start && IsWhitespace(span[end - 1]))
        {
            end--;
        }

        return span[start..end];
    }

    /// <summary>Lower-cases ASCII <paramref name="source"/> into <paramref name="destination"/>, which is at least
    /// as long.</summary>
    public static ReadOnlySpan<char> ToLower(ReadOnlySpan<byte> source, Span<char> destination)
    {
        Ascii.ToLower(source, destination, out var written);
        return destination[..written];
    }

    public static bool HasUpper(ReadOnlySpan<byte> span) => span.ContainsAnyInRange((byte)'A', (byte)'Z');

    /// <summary>An unsigned decimal, as memcached reads flags, lengths and deltas.</summary>
    public static bool IsDigits(ReadOnlySpan<byte> span) => !span.IsEmpty && !span.ContainsAnyExceptInRange((byte)'0', (byte)'9');

    /// <summary>A decimal with an optional '-' (memcached's exptime may be negative).</summary>
    public static bool IsInteger(ReadOnlySpan<byte> span) => IsDigits(!span.IsEmpty && span[0] == '-' ? span[1..] : span);
}
