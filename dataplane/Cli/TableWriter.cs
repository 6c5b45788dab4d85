namespace Istio.AppSwitch.Cli;

/// <summary>
/// Writes rows as kubectl does: an upper-case header, columns padded to their widest cell and separated by three
/// spaces, no borders, no trailing spaces. Scripts can split the lines on whitespace.
/// </summary>
internal sealed class TableWriter
{
    private const int Gap = 3;
    private readonly string[] _header;
    private readonly List<string[]> _rows = [];

    public TableWriter(params string[] header)
    {
        _header = header;
    }

    /// <summary>Adds a row; empty cells print as <c>&lt;none&gt;</c>, as in kubectl.</summary>
    public void Add(params string?[] cells)
    {
        if (cells.Length != _header.Length)
        {
            throw new ArgumentException($"a row has {_header.Length} cells, not {cells.Length}", nameof(cells));
        }
        _rows.Add(cells.Select(c => string.IsNullOrEmpty(c) ? "<none>" : c).ToArray());
    }

    /// <summary>
    /// Writes the table. With <paramref name="maxWidth"/> (a terminal's width), the widest columns are narrowed until
    /// each line fits, and cells cut short end in an ellipsis; no column gets narrower than its header or
    /// <see cref="MinimumColumn"/>, so a very narrow terminal still wraps. Without it, cells are whole (for scripts).
    /// </summary>
    public void WriteTo(TextWriter writer, int? maxWidth = null)
    {
        var widths = new int[_header.Length];
        foreach (var row in _rows.Prepend(_header))
        {
            for (var i = 0; i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }
        if (maxWidth is { } max)
        {
            Fit(widths, max);
        }
        foreach (var row in _rows.Prepend(_header))
        {
            var line = string.Concat(row.Select((cell, i) =>
            {
                var fitted = cell.Length > widths[i] ? string.Concat(cell.AsSpan(0, widths[i] - 1), "\u2026") : cell;
                return i == row.Length - 1 ? fitted : fitted.PadRight(widths[i] + Gap);
            }));
            writer.WriteLine(line.TrimEnd());
        }
    }

    /// <summary>The narrowest a column is cut to.</summary>
    public const int MinimumColumn = 6;

    private void Fit(int[] widths, int max)
    {
        var floor = _header.Select(h => Math.Max(h.Length, MinimumColumn)).ToArray();
        var total = widths.Sum() + (Gap * (widths.Length - 1));
        while (total > max)
        {
            // Narrow the widest column that may still give: long cells (commands, label sets) give way first.
            var widest = -1;
            for (var i = 0; i < widths.Length; i++)
            {
                if (widths[i] > floor[i] && (widest < 0 || widths[i] > widths[widest]))
                {
                    widest = i;
                }
            }
            if (widest < 0)
            {
                return;
            }
            widths[widest]--;
            total--;
        }
    }

    /// <summary>An age as kubectl prints it: <c>45s</c>, <c>12m</c>, <c>3h</c>, <c>5d</c>.</summary>
    public static string Age(DateTimeOffset since, DateTimeOffset now)
    {
        var age = now - since;
        if (age < TimeSpan.Zero)
        {
            age = TimeSpan.Zero;
        }
        return age.TotalSeconds < 120 ? $"{(int)age.TotalSeconds}s"
            : age.TotalMinutes < 120 ? $"{(int)age.TotalMinutes}m"
            : age.TotalHours < 48 ? $"{(int)age.TotalHours}h"
            : $"{(int)age.TotalDays}d";
    }
}
