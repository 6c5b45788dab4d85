using BenchmarkDotNet.Attributes;
using Istio.AppSwitch.Xds.Resources;
using Istio.AppSwitch.Xds.Translation;

namespace Istio.AppSwitch.Bench.Micro;

/// <summary>
/// The Istio 1.18.2 DeathStarBench sidecar's config dump (2.4 MB of JSON, from the shared Istio corpus), as
/// <c>ax translate</c> handles it: read into Envoy's types, then translated into ax's rules.
/// </summary>
[MemoryDiagnoser]
public class TranslationBenchmarks
{
    private const string DeathStarBench = "sidecar-full/istio-1.18.2_deathstarbench-geo_sidecar.config_dump.json";

    private byte[] _json = [];
    private ConfigDumpReadResult _dump = null!;

    [GlobalSetup]
    public void Setup()
    {
        _json = File.ReadAllBytes(Path.Combine(FindCorpus(), DeathStarBench));
        _dump = Parse();
        if (!_dump.Succeeded || Translate().Clusters.Count == 0)
        {
            throw new InvalidOperationException("The DeathStarBench dump did not read or translate.");
        }
    }

    /// <summary>The JSON into Envoy's protobuf types (ConfigDumpReader).</summary>
    [Benchmark]
    public ConfigDumpReadResult Parse() => ConfigDumpReader.Read(_json);

    /// <summary>The read dump into ax's rules (MeshTranslator), without the parse.</summary>
    [Benchmark]
    public MeshTranslation Translate() => MeshTranslator.Translate(_dump);

    /// <summary>The corpus from <c>AX_SHARED_DIR</c> when set, else from the first <c>shared/</c> above the binaries.</summary>
    private static string FindCorpus()
    {
        if (Environment.GetEnvironmentVariable("AX_SHARED_DIR") is { Length: > 0 } shared)
        {
            return Path.Combine(shared, "istio-corpus");
        }
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "istio-corpus");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new InvalidOperationException($"No shared/istio-corpus above {AppContext.BaseDirectory}; set AX_SHARED_DIR.");
    }
}
