using System.Text.Json.Nodes;

namespace Istio.AppSwitch.Ax.Tests;

/// <summary><c>ax translate</c> on the corpus and on bad input.</summary>
public sealed class TranslateCommandTests
{
    private static string CorpusFile(string relative)
    {
        if (Environment.GetEnvironmentVariable("AX_SHARED_DIR") is { Length: > 0 } shared)
        {
            return Path.Combine(shared, "istio-corpus", relative);
        }
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "istio-corpus", relative);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new InvalidOperationException($"no shared/istio-corpus/{relative}; set AX_SHARED_DIR");
    }

    private static (int ExitCode, string Stdout, string Stderr) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exitCode = AxCommandLine.Run(args, stdout, stderr);
        return (exitCode, stdout.ToString(), stderr.ToString());
    }

    private const string DeathStarBench = "sidecar-full/istio-1.18.2_deathstarbench-geo_sidecar.config_dump.json";

    [Fact]
    public void Run_TranslateTable_PrintsServicesClustersAndEndpoints()
    {
        var (exitCode, stdout, stderr) = Run("translate", "--config-dump", CorpusFile(DeathStarBench));

        Assert.Equal(0, exitCode);
        Assert.Empty(stderr);
        Assert.Matches(@"(?m)^10\.68\.54\.170:27017\s+tcp\s+fast\s+<none>\s+outbound\|27017\|\|mongodb-user\.hr2\.svc\.cluster\.local", stdout);
        Assert.Matches(@"(?m)^outbound\|27017\|\|mongodb-user\.hr2\.svc\.cluster\.local\s+eds\s+fast\s+least_request\s+10000ms", stdout);
        Assert.Matches(@"(?m)^outbound\|27017\|\|mongodb-user\.hr2\.svc\.cluster\.local\s+172\.16\.188\.17\s+27017\s+1\s+0\s+<none>\s+healthy", stdout);
        Assert.Contains("INBOUND", stdout, StringComparison.Ordinal);
        Assert.Contains("rejected by Envoy", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_TranslateRbacDump_TableAndJsonNameTheAuthorizationPolicies()
    {
        var dump = CorpusFile("sidecar-partial/istio-1.18ish_sidecar_listeners_rbac_mtls.configdump.yaml");

        var (exitCode, table, _) = Run("translate", "--config-dump", dump);
        var (jsonCode, json, _) = Run("translate", "--config-dump", dump, "-o", "json");

        Assert.Equal(0, exitCode);
        Assert.Matches(@"(?m)^80\s.*AuthorizationPolicy default/ext-authz, AuthorizationPolicy default/httpbin\s*$", table);
        Assert.Equal(0, jsonCode);
        var port80 = JsonNode.Parse(json)!["inbound"]!.AsArray().Single(p => (int?)p!["port"] == 80)!;
        var httpbin = port80["istio_resources"]!.AsArray().Single(r => (string?)r!["name"] == "httpbin")!;
        Assert.Equal("AuthorizationPolicy", (string?)httpbin["kind"]);
        Assert.Equal("default", (string?)httpbin["namespace"]);
        Assert.Equal("ns[default]-policy[httpbin]-rule[0]", (string?)httpbin["raw"]);
    }

    [Fact]
    public void Run_TranslateJson_StableSchemaWithChainReasons()
    {
        var (exitCode, stdout, _) = Run("translate", "--config-dump", CorpusFile("sidecar-partial/istio-1.18ish_sidecar_listeners_rbac_mtls.configdump.yaml"), "-o", "json");

        Assert.Equal(0, exitCode);
        var json = JsonNode.Parse(stdout)!;
        Assert.Equal("ax.translation/v1", (string?)json["schema"]);
        var port80 = json["inbound"]!.AsArray().Single(p => (int?)p!["port"] == 80)!;
        Assert.Equal("chain", (string?)port80["mode"]);
        Assert.Equal(
            ["http_rbac_l7", "l7_rbac_over_tls", "ext_authz", "principal_requires_identity"],
            port80["reasons"]!.AsArray().Select(r => (string?)r!["code"]).Distinct());
        Assert.Equal("allow", (string?)port80["rbac"]!["engines"]![0]!["action"]);
    }

    [Fact]
    public void Run_TranslateMissingFile_ExitsOneWithPlainError()
    {
        var (exitCode, stdout, stderr) = Run("translate", "--config-dump", "/nonexistent/dump.json");

        Assert.Equal(1, exitCode);
        Assert.Empty(stdout);
        Assert.StartsWith("ax: cannot read /nonexistent/dump.json", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("this is not json", "malformed JSON")]
    [InlineData("{}", "it has no \"configs\"")]
    [InlineData("""{"configs": 3}""", "not a valid Envoy config dump")]
    public void Run_TranslateNotAConfigDump_ExitsOne(string content, string expected)
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, content);
            var (exitCode, stdout, stderr) = Run("translate", "--config-dump", file);

            Assert.Equal(1, exitCode);
            Assert.Empty(stdout);
            Assert.Contains(expected, stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData("translate")]
    [InlineData("translate", "--config-dump", "x.json", "-o", "yaml")]
    [InlineData("translate", "--config-dump", "x.json", "--bogus")]
    public void Run_TranslateBadFlags_ExitsTwo(params string[] args)
    {
        var (exitCode, _, stderr) = Run(args);

        Assert.Equal(AxCommandLine.UsageError, exitCode);
        Assert.Contains("Run 'ax translate --help' for usage.", stderr, StringComparison.Ordinal);
    }
}
