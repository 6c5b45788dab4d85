using System.Diagnostics;
using System.Globalization;
using Istio.AppSwitch.Bench.Translation;
using Istio.AppSwitch.Xds.Translation;

// Measures what matters for a push: wall time of one translation of a whole mesh, and the memory it needs.
var services = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10_000;
var endpoints = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 50_000;
var rounds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 5;

var build = Stopwatch.StartNew();
var input = SyntheticMesh.Create(services, endpoints);
build.Stop();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"mesh: {services} services, {endpoints} endpoints, {input.Listeners.Count} listeners, {input.RouteConfigurations.Count} route configs (built in {build.ElapsedMilliseconds} ms)"));

var times = new List<double>();
MeshTranslation? last = null;
for (var round = 0; round <= rounds; round++)
{
    var watch = Stopwatch.StartNew();
    last = MeshTranslator.Translate(input);
    watch.Stop();
    // Round 0 includes JIT; report it apart.
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round}{(round == 0 ? " (cold)" : "")}: {watch.Elapsed.TotalMilliseconds:F0} ms"));
    if (round > 0)
    {
        times.Add(watch.Elapsed.TotalMilliseconds);
    }
}

using var process = Process.GetCurrentProcess();
process.Refresh();
times.Sort();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"outbound {last!.Outbound.Length}, clusters {last.Clusters.Count}, endpoints {last.Clusters.Values.Sum(c => c.Endpoints.Length)}, fast {last.Outbound.Count(o => o.Mode == TranslationMode.Fast)}"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"warm translation: median {times[times.Count / 2]:F0} ms, max {times[^1]:F0} ms; peak working set {process.PeakWorkingSet64 / (1024 * 1024)} MiB; GC heap now {GC.GetTotalMemory(false) / (1024 * 1024)} MiB"));
