using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Istio.AppSwitch.Functional.Tests.Harness;
using Istio.AppSwitch.Tests.Common.Tools;
using YamlDotNet.RepresentationModel;

namespace Istio.AppSwitch.Functional.Tests;

/// <summary>A daemon serving Prometheus metrics on a loopback port.</summary>
public sealed class MetricsEnvironment : AxEnvironment
{
    public int MetricsPort { get; } = FreePort();

    protected override IReadOnlyList<string> DaemonArguments => ["--metrics", $"127.0.0.1:{MetricsPort}"];

    /// <summary>Scrapes /metrics with a real HTTP client and returns the samples, keyed by their line up to the value.</summary>
    public async Task<Dictionary<string, double>> ScrapeAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{MetricsPort}/metrics"));
        response.EnsureSuccessStatusCode();
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in (await response.Content.ReadAsStringAsync()).Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }
            var space = line.LastIndexOf(' ');
            samples[line[..space]] = double.Parse(line[(space + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture);
        }
        return samples;
    }
}

[CollectionDefinition(Name)]
public sealed class MetricsCollection : ICollectionFixture<MetricsEnvironment>
{
    public const string Name = "ax daemon with --metrics";
}

/// <summary>
/// The operator's view with real programs (docs/metrics.md): metrics scraped over HTTP after real redis-cli connects,
/// a denied accept, a held connect, events streamed to a real <c>ax events --follow</c>, describe, and bash completion.
/// VIPs in 127.96.91.0/24.
/// </summary>
[Collection(MetricsCollection.Name)]
public sealed class OperatorViewTests(MetricsEnvironment ax)
{
    private static readonly string Programs = Path.Combine(AppContext.BaseDirectory, "Programs");

    private static double Value(Dictionary<string, double> samples, string key) => samples.GetValueOrDefault(key);

    /// <summary>The result field of the line connect_probe.py prints ("result=ok ms=... reply=...").</summary>
    private static string? ProbeResult(string stdout) =>
        stdout.Split('\n').LastOrDefault(l => l.StartsWith("result=", StringComparison.Ordinal))?.Split(' ')[0]["result=".Length..];

