using System.Collections.Immutable;
using System.CommandLine;
using System.CommandLine.Parsing;
using Istio.AppSwitch.Dataplane.Configuration;
using Istio.AppSwitch.Xds.Ads;
using Istio.AppSwitch.Xds.Sidecar;
using Istio.AppSwitch.XdsAgent;

namespace Istio.AppSwitch.Ax;

/// <summary>
/// The flags that say how to reach Pilot and who to be, shared by <c>ax xds-agent</c> and <c>ax daemon --pilot</c>.
/// Every check runs at parse time, so a bad node id or label is a usage error (exit 2) before anything connects.
/// </summary>
internal sealed class PilotCommandOptions
{
    /// <summary>The Istio version ax claims when <c>--istio-version</c> is not given: istiod generates config for it.</summary>
    public const string DefaultIstioVersion = "1.24.0";

    private readonly bool _pilotRequired;

    private PilotCommandOptions(bool pilotRequired)
    {
        _pilotRequired = pilotRequired;
        Pilot = new Option<string?>("--pilot")
        {
            Description = "istiod's xDS address: HOST:PORT (15010 plaintext, 15012 TLS).",
            HelpName = "HOST:PORT",
            Required = pilotRequired,
        };
        NodeId = new Option<string?>("--node-id")
        {
            Description = "The sidecar node id istiod requires: sidecar~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local.",
            HelpName = "ID",
            Required = pilotRequired,
        };
        Tls = new Option<bool>("--tls") { Description = "Speak TLS to istiod (the default on port 15012 or with --ca)." };
        Ca = new Option<string?>("--ca") { Description = "PEM file of the roots istiod's certificate must chain to (istio-ca-root-cert).", HelpName = "FILE" };
        Token = new Option<string?>("--token")
        {
            Description = "File holding the bearer token sent over TLS (the pod's istio-token, audience istio-ca); read on every connection.",
            HelpName = "FILE",
        };
        ClusterId = new Option<string?>("--cluster-id")
        {
            Description = "The mesh cluster id (CLUSTER_ID and the clusterid header; default Kubernetes).",
            HelpName = "ID",
        };
        Labels = new Option<string?>("--labels") { Description = "The workload's labels (LABELS): k=v[,k=v].", HelpName = "k=v[,k=v]" };
        Meta = new Option<string[]>("--meta")
        {
            Description = "Extra node metadata KEY=VALUE; may be repeated.",
            HelpName = "KEY=VALUE",
            AllowMultipleArgumentsPerToken = false,
        };
        ServiceAccount = new Option<string?>("--service-account")
        {
            Description = "The workload's service account (SERVICE_ACCOUNT; default 'default').",
            HelpName = "NAME",
        };
        IstioVersion = new Option<string?>("--istio-version")
        {
            Description = $"The Istio version claimed to istiod (ISTIO_VERSION; default {DefaultIstioVersion}).",
            HelpName = "VERSION",
        };
        Delta = new Option<bool>("--delta") { Description = "Use the Delta ADS protocol (the default, as Istio's sidecars do)." };
        Sotw = new Option<bool>("--sotw") { Description = "Use the state-of-the-world ADS protocol." };
    }

    public Option<string?> Pilot { get; }

    public Option<string?> NodeId { get; }

    public Option<bool> Tls { get; }

    public Option<string?> Ca { get; }

    public Option<string?> Token { get; }

    public Option<string?> ClusterId { get; }

    public Option<string?> Labels { get; }

    public Option<string[]> Meta { get; }

    public Option<string?> ServiceAccount { get; }

    public Option<string?> IstioVersion { get; }

    public Option<bool> Delta { get; }

    public Option<bool> Sotw { get; }

    /// <summary>Adds the flags and their checks to <paramref name="command"/>.</summary>
    public static PilotCommandOptions AddTo(Command command, bool pilotRequired)
    {
        var options = new PilotCommandOptions(pilotRequired);
        foreach (var option in options.All)
        {
            command.Options.Add(option);
        }

        command.Validators.Add(result =>
        {
            foreach (var problem in options.Validate(result))
            {
                result.AddError(problem);
            }
        });
        return options;
    }

