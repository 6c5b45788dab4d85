using System.Diagnostics;
using System.Globalization;
using Istio.AppSwitch.Dataplane.Observability;

namespace Istio.AppSwitch.Dataplane.Tests.Observability;

/// <summary>The text exposition format 0.0.4, line by line (https://prometheus.io/docs/instrumenting/exposition_formats/).</summary>
public sealed class PrometheusTextWriterTests
{
    private static (PrometheusTextWriter Writer, StringWriter Text) Create()
    {
        var text = new StringWriter(CultureInfo.InvariantCulture);
        return (new PrometheusTextWriter(text), text);
    }

    [Fact]
    public void Counter_HelpTypeAndLabelledSamples()
    {
        var (writer, text) = Create();
        writer.Family("ax_connections_total", MetricType.Counter, "Connects ax decided.");
        writer.Sample(3, ("ref", "redis"), ("mode", "unix"));
        writer.Sample(0);

        Assert.Equal(
            "# HELP ax_connections_total Connects ax decided.\n" +
            "# TYPE ax_connections_total counter\n" +
            "ax_connections_total{ref=\"redis\",mode=\"unix\"} 3\n" +
            "ax_connections_total 0\n",
            text.ToString());
    }

    [Fact]
    public void LabelValues_EscapeBackslashQuoteAndNewline_HelpEscapesBackslashAndNewlineOnly()
    {
        var (writer, text) = Create();
        writer.Family("ax_g", MetricType.Gauge, "a \"quoted\" help\\with\nnewline");
        writer.Sample(1.5, ("path", "C:\\dir\n\"x\""));

        var lines = text.ToString().Split('\n');
        Assert.Equal("# HELP ax_g a \"quoted\" help\\\\with\\nnewline", lines[0]);
        Assert.Equal("ax_g{path=\"C:\\\\dir\\n\\\"x\\\"\"} 1.5", lines[2]);
    }

    [Fact]
    public void Histogram_CumulativeBucketsInfSumAndCount()
    {
        var histogram = new FixedHistogram(0.01, 0.1, 1);
        histogram.Observe(TimeSpan.FromMilliseconds(5));
        histogram.Observe(TimeSpan.FromMilliseconds(50));
        histogram.Observe(TimeSpan.FromMilliseconds(60));
        histogram.Observe(TimeSpan.FromSeconds(5));
        var (writer, text) = Create();
        writer.Family("ax_wait_seconds", MetricType.Histogram, "Waits.");
        writer.Histogram(histogram.Snapshot(), ("ref", "a"));

        var lines = text.ToString().TrimEnd('\n').Split('\n');
        Assert.Equal("# TYPE ax_wait_seconds histogram", lines[1]);
        Assert.Equal("ax_wait_seconds_bucket{ref=\"a\",le=\"0.01\"} 1", lines[2]);
        Assert.Equal("ax_wait_seconds_bucket{ref=\"a\",le=\"0.1\"} 3", lines[3]);
        Assert.Equal("ax_wait_seconds_bucket{ref=\"a\",le=\"1\"} 3", lines[4]);
        Assert.Equal("ax_wait_seconds_bucket{ref=\"a\",le=\"+Inf\"} 4", lines[5]);
        Assert.StartsWith("ax_wait_seconds_sum{ref=\"a\"} 5.11", lines[6], StringComparison.Ordinal);
        Assert.Equal("ax_wait_seconds_count{ref=\"a\"} 4", lines[7]);
        Assert.Equal(8, lines.Length);
    }

    [Fact]
    public void Histogram_ObservationOnABound_CountsInThatBucket()
    {
        // le is "less than or equal".
        var histogram = new FixedHistogram(1, 2);
        histogram.Observe((long)Stopwatch.Frequency);
        Assert.Equal([1L, 1L, 1L], histogram.Snapshot().Cumulative);
    }

    [Theory]
    [InlineData(double.PositiveInfinity, "+Inf")]
    [InlineData(double.NegativeInfinity, "-Inf")]
    [InlineData(double.NaN, "NaN")]
    [InlineData(5e-05, "5e-05")]
    [InlineData(42d, "42")]
    [InlineData(0.25, "0.25")]
    public void Values_AsGoWritesThem(double value, string expected) => Assert.Equal(expected, PrometheusTextWriter.FormatValue(value));

    [Theory]
    [InlineData("1abc")]
    [InlineData("ax-bad")]
    [InlineData("")]
    public void BadMetricName_Throws(string name)
    {
        var (writer, _) = Create();
        Assert.ThrowsAny<ArgumentException>(() => writer.Family(name, MetricType.Gauge, "x"));
    }

    [Fact]
    public void CounterWithoutTotal_FamilyTwice_SampleWithoutFamily_ReservedLabels_AllThrow()
    {
        var (writer, _) = Create();
        Assert.Throws<InvalidOperationException>(() => writer.Sample(1));
        Assert.Throws<ArgumentException>(() => writer.Family("ax_things", MetricType.Counter, "x"));
        writer.Family("ax_g", MetricType.Gauge, "x");
        Assert.Throws<InvalidOperationException>(() => writer.Family("ax_g", MetricType.Gauge, "x"));
        Assert.Throws<ArgumentException>(() => writer.Sample(1, ("__name__", "x")));
        Assert.Throws<ArgumentException>(() => writer.Sample(1, ("bad-label", "x")));
        Assert.Throws<InvalidOperationException>(() => writer.Histogram(new FixedHistogram(1).Snapshot()));
        writer.Family("ax_h_seconds", MetricType.Histogram, "x");
        Assert.Throws<ArgumentException>(() => writer.Histogram(new FixedHistogram(1).Snapshot(), ("le", "1")));
    }

    [Fact]
    public void FixedHistogram_BoundsMustIncrease() =>
        Assert.Throws<ArgumentException>(() => new FixedHistogram(1, 1));

    [Fact]
    public void FixedHistogram_ConcurrentObservations_AllCounted()
    {
        var histogram = new FixedHistogram(0.001, 1);
        Parallel.For(0, 8, _ =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                histogram.Observe(i % 3 == 0 ? TimeSpan.FromSeconds(2) : TimeSpan.FromMicroseconds(10));
            }
        });
        var snapshot = histogram.Snapshot();
        Assert.Equal(80_000, snapshot.Count);
        Assert.Equal(8 * 3334, snapshot.Count - snapshot.Cumulative[1]);
    }
}
