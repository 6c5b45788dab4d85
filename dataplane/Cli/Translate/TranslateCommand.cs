using System.CommandLine;
using System.Globalization;
using Istio.AppSwitch.Xds.Resources;
using Istio.AppSwitch.Xds.Translation;

namespace Istio.AppSwitch.Cli.Translate;

/// <summary>
/// <c>ax translate --config-dump FILE [-o table|json] [--peer-identity-known] [--chain-auto-mtls]</c>: runs the xDS
/// translation offline on an Envoy <c>/config_dump</c> (or <c>istioctl proxy-config all -o json</c>) and prints what ax
/// would do with every outbound service and inbound port. Bad input is one line on stderr and exit code 1.
/// </summary>
public static class TranslateCommand
{
    /// <summary>Exit code when the file cannot be read or is not a config dump.</summary>
    public const int Failure = 1;

    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var dump = new Option<FileInfo>("--config-dump")
        {
            Description = "An Envoy config dump: the JSON of /config_dump?include_eds or `istioctl proxy-config all -o json`.",
            HelpName = "FILE",
            Required = true,
        };
        var output = new Option<string>("--output", "-o")
        {
            Description = "Output format.",
            HelpName = "table|json",
            DefaultValueFactory = _ => "table",
        };
        output.AcceptOnlyFromAmong("table", "json");
        var identity = new Option<bool>("--peer-identity-known")
        {
            Description = "The dataplane knows each peer's mTLS principal at accept time: RBAC rules on principals stay on the fast path.",
        };
        var autoMtls = new Option<bool>("--chain-auto-mtls")
        {
            Description = "Chain services whose clusters use Istio auto-mTLS instead of connecting in plain text.",
        };
        var command = new Command(
            "translate",
            "Translate an Envoy config dump into ax's connect-time rules and print every outbound service and inbound port with its mode (fast, chain, passthrough, blackhole) and why.")
        {
            dump,
            output,
            identity,
            autoMtls,
        };
        command.SetAction(parse =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            var options = new TranslationOptions
            {
                PeerIdentityKnown = parse.GetValue(identity),
                ChainAutoMtls = parse.GetValue(autoMtls),
            };
            return Run(parse.GetValue(dump)!, parse.GetValue(output) ?? "table", options, stdout, stderr);
        });
        return command;
    }

    internal static int Run(FileInfo file, string output, TranslationOptions options, TextWriter stdout, TextWriter stderr)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(file.FullName);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"ax: cannot read {file}: {e.Message}");
            return Failure;
        }

        var result = ConfigDumpReader.Read(bytes);
        if (!result.Succeeded)
        {
            stderr.WriteLine($"ax: {file} is not a valid Envoy config dump:");
            foreach (var error in result.Errors.Take(10))
            {
                stderr.WriteLine($"  {error}");
            }
            return Failure;
        }
        if (result.Dump.Configs.Count == 0)
        {
            stderr.WriteLine($"ax: {file} is not an Envoy config dump: it has no \"configs\"");
            return Failure;
        }

        var translation = MeshTranslator.Translate(result, options);
        if (output == "json")
        {
            stdout.Write(TranslationJsonWriter.ToJson(translation));
            stdout.WriteLine();
        }
        else
        {
            WriteTables(translation, stdout);
        }
        return 0;
    }

    // The Istio resources behind a rule, as istioctl names them (Kind ns/name); the raw paths are in -o json.
    private static string IstioResources(System.Collections.Immutable.ImmutableArray<IstioResource> resources) =>
        string.Join(", ", resources.Select(r => r.ToString()));

    private static void WriteTables(MeshTranslation translation, TextWriter stdout)
    {
        var outbound = new TableWriter("SERVICE", "PROTOCOL", "MODE", "REASONS", "DESTINATIONS", "DNS", "ISTIO");
        foreach (var o in translation.Outbound)
        {
            outbound.Add(
                o.Key,
                TranslationJsonWriter.Snake(o.Protocol),
                TranslationJsonWriter.Snake(o.Mode),
                Reasons(o.Causes),
                string.Join(",", o.Destinations.Select(d => o.Destinations.Length > 1 ? $"{d.Cluster}={d.Weight}" : d.Cluster)),
                o.DnsNames.FirstOrDefault(),
                IstioResources(o.IstioResources));
        }
        stdout.WriteLine("OUTBOUND");
        outbound.WriteTo(stdout);

        var inbound = new TableWriter("PORT", "PROTOCOL", "MTLS", "MODE", "REASONS", "RBAC", "CLUSTER", "ISTIO");
        foreach (var i in translation.Inbound)
        {
            inbound.Add(
                i.Port == 0 ? "*" : i.Port.ToString(CultureInfo.InvariantCulture),
                TranslationJsonWriter.Snake(i.Protocol),
                TranslationJsonWriter.Snake(i.PeerAuthentication),
                TranslationJsonWriter.Snake(i.Mode),
                Reasons(i.Causes),
                string.Join(";", i.Rbac.Engines.Select(e => $"{TranslationJsonWriter.Snake(e.Action)}:{e.Policies.Length}")),
                i.Cluster,
                IstioResources(i.IstioResources));
        }
        stdout.WriteLine();
        stdout.WriteLine("INBOUND");
        inbound.WriteTo(stdout);

        var policies = new TableWriter("PORT", "ACTION", "POLICY", "PERMISSIONS", "PRINCIPALS");
        foreach (var i in translation.Inbound)
        {
            foreach (var engine in i.Rbac.Engines)
            {
                foreach (var policy in engine.Policies)
                {
                    policies.Add(
                        i.Port == 0 ? "*" : i.Port.ToString(CultureInfo.InvariantCulture),
                        TranslationJsonWriter.Snake(engine.Action),
                        policy.Name,
                        string.Join(" | ", policy.Permissions),
                        string.Join(" | ", policy.Principals));
                }
            }
        }
        stdout.WriteLine();
        stdout.WriteLine("POLICIES");
        policies.WriteTo(stdout);

        var clusters = new TableWriter("CLUSTER", "TYPE", "MODE", "LB", "CONNECT_TIMEOUT", "MAX_CONN", "OUTLIER", "TLS", "ENDPOINTS");
        var endpoints = new TableWriter("CLUSTER", "ADDRESS", "PORT", "WEIGHT", "PRIORITY", "LOCALITY", "HEALTH");
        foreach (var c in translation.Clusters.Values)
        {
            clusters.Add(
                c.Name,
                TranslationJsonWriter.Snake(c.Discovery),
                TranslationJsonWriter.Snake(c.Mode),
                TranslationJsonWriter.Snake(c.LbPolicy),
                $"{c.ConnectTimeout.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)}ms",
                c.MaxConnections.ToString(CultureInfo.InvariantCulture),
                c.OutlierDetection is { } od ? $"{od.Consecutive5xx}x/{od.Interval.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s" : null,
                TranslationJsonWriter.Snake(c.UpstreamTls),
                c.Endpoints.Length.ToString(CultureInfo.InvariantCulture));
            foreach (var e in c.Endpoints)
            {
                endpoints.Add(
                    c.Name,
                    e.Address,
                    e.Port.ToString(CultureInfo.InvariantCulture),
                    e.Weight.ToString(CultureInfo.InvariantCulture),
                    e.Priority.ToString(CultureInfo.InvariantCulture),
                    string.Join("/", new[] { e.Region, e.Zone, e.SubZone }.Where(s => s.Length > 0)),
                    TranslationJsonWriter.Snake(e.Health));
            }
        }
        stdout.WriteLine();
        stdout.WriteLine("CLUSTERS");
        clusters.WriteTo(stdout);
        stdout.WriteLine();
        stdout.WriteLine("ENDPOINTS");
        endpoints.WriteTo(stdout);

        if (translation.Diagnostics.Length > 0)
        {
            stdout.WriteLine();
            stdout.WriteLine("DIAGNOSTICS");
            foreach (var d in translation.Diagnostics)
            {
                stdout.WriteLine(d.ToString());
            }
        }
    }

    private static string Reasons(IEnumerable<ChainCause> causes) =>
        string.Join(",", causes.Select(c => c.Code).Distinct(StringComparer.Ordinal));
}
