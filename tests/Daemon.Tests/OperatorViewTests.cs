using System.Globalization;
using System.Net;
using System.Text.Json;
using Istio.AppSwitch.Cli;
using YamlDotNet.RepresentationModel;

namespace Istio.AppSwitch.Daemon.Tests;

/// <summary>The --metrics listener, the describe and connections endpoints on an in-process daemon, and the CLI's output formats.</summary>
public sealed class OperatorViewTests
{
    [Fact]
    public async Task MetricsListener_ServesOnlyMetrics_AndTheApiSocketDoesNotServeMetrics()
    {
        var metricsPath = Path.Combine(Path.GetDirectoryName(TestDaemon.NewSocketPath())!, "metrics.sock");
        await using var daemon = await TestDaemon.StartAsync(metrics: MetricsAddress.Parse("unix:" + metricsPath));
        using var metrics = TestDaemon.CreateHttpClient(metricsPath);
        using var api = daemon.CreateHttpClient();

        using var scrape = await metrics.GetAsync("metrics");
        var body = await scrape.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, scrape.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", scrape.Content.Headers.ContentType!.ToString());
        Assert.Contains("# TYPE ax_connections_total counter\n", body, StringComparison.Ordinal);
        Assert.Contains("# TYPE ax_held_connect_wait_seconds histogram\nax_held_connect_wait_seconds_bucket{le=\"0.001\"} 0\n", body, StringComparison.Ordinal);
        Assert.Contains("\nax_apps 0\n", body, StringComparison.Ordinal);
        Assert.Contains("\nax_refs 0\n", body, StringComparison.Ordinal);

        // The REST API is not reachable through the metrics address, whatever the path.
        using var apiThroughMetrics = await metrics.GetAsync("v1/apps");
        Assert.Equal(HttpStatusCode.NotFound, apiThroughMetrics.StatusCode);
        using var post = await metrics.PostAsync("metrics", TestDaemon.Json("{}"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
        using var metricsThroughApi = await api.GetAsync("metrics");
        Assert.Equal(HttpStatusCode.NotFound, metricsThroughApi.StatusCode);

        daemon.Refs.Create(new Dataplane.Policy.RefSpec("db", "127.96.91.30:5432", "app=db", null));
        Assert.Contains("\nax_refs 1\n", await metrics.GetStringAsync("metrics"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task DescribeRef_UserRef_SaysWhatItMatchesAndWhy_UnknownIs404()
    {
        await using var daemon = await TestDaemon.StartAsync();
        daemon.Refs.Create(new Dataplane.Policy.RefSpec("db", "127.96.91.31:5432", "app=db", NoUnix: true));
        using var api = daemon.CreateHttpClient();

        using var described = JsonDocument.Parse(await api.GetStringAsync("v1/refs/db/describe"));
        var root = described.RootElement;
        Assert.Equal("api", root.GetProperty("origin").GetString());
        Assert.Equal("fast", root.GetProperty("mode").GetString());
        Assert.Contains("--no-unix", root.GetProperty("reasons")[0].GetString(), StringComparison.Ordinal);
        Assert.Equal("127.96.91.31:5432", root.GetProperty("ref").GetProperty("vip").GetString());
        Assert.Equal(0, root.GetProperty("services").GetArrayLength());

        using var missing = await api.GetAsync("v1/refs/nope/describe");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var noApp = await api.GetAsync("v1/apps/app-999/describe");
        Assert.Equal(HttpStatusCode.NotFound, noApp.StatusCode);
        Assert.Equal("[]", await api.GetStringAsync("v1/connections"));
    }

    [Theory]
    [InlineData("127.0.0.1:9464", "127.0.0.1:9464")]
    [InlineData("[::1]:9464", "[::1]:9464")]
    [InlineData(":9464", "[::]:9464")]
    [InlineData("localhost:9464", "127.0.0.1:9464")]
    [InlineData("unix:/run/ax/metrics.sock", "unix:/run/ax/metrics.sock")]
    public void MetricsAddress_Parses(string text, string expected) => Assert.Equal(expected, MetricsAddress.Parse(text).ToString());

    [Theory]
    [InlineData("9464", "no port")]
    [InlineData("127.0.0.1:0", "is not a port")]
    [InlineData("127.0.0.1:99999", "is not a port")]
    [InlineData("prometheus.local:9464", "names other than localhost")]
    [InlineData("unix:metrics.sock", "absolute path")]
    [InlineData("[127.0.0.1]:80", "not an IPv6 address")]
    public void MetricsAddress_BadInput_SaysWhy(string text, string why) =>
        Assert.Contains(why, Assert.Throws<FormatException>(() => MetricsAddress.Parse(text)).Message, StringComparison.Ordinal);

    [Fact]
    public void Yaml_ReadsBackAsTheSameDocument_StringsThatLookTypedStayStrings()
    {
        const string json = """{"name":"redis","port":6379,"ratio":0.5,"on":true,"none":null,"labels":{"version":"1.10","flag":"no","empty":""},"command":["redis-server","--port","6379"],"list":[],"map":{}}""";
        var yaml = StructuredOutput.ToYaml(json);

        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var root = (YamlMappingNode)stream.Documents[0].RootNode;
        Assert.Equal("redis", ((YamlScalarNode)root["name"]).Value);
        Assert.Equal(YamlDotNet.Core.ScalarStyle.Plain, ScalarStyleOf(root["port"]));
        Assert.Equal("6379", ((YamlScalarNode)root["port"]).Value);
        var labels = (YamlMappingNode)root["labels"];
        // "1.10" and "no" would be a float and a boolean if plain: they are quoted.
        Assert.NotEqual(YamlDotNet.Core.ScalarStyle.Plain, ScalarStyleOf(labels["version"]));
        Assert.NotEqual(YamlDotNet.Core.ScalarStyle.Plain, ScalarStyleOf(labels["flag"]));
        Assert.Equal("", ((YamlScalarNode)labels["empty"]).Value);
        Assert.Equal(["redis-server", "--port", "6379"], ((YamlSequenceNode)root["command"]).Children.Select(c => ((YamlScalarNode)c).Value));
        Assert.NotEqual(YamlDotNet.Core.ScalarStyle.Plain, ScalarStyleOf(((YamlSequenceNode)root["command"]).Children[2]));
        Assert.Empty((YamlSequenceNode)root["list"]);
        Assert.Empty((YamlMappingNode)root["map"]);
        Assert.Equal("null", ((YamlScalarNode)root["none"]).Value);
    }

    private static YamlDotNet.Core.ScalarStyle ScalarStyleOf(YamlNode node) => ((YamlScalarNode)node).Style;

    [Fact]
    public void Table_FitsTheWidth_CutCellsEndInAnEllipsis_WithoutAWidthCellsAreWhole()
    {
        var table = new TableWriter("NAME", "COMMAND", "AGE");
        table.Add("redis", "redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no", "3s");

        var fitted = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        table.WriteTo(fitted, 40);
        var lines = fitted.ToString().TrimEnd('\n').Split('\n');
        Assert.All(lines, line => Assert.True(line.Length <= 40, $"'{line}' is {line.Length} wide"));
        Assert.Contains("\u2026", lines[1], StringComparison.Ordinal);
        Assert.StartsWith("redis   redis-server", lines[1], StringComparison.Ordinal);
        Assert.EndsWith("3s", lines[1], StringComparison.Ordinal);

        var whole = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        table.WriteTo(whole);
        Assert.Contains("--appendonly no", whole.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cli_OutputYaml_IsAcceptedEverywhere_AndAnUnknownFormatIsAUsageError()
    {
        await using var daemon = await TestDaemon.StartAsync();
        daemon.Refs.Create(new Dataplane.Policy.RefSpec("cache", "127.96.91.32:11211", "app=cache", null));
        var (code, stdout, stderr) = await CliRunner.RunAsync("get", "refs", "-o", "yaml", "--api", daemon.SocketPath);
        Assert.True(code == 0, stderr);
        var stream = new YamlStream();
        stream.Load(new StringReader(stdout));
        Assert.Equal("cache", ((YamlScalarNode)((YamlMappingNode)((YamlSequenceNode)stream.Documents[0].RootNode)[0])["name"]).Value);

        var (bad, _, error) = await CliRunner.RunAsync("get", "refs", "-o", "xml", "--api", daemon.SocketPath);
        Assert.Equal(2, bad);
        Assert.Contains("xml", error, StringComparison.Ordinal);
    }
}