    /// <summary>The agent's options, or null when no <c>--pilot</c> was given. Call only on a result without errors.</summary>
    public XdsAgentOptions? Build(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        if (parse.GetValue(Pilot) is not { } pilotText)
        {
            return null;
        }

        var clusterId = parse.GetValue(ClusterId) is { Length: > 0 } id ? id : "Kubernetes";
        var tls = parse.GetValue(Tls);
        var pilot = PilotConnectionOptions.Parse(pilotText) with
        {
            UseTls = tls ? true : null,
            CaCertificateFile = parse.GetValue(Ca),
            TokenFile = parse.GetValue(Token),
            ClusterId = clusterId,
        };
        var labels = Dataplane.Registry.Labels.Parse(parse.GetValue(Labels), "--labels");
        var meta = (parse.GetValue(Meta) ?? []).Select(XdsNodeOptions.ParseMetaArgument);
        return new XdsAgentOptions
        {
            Pilot = pilot,
            Node = new XdsNodeOptions
            {
                Id = SidecarNodeId.Parse(parse.GetValue(NodeId)!),
                ClusterId = clusterId,
                IstioVersion = parse.GetValue(IstioVersion) is { Length: > 0 } version ? version : DefaultIstioVersion,
                ServiceAccount = parse.GetValue(ServiceAccount) is { Length: > 0 } account ? account : "default",
                Labels = labels.ToImmutableSortedDictionary(StringComparer.Ordinal),
                ExtraMetadata = ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, meta.GroupBy(m => m.Key).Select(g => g.Last())),
            },
            Variant = parse.GetValue(Sotw) ? AdsVariant.StateOfTheWorld : AdsVariant.Delta,
        };
    }

    private IEnumerable<Option> All => [Pilot, NodeId, Tls, Ca, Token, ClusterId, Labels, Meta, ServiceAccount, IstioVersion, Delta, Sotw];

    private List<string> Validate(CommandResult result)
    {
        var problems = new List<string>();
        var pilot = result.GetValue(Pilot);
        if (pilot is null)
        {
            // Only `ax daemon` gets here (xds-agent requires --pilot): the agent's flags mean nothing without it.
            var stray = All.Where(o => o != Pilot && result.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToList();
            if (!_pilotRequired && stray.Count > 0)
            {
                problems.Add($"{string.Join(", ", stray)} {(stray.Count == 1 ? "needs" : "need")} --pilot HOST:PORT");
            }

            return problems;
        }

        try
        {
            PilotConnectionOptions.Parse(pilot);
        }
        catch (FormatException e)
        {
            problems.Add(e.Message);
        }

        if (result.GetValue(NodeId) is not { } nodeId)
        {
            problems.Add("--pilot needs --node-id sidecar~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local");
        }
        else if (!SidecarNodeId.TryParse(nodeId, out _, out var error))
        {
            problems.Add($"--node-id: {error}");
        }

        if (result.GetValue(Delta) && result.GetValue(Sotw))
        {
            problems.Add("--delta and --sotw cannot be used together");
        }

        foreach (var file in new[] { (Ca, "--ca"), (Token, "--token") })
        {
            if (result.GetValue(file.Item1) is { } path && !File.Exists(path))
            {
                problems.Add($"{file.Item2} '{path}': no such file");
            }
        }

        var errors = new List<FieldError>();
        Dataplane.Registry.Labels.Parse(result.GetValue(Labels), "--labels", errors);
        problems.AddRange(errors.Select(e => e.Message));
        foreach (var meta in result.GetValue(Meta) ?? [])
        {
            try
            {
                XdsNodeOptions.ParseMetaArgument(meta);
            }
            catch (FormatException e)
            {
                problems.Add(e.Message);
            }
        }

        return problems;
    }
}
