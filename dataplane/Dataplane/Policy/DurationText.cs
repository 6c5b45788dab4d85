using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace Istio.AppSwitch.Dataplane.Policy;

/// <summary>
/// Durations written the way Go, Kubernetes and Istio write them (<c>30s</c>, <c>1m30s</c>, <c>250ms</c>, <c>0</c>),
/// because those are what the users of a mesh type.
/// </summary>
public static class DurationText
{
    /// <summary>Parses <paramref name="text"/>; a bare number other than 0 is refused, since its unit would be a guess.</summary>
    public static bool TryParse(string? text, TimeSpan max, out TimeSpan value, [NotNullWhen(false)] out string? problem)
    {
        value = TimeSpan.Zero;
        var s = text?.Trim() ?? "";
        if (s.Length == 0)
        {
            problem = "a duration is required, such as 30s, 1m30s or 500ms";
            return false;
        }
        if (s == "0")
        {
            problem = null;
            return true;
        }
        var ticks = 0.0;
        var i = 0;
        while (i < s.Length)
        {
            var start = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.'))
            {
                i++;
            }
            var unitStart = i;
            while (i < s.Length && char.IsAsciiLetter(s[i]))
            {
                i++;
            }
            if (unitStart == start
                || (unitStart == i && i < s.Length)
                || !double.TryParse(s.AsSpan(start, unitStart - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            {
                problem = $"\"{text}\" is not a duration: expected a number followed by a unit (ms, s, m or h), such as 30s or 1m30s";
                return false;
            }
            var unit = s.AsSpan(unitStart, i - unitStart);
            var perUnit = unit switch
            {
                "ms" => TimeSpan.TicksPerMillisecond,
                "s" => TimeSpan.TicksPerSecond,
                "m" => TimeSpan.TicksPerMinute,
                "h" => TimeSpan.TicksPerHour,
                _ => 0L,
            };
            if (perUnit == 0)
            {
                problem = unit.Length == 0
                    ? $"\"{text}\" has a number without a unit; write ms, s, m or h (0 needs none)"
                    : $"\"{text}\" has the unknown unit \"{unit}\"; use ms, s, m or h";
                return false;
            }
            ticks += number * perUnit;
        }
        if (ticks > max.Ticks)
        {
            problem = $"\"{text}\" is longer than the most allowed, {Format(max)}";
            return false;
        }
        value = TimeSpan.FromTicks((long)ticks);
        problem = null;
        return true;
    }

    /// <summary>The shortest text that parses back to <paramref name="value"/> (to the millisecond): <c>1m30s</c>, <c>250ms</c>, <c>0</c>.</summary>
    public static string Format(TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            return "0";
        }
        var builder = new StringBuilder();
        if (value.Days > 0 || value.Hours > 0)
        {
            builder.Append(CultureInfo.InvariantCulture, $"{(int)value.TotalHours}h");
        }
        if (value.Minutes > 0)
        {
            builder.Append(CultureInfo.InvariantCulture, $"{value.Minutes}m");
        }
        if (value.Seconds > 0 || value.Milliseconds > 0)
        {
            builder.Append(value.Milliseconds == 0
                ? string.Create(CultureInfo.InvariantCulture, $"{value.Seconds}s")
                : value.Seconds == 0 && builder.Length == 0
                    ? string.Create(CultureInfo.InvariantCulture, $"{value.Milliseconds}ms")
                    : string.Create(CultureInfo.InvariantCulture, $"{value.Seconds + (value.Milliseconds / 1000.0):0.###}s"));
        }
        return builder.Length == 0 ? "0" : builder.ToString();
    }
}