    private ExternalProcess StartRedis(string labels, int port) =>
        ax.StartUnderAx(["--name", "redis", "--labels", labels],
            ["redis-server", "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);

    [Fact]
    public async Task RedisCliThroughRefs_CountedByRefModeAndDecision_NotificationsCounted()
    {
        var port = AxEnvironment.FreePort();
        using var server = StartRedis("app=opv-redis", port);
        await ax.WaitForServiceAsync(port, server);
        await ax.CreateRefAsync("opv-unix", "127.96.91.1:6379", "app=opv-redis");
        await ax.CreateRefAsync("opv-tcp", "127.96.91.2:6379", "app=opv-redis", null, "--no-unix");
        await ax.CreateRefAsync("opv-none", "127.96.91.3:6379", "app=opv-nobody", null, "--wait", "0");
        var before = await ax.ScrapeAsync();

        var unix = await ax.RunUnderAxAsync([], ["redis-cli", "-h", "127.96.91.1", "-p", "6379", "PING"]);
        var tcp1 = await ax.RunUnderAxAsync([], ["redis-cli", "-h", "127.96.91.2", "-p", "6379", "PING"]);
        var tcp2 = await ax.RunUnderAxAsync([], ["redis-cli", "-h", "127.96.91.2", "-p", "6379", "PING"]);
        var refused = await ax.RunUnderAxAsync([], ["python3", Path.Combine(Programs, "connect_probe.py"), "127.96.91.3", "6379", "blocking"]);

        Assert.True(unix.Stdout.Trim() == "PONG", unix.ToString());
        Assert.True(tcp1.Stdout.Trim() == "PONG" && tcp2.Stdout.Trim() == "PONG", tcp1 + "\n" + tcp2);
        Assert.True(ProbeResult(refused.Stdout) == "ECONNREFUSED", refused.ToString());
        var after = await ax.ScrapeAsync();
        Assert.Equal(1, Value(after, "ax_connections_total{ref=\"opv-unix\",mode=\"unix\",decision=\"allowed\"}"));
        Assert.Equal(2, Value(after, "ax_connections_total{ref=\"opv-tcp\",mode=\"fast\",decision=\"allowed\"}"));
        Assert.Equal(1, Value(after, "ax_connections_total{ref=\"opv-none\",mode=\"fast\",decision=\"refused\"}"));
        Assert.False(after.ContainsKey("ax_connections_total{ref=\"opv-unix\",mode=\"fast\",decision=\"allowed\"}"));
        // Four connects decided, each one trapped connect at least; the histogram's count is the counter.
        var connects = Value(after, "ax_notifications_total{syscall=\"connect\"}") - Value(before, "ax_notifications_total{syscall=\"connect\"}");
        Assert.InRange(connects, 4, 100);
        Assert.Equal(Value(after, "ax_notifications_total{syscall=\"connect\"}"),
            Value(after, "ax_notification_duration_seconds_count{syscall=\"connect\"}"));
        Assert.Equal(Value(after, "ax_notification_duration_seconds_count{syscall=\"connect\"}"),
            Value(after, "ax_notification_duration_seconds_bucket{syscall=\"connect\",le=\"+Inf\"}"));
        Assert.True(Value(after, "ax_refs") >= 3);
        Assert.True(Value(after, "ax_apps") >= 1);
        Assert.True(Value(after, "ax_services") >= 1);

        // The same decisions in the ring, newest first, with where ax connected them.
        var conns = await ax.AxAsync("get", "conns", "-o", "json");
        using var json = JsonDocument.Parse(conns.Stdout);
        var mine = json.RootElement.EnumerateArray().Where(c => c.GetProperty("ref").GetString() is "opv-unix" or "opv-tcp").ToList();
        Assert.Equal(3, mine.Count);
        Assert.Equal("opv-tcp", mine[0].GetProperty("ref").GetString());
        Assert.Equal($"127.0.0.1:{port}", mine[0].GetProperty("backend").GetString());
        Assert.Equal("127.96.91.2:6379", mine[0].GetProperty("destination").GetString());
        Assert.Equal("unix", mine[2].GetProperty("mode").GetString());
        var table = await ax.AxAsync("get", "conns");
        Assert.Matches(new Regex(@"^APP\s+PID\s+DESTINATION\s+BACKEND\s+MODE\s+DECISION\s+REF\s+AGE$", RegexOptions.Multiline), table.Stdout);
        Assert.Matches(new Regex(@"redis-cli\)\s+\d+\s+127\.96\.91\.1:6379\s+127\.0\.0\.1:\d+\s+unix\s+allowed\s+opv-unix\s+\d+s", RegexOptions.Multiline), table.Stdout);
    }

    [Fact]
    public async Task DeniedAccept_CountedUnderItsInboundPolicy()
    {
        var port = AxEnvironment.FreePort();
        await ax.ProgramInboundAsync("app=opv-inb", port, """
            {"engines": [{"action": "deny", "policies": [{"name": "deny-3", "permissions": [{"any": true}], "principals": [{"sourceIp": "127.0.0.3/32"}]}]}]}
            """);
        using var server = ax.StartUnderAx(["--labels", "app=opv-inb"],
            ["python3", Path.Combine(Programs, "inbound_server.py"), "127.0.0.1", port.ToString(CultureInfo.InvariantCulture), "py"]);
        await server.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));

        var denied = await ExternalProcess.RunAsync("python3",
            [Path.Combine(Programs, "inbound_client.py"), "127.0.0.3", "127.0.0.1", port.ToString(CultureInfo.InvariantCulture), "intruder"], TimeSpan.FromSeconds(30));
        var allowed = await ExternalProcess.RunAsync("python3",
            [Path.Combine(Programs, "inbound_client.py"), "127.0.0.2", "127.0.0.1", port.ToString(CultureInfo.InvariantCulture), "hello"], TimeSpan.FromSeconds(30));

        Assert.Equal("reset", denied.Stdout.Trim());
        Assert.StartsWith("reply=py:hello", allowed.Stdout.Trim(), StringComparison.Ordinal);
        var samples = await ax.ScrapeAsync();
        Assert.Equal(1, Value(samples, $"ax_inbound_connections_total{{policy=\"app=opv-inb:{port}\",decision=\"denied\"}}"));
        Assert.Equal(1, Value(samples, $"ax_inbound_connections_total{{policy=\"app=opv-inb:{port}\",decision=\"allowed\"}}"));
        Assert.True(Value(samples, "ax_mesh_inbound_policies") >= 1);
    }

