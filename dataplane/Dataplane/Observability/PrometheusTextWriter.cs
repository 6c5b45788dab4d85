using System.Globalization;

namespace Istio.AppSwitch.Dataplane.Observability;

/// <summary>The type a metric family declares in its <c># TYPE</c> line.</summary>
public enum MetricType
{
    /// <summary>Only goes up (reset at restart); the name ends in <c>_total</c>.</summary>
    Counter,

    /// <summary>Goes up and down.</summary>
    Gauge,

    /// <summary>Cumulative buckets, <c>_sum</c> and <c>_count</c>.</summary>
    Histogram,
}

/// <summary>
/// Writes the Prometheus text exposition format, version 0.0.4
/// (https://prometheus.io/docs/instrumenting/exposition_formats/): per family a <c># HELP</c> and a <c># TYPE</c>
/// line, then its samples, label values escaped (<c>\\</c>, <c>\"</c>, <c>\n</c>), histograms as cumulative
/// <c>_bucket</c> lines ending in <c>le="+Inf"</c>, then <c>_sum</c> and <c>_count</c>. Names are checked, and a
/// family declared twice or a sample outside its family is an error: a scraper rejects the whole page for either.
/// </summary>
public sealed class PrometheusTextWriter
{
    /// <summary>The Content-Type of the format.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly TextWriter _writer;
    private readonly HashSet<string> _declared = new(StringComparer.Ordinal);
    private string? _family;
    private MetricType _type;

    /// <summary>Writes to <paramref name="writer"/>, with <c>\n</c> line ends whatever the platform.</summary>
    public PrometheusTextWriter(TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        _writer = writer;
    }

    /// <summary>Starts a family: its HELP and TYPE lines. Its samples must follow before the next family.</summary>
    public void Family(string name, MetricType type, string help)
    {
        CheckMetricName(name);
        if (!_declared.Add(name))
        {
            throw new InvalidOperationException($"metric family {name} declared twice");
        }
        if (type == MetricType.Counter && !name.EndsWith("_total", StringComparison.Ordinal))
        {
            throw new ArgumentException($"counter {name} must end in _total", nameof(name));
        }
        _family = name;
        _type = type;
        _writer.Write("# HELP ");
        _writer.Write(name);
        _writer.Write(' ');
        WriteEscaped(help, quote: false);
        _writer.Write('\n');
        _writer.Write("# TYPE ");
        _writer.Write(name);
        _writer.Write(' ');
        _writer.Write(type switch { MetricType.Counter => "counter", MetricType.Gauge => "gauge", _ => "histogram" });
        _writer.Write('\n');
    }

    /// <summary>One sample of the current counter or gauge family.</summary>
    public void Sample(double value, params ReadOnlySpan<(string Name, string Value)> labels)
    {
        if (_family is null || _type == MetricType.Histogram)
        {
            throw new InvalidOperationException("a counter or gauge sample needs its family first");
        }
        WriteLine(_family, "", labels, default, value);
    }

    /// <summary>One histogram of the current histogram family, with its labels.</summary>
    public void Histogram(HistogramSnapshot histogram, params ReadOnlySpan<(string Name, string Value)> labels)
    {
        ArgumentNullException.ThrowIfNull(histogram);
        if (_family is null || _type != MetricType.Histogram)
        {
            throw new InvalidOperationException("a histogram needs its histogram family first");
        }
        foreach (var label in labels)
        {
            if (label.Name == "le")
            {
                throw new ArgumentException("\"le\" is the bucket label of a histogram", nameof(labels));
            }
        }
        for (var i = 0; i < histogram.Cumulative.Length; i++)
        {
            var le = i < histogram.Bounds.Count ? FormatValue(histogram.Bounds[i]) : "+Inf";
            WriteLine(_family, "_bucket", labels, ("le", le), histogram.Cumulative[i]);
        }
        WriteLine(_family, "_sum", labels, default, histogram.Sum);
        WriteLine(_family, "_count", labels, default, histogram.Count);
    }

    private void WriteLine(string family, string suffix, ReadOnlySpan<(string Name, string Value)> labels, (string? Name, string? Value) extra, double value)
    {
        _writer.Write(family);
        _writer.Write(suffix);
        if (labels.Length > 0 || extra.Name is not null)
        {
            _writer.Write('{');
            var first = true;
            foreach (var (name, labelValue) in labels)
            {
                WriteLabel(name, labelValue, ref first);
            }
            if (extra.Name is not null)
            {
                WriteLabel(extra.Name, extra.Value!, ref first);
            }
            _writer.Write('}');
        }
        _writer.Write(' ');
        _writer.Write(FormatValue(value));
        _writer.Write('\n');
    }

    private void WriteLabel(string name, string value, ref bool first)
    {
        CheckLabelName(name);
        ArgumentNullException.ThrowIfNull(value);
        if (!first)
        {
            _writer.Write(',');
        }
        first = false;
        _writer.Write(name);
        _writer.Write("=\"");
        WriteEscaped(value, quote: true);
        _writer.Write('"');
    }

    // HELP escapes backslash and line feed; a label value also the double quote.
    private void WriteEscaped(string text, bool quote)
    {
        foreach (var c in text)
        {
            switch (c)
            {
                case '\\':
                    _writer.Write("\\\\");
                    break;
                case '\n':
                    _writer.Write("\\n");
                    break;
                case '"' when quote:
                    _writer.Write("\\\"");
                    break;
                default:
                    _writer.Write(c);
                    break;
            }
        }
    }

    /// <summary>
    /// A sample value as the Go client writes it (and Go's ParseFloat reads it): the shortest round-trip form, integers
    /// without a point, a lower-case exponent (<c>5e-05</c>), <c>+Inf</c>, <c>-Inf</c>, <c>NaN</c>.
    /// </summary>
    public static string FormatValue(double value) =>
        double.IsNaN(value) ? "NaN"
        : double.IsPositiveInfinity(value) ? "+Inf"
        : double.IsNegativeInfinity(value) ? "-Inf"
        : value.ToString("R", CultureInfo.InvariantCulture).Replace('E', 'e');

    private static void CheckMetricName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (!(char.IsAsciiLetter(c) || c is '_' or ':' || (i > 0 && char.IsAsciiDigit(c))))
            {
                throw new ArgumentException($"\"{name}\" is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)", nameof(name));
            }
        }
    }

    private static void CheckLabelName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.StartsWith("__", StringComparison.Ordinal))
        {
            throw new ArgumentException($"label names starting with __ are reserved: {name}", nameof(name));
        }
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (!(char.IsAsciiLetter(c) || c == '_' || (i > 0 && char.IsAsciiDigit(c))))
            {
                throw new ArgumentException($"\"{name}\" is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)", nameof(name));
            }
        }
    }
}
