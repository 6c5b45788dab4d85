namespace Istio.AppSwitch.Xds.Tests.Resources;

/// <summary>
/// The read-only Istio corpus (<c>shared/istio-corpus</c>): from <c>AX_SHARED_DIR</c> when set, else the first
/// directory above the test binaries that holds <c>shared/istio-corpus</c>.
/// </summary>
internal static class Corpus
{
    public const string DeathStarBench = "sidecar-full/istio-1.18.2_deathstarbench-geo_sidecar.config_dump.json";
    public const string ListenersRbacMtls = "sidecar-partial/istio-1.18ish_sidecar_listeners_rbac_mtls.configdump.yaml";
    public const string EdsEndpoints = "sidecar-partial/istio_sidecar_eds_endpoints.configdump.json";
    public const string RouteRetriesAndCluster = "sidecar-partial/istio_sidecar_route_retries_and_cluster.configdump.json";

    private static readonly Lazy<string> Root = new(FindCorpus);

    public static string PathOf(string relativePath) => Path.Combine(Root.Value, relativePath);

    public static string ReadText(string relativePath) => File.ReadAllText(PathOf(relativePath));

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
        throw new InvalidOperationException(
            $"No shared/istio-corpus above {AppContext.BaseDirectory}; set AX_SHARED_DIR to the directory that holds istio-corpus.");
    }
}