    [Fact]
    public async Task HeldConnect_CountedAsHeldThenAllowed_AndItsWaitIsInTheHistogram()
    {
        var port = AxEnvironment.FreePort();
        await ax.CreateRefAsync("opv-late", "127.96.91.10:80", "app=opv-late");
        var before = await ax.ScrapeAsync();

        using var client = ax.StartUnderAx([], ["python3", Path.Combine(Programs, "connect_probe.py"), "127.96.91.10", "80", "blocking"]);
        await ax.WaitForHeldAsync("opv-late", 1);
        var holding = await ax.ScrapeAsync();
        Assert.Equal(1, Value(holding, "ax_connections_total{ref=\"opv-late\",mode=\"fast\",decision=\"held\"}"));
        Assert.True(Value(holding, "ax_held_connects") >= 1);
        await Task.Delay(TimeSpan.FromSeconds(1));
        using var server = ax.StartUnderAx(["--labels", "app=opv-late"],
            ["python3", Path.Combine(Programs, "echo_server.py"), "127.0.0.1", port.ToString(CultureInfo.InvariantCulture), "late"]);
        Assert.Equal(0, await client.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(ProbeResult(client.Stdout) == "ok", client.Output);

        var after = await ax.ScrapeAsync();
        Assert.Equal(1, Value(after, "ax_connections_total{ref=\"opv-late\",mode=\"unix\",decision=\"allowed\"}")
            + Value(after, "ax_connections_total{ref=\"opv-late\",mode=\"fast\",decision=\"allowed\"}"));
        Assert.Equal(1, Value(after, "ax_held_connect_wait_seconds_count") - Value(before, "ax_held_connect_wait_seconds_count"));
        var waited = Value(after, "ax_held_connect_wait_seconds_sum") - Value(before, "ax_held_connect_wait_seconds_sum");
        Assert.InRange(waited, 1.0, 20.0);
        // Held for a second or more: not in the buckets up to 0.5 s, in +Inf.
        Assert.Equal(Value(before, "ax_held_connect_wait_seconds_bucket{le=\"0.5\"}"), Value(after, "ax_held_connect_wait_seconds_bucket{le=\"0.5\"}"));
        Assert.Equal(1, Value(after, "ax_held_connect_wait_seconds_bucket{le=\"+Inf\"}") - Value(before, "ax_held_connect_wait_seconds_bucket{le=\"+Inf\"}"));
    }

    [Fact]
    public async Task EventsFollow_ReceivesTheEventsOfARealConnect()
    {
        var port = AxEnvironment.FreePort();
        using var events = ExternalProcess.Start(AxEnvironment.AxPath, ["events", "--follow"], environment: ax.Environment.ToDictionary());
        // Subscribed once the daemon counts the reader.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (Value(await ax.ScrapeAsync(), "ax_event_subscribers") < 1)
        {
            Assert.True(DateTime.UtcNow < deadline && !events.HasExited, events.Output);
            await Task.Delay(50);
        }

        using var server = StartRedis("app=opv-events", port);
        await ax.WaitForServiceAsync(port, server);
        await ax.CreateRefAsync("opv-events", "127.96.91.20:6379", "app=opv-events");
        var ping = await ax.RunUnderAxAsync([], ["redis-cli", "-h", "127.96.91.20", "-p", "6379", "PING"]);
        Assert.True(ping.Stdout.Trim() == "PONG", ping.ToString());

        var seen = new List<JsonElement>();
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!seen.Any(e => e.GetProperty("type").GetString() == "connect" && e.GetProperty("ref").GetString() == "opv-events"))
        {
            var line = await events.ReadLineAsync(until - DateTime.UtcNow);
            using var document = JsonDocument.Parse(line);
            seen.Add(document.RootElement.Clone());
        }
        var types = seen.Select(e => e.GetProperty("type").GetString()).ToList();
        Assert.Contains("service-up", types);
        Assert.Contains("ref-created", types);
        var connect = seen.Last();
        Assert.Equal("127.96.91.20:6379", connect.GetProperty("destination").GetString());
        Assert.Equal("allowed", connect.GetProperty("decision").GetString());
        Assert.Equal("unix", connect.GetProperty("mode").GetString());
        Assert.StartsWith("app-", connect.GetProperty("app").GetString(), StringComparison.Ordinal);
        events.Signal("INT");
        Assert.Equal(0, await events.WaitForExitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Describe_RefAndApp_ExplainTheModeAndParseBackAsJsonAndYaml()
    {
        var port = AxEnvironment.FreePort();
        using var server = StartRedis("app=opv-describe,tier=cache", port);
        await ax.WaitForServiceAsync(port, server);
        await ax.CreateRefAsync("opv-describe", "127.96.91.30:6379", "app=opv-describe");
        var ping = await ax.RunUnderAxAsync([], ["redis-cli", "-h", "127.96.91.30", "-p", "6379", "PING"]);
        Assert.Equal("PONG", ping.Stdout.Trim());

        var text = await ax.AxAsync("describe", "ref", "opv-describe");
        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.Contains("Mode:         unix", text.Stdout, StringComparison.Ordinal);
        Assert.Contains("runs under this daemon", text.Stdout, StringComparison.Ordinal);
        Assert.Matches(new Regex(@"^\s+unix/allowed\s+1$", RegexOptions.Multiline), text.Stdout);
        Assert.Contains($"127.0.0.1:{port}", text.Stdout, StringComparison.Ordinal);

        var json = await ax.AxAsync("describe", "ref", "opv-describe", "-o", "json");
        using (var document = JsonDocument.Parse(json.Stdout))
        {
            Assert.Equal("unix", document.RootElement.GetProperty("mode").GetString());
            Assert.Equal(1, document.RootElement.GetProperty("connections").GetProperty("unix/allowed").GetInt64());
            Assert.Equal(1, document.RootElement.GetProperty("services").GetArrayLength());
        }

        var apps = await ax.AxAsync("get", "apps", "-o", "json");
        string appId;
        using (var document = JsonDocument.Parse(apps.Stdout))
        {
            appId = document.RootElement.EnumerateArray()
                .Single(a => a.GetProperty("labels").TryGetProperty("app", out var app) && app.GetString() == "opv-describe").GetProperty("id").GetString()!;
        }
        var yaml = await ax.AxAsync("describe", "app", appId, "-o", "yaml");
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml.Stdout));
        var root = (YamlMappingNode)stream.Documents[0].RootNode;
        var app = (YamlMappingNode)root["app"];
        Assert.Equal(appId, ((YamlScalarNode)app["id"]).Value);
        Assert.Equal("cache", ((YamlScalarNode)((YamlMappingNode)app["labels"])["tier"]).Value);
        Assert.Equal(port.ToString(CultureInfo.InvariantCulture), ((YamlScalarNode)((YamlSequenceNode)app["command"])[2]).Value);
        Assert.Contains("opv-describe", ((YamlSequenceNode)root["refs"]).Children.Select(c => ((YamlScalarNode)c).Value));

        var appText = await ax.AxAsync("describe", "app", appId);
        Assert.Contains("Labels:       app=opv-describe", appText.Stdout, StringComparison.Ordinal);
        var missing = await ax.AxAsync("describe", "ref", "opv-no-such-ref");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("not found", missing.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeletedRef_ItsSeriesLeaveMetrics_OtherRefsKeepTheirs()
    {
        var port = AxEnvironment.FreePort();
        using var server = StartRedis("app=opv-gone", port);
        await ax.WaitForServiceAsync(port, server);
        await ax.CreateRefAsync("opv-gone", "127.96.91.40:6379", "app=opv-gone", null, "--no-unix");
        await ax.CreateRefAsync("opv-stays", "127.96.91.41:6379", "app=opv-gone", null, "--no-unix");
        var gone = await ax.RunUnderAxAsync([], ["redis-cli", "-h", "127.96.91.40", "-p", "6379", "PING"]);
        var stays = await ax.RunUnderAxAsync([], ["redis-cli", "-h", "127.96.91.41", "-p", "6379", "PING"]);
        Assert.True(gone.Stdout.Trim() == "PONG" && stays.Stdout.Trim() == "PONG", gone + "\n" + stays);
        Assert.Equal(1, Value(await ax.ScrapeAsync(), "ax_connections_total{ref=\"opv-gone\",mode=\"fast\",decision=\"allowed\"}"));

        var deleted = await ax.AxAsync("delete", "ref", "opv-gone");
        Assert.True(deleted.ExitCode == 0, deleted.ToString());
        var after = await ax.ScrapeAsync();

        Assert.DoesNotContain(after.Keys, k => k.Contains("ref=\"opv-gone\"", StringComparison.Ordinal));
        Assert.Equal(1, Value(after, "ax_connections_total{ref=\"opv-stays\",mode=\"fast\",decision=\"allowed\"}"));
    }

    [Fact]
    public async Task BashCompletion_CompletesCommandsAndOutputFormats()
    {
        var script = await ax.AxAsync("completion", "bash");
        var path = Path.Combine(Path.GetTempPath(), $"ax-completion-{Guid.NewGuid():N}.bash");
        await File.WriteAllTextAsync(path, script.Stdout);
        try
        {
            // Completion as bash runs it: COMP_* set, the function called, COMPREPLY read; `complete -p` shows it is registered.
            var bash = $$"""
                source '{{path}}'
                complete -p ax
                complete_at() { COMP_LINE="$1"; COMP_POINT=${#1}; read -ra COMP_WORDS <<< "$1"; [[ "$1" == *" " ]] && COMP_WORDS+=(""); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMP_WORDS[0]='{{AxEnvironment.AxPath}}'; COMPREPLY=(); _ax_complete; echo "$1 => ${COMPREPLY[*]}"; }
                complete_at "ax get co"
                complete_at "ax get refs -o "
                complete_at "ax desc"
                complete_at "ax describe "
                """;
            var result = await ExternalProcess.RunAsync("bash", ["-c", bash], TimeSpan.FromSeconds(60));
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Contains("complete -o default -F _ax_complete ax", result.Stdout, StringComparison.Ordinal);
            Assert.Contains("ax get co => connections conns", result.Stdout, StringComparison.Ordinal);
            Assert.Contains("ax get refs -o  => json table yaml", result.Stdout, StringComparison.Ordinal);
            Assert.Contains("ax desc => describe", result.Stdout, StringComparison.Ordinal);
            Assert.Matches(new Regex(@"ax describe  => .*\bapp\b.*\bref\b"), result.Stdout);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
