using System.Globalization;
using System.Text;
using System.Text.Json;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace Istio.AppSwitch.Injection;

/// <summary>
/// Injects one pod template (a Pod's own metadata and spec, or a workload's <c>template</c>): an init container copies
/// <c>ax</c> into an <c>emptyDir</c>, every container's command runs under <c>ax run</c>, and the daemon's socket
/// directory comes from the host. Every check runs before the first change, so a template with a problem is left whole.
/// </summary>
internal sealed class PodInjector(InjectionOptions options)
{
    /// <summary>The <c>emptyDir</c> that carries the <c>ax</c> binary.</summary>
    public const string BinaryVolume = "ax-bin";

    /// <summary>The <c>hostPath</c> volume of the daemon's socket directory.</summary>
    public const string SocketVolume = "ax-run";

    /// <summary>The init container that copies the binary.</summary>
    public const string InitContainerName = "ax-init";

    /// <summary>Where <see cref="BinaryVolume"/> is mounted in every container.</summary>
    public const string BinaryMountPath = "/ax";

    /// <summary>The launcher as the containers see it.</summary>
    public const string AxBinary = BinaryMountPath + "/ax";

    /// <summary>Where the binary is in the image built from <c>deploy/Dockerfile</c>.</summary>
    public const string ImageBinary = "/usr/local/bin/ax";

    /// <summary>The environment variable every ax command reads for the API socket (ApiSocketPath.EnvironmentVariable).</summary>
    public const string ApiEnvironmentVariable = "AX_API";

    /// <summary>The user of the init container: it needs no privilege to copy a file into an emptyDir (mode 0777).</summary>
    public const long InitUser = 65532;

    /// <summary>
    /// Injects <paramref name="template"/> unless an annotation says not to or that it is done. Problems are added to
    /// <paramref name="problems"/>, each prefixed with <paramref name="where"/>; then nothing is changed and null returned.
    /// </summary>
    /// <param name="where">The document and object, for messages.</param>
    /// <param name="workloadMetadata">The workload's own metadata (for a Pod, the same as the template's), or null.</param>
    /// <param name="template">The mapping holding the pod's <c>metadata</c> and <c>spec</c>.</param>
    /// <param name="problems">Where problems go.</param>
    public InjectionOutcome? Inject(string where, YamlMappingNode? workloadMetadata, YamlMappingNode template, List<string> problems)
    {
        var before = problems.Count;
        var metadata = Mapping(template, "metadata", $"{where}: the pod template's metadata", problems);
        var annotations = metadata is null ? null : Mapping(metadata, "annotations", $"{where}: the pod template's annotations", problems);
        var workloadAnnotations = workloadMetadata is null || ReferenceEquals(workloadMetadata, metadata)
            ? null
            : Mapping(workloadMetadata, "annotations", $"{where}: metadata.annotations", problems);
        if (problems.Count > before)
        {
            return null;
        }

        var wanted = InjectWanted(where, workloadAnnotations, problems) && InjectWanted(where, annotations, problems);
        if (problems.Count > before)
        {
            return null;
        }
        if (!wanted)
        {
            return InjectionOutcome.Skipped;
        }
        if (annotations is not null && annotations.Children.ContainsKey(AxAnnotations.Injected))
        {
            return InjectionOutcome.AlreadyInjected;
        }

        var spec = Mapping(template, "spec", $"{where}: the pod spec", problems);
        if (spec is null)
        {
            if (problems.Count == before)
            {
                problems.Add($"{where}: has no pod spec");
            }
            return null;
        }

        var labels = LabelsText(where, metadata, problems);
        var commands = CommandAnnotation(where, annotations ?? workloadAnnotations, workloadAnnotations, problems);
        var containers = Sequence(spec, "containers", $"{where}: spec.containers", problems);
        if (containers is null || containers.Children.Count == 0)
        {
            if (problems.Count == before)
            {
                problems.Add($"{where}: has no containers");
            }
            return null;
        }

        var plans = new List<ContainerPlan>();
        var names = new List<string>();
        foreach (var node in containers.Children)
        {
            if (node is not YamlMappingNode container || Text(container, "name") is not { Length: > 0 } name)
            {
                problems.Add($"{where}: every container must be a mapping with a name");
                continue;
            }
            names.Add(name);
            if (PlanContainer(where, name, container, commands, containers.Children.Count, problems) is { } plan)
            {
                plans.Add(plan);
            }
        }
        if (commands is not null)
        {
            foreach (var unknown in commands.Keys.Where(k => k.Length > 0 && !names.Contains(k)))
            {
                problems.Add($"{where}: annotation {AxAnnotations.Command} names container \"{unknown}\", which the pod does not have");
            }
        }

        var volumes = Sequence(spec, "volumes", $"{where}: spec.volumes", problems);
        foreach (var volume in volumes?.Children ?? [])
        {
            if (volume is YamlMappingNode v && Text(v, "name") is BinaryVolume or SocketVolume)
            {
                problems.Add($"{where}: the pod already has a volume named \"{Text(v, "name")}\", which ax inject adds");
            }
        }
        var initContainers = Sequence(spec, "initContainers", $"{where}: spec.initContainers", problems);
        foreach (var init in initContainers?.Children ?? [])
        {
            if (init is YamlMappingNode i && Text(i, "name") == InitContainerName)
            {
                problems.Add($"{where}: the pod already has an init container named \"{InitContainerName}\", which ax inject adds");
            }
        }
        var securityContext = Mapping(spec, "securityContext", $"{where}: spec.securityContext", problems);
        var groups = securityContext is null ? null : Sequence(securityContext, "supplementalGroups", $"{where}: spec.securityContext.supplementalGroups", problems);
        if (problems.Count > before)
        {
            return null;
        }

        // Every check passed: change the template.
        if (metadata is null)
        {
            metadata = [];
            template.Children.Insert(0, Scalar("metadata"), metadata);
        }
        if (annotations is null)
        {
            annotations = [];
            metadata.Children.Add(Scalar("annotations"), annotations);
        }
        annotations.Children.Add(Scalar(AxAnnotations.Injected), Quoted(options.Version));

        if (initContainers is null)
        {
            initContainers = [];
            InsertBefore(spec, "containers", "initContainers", initContainers);
        }
        initContainers.Children.Insert(0, InitContainer());

        foreach (var plan in plans)
        {
            Wrap(plan, labels);
        }

        if (volumes is null)
        {
            volumes = [];
            spec.Children.Add(Scalar("volumes"), volumes);
        }
        volumes.Add(new YamlMappingNode(
            Scalar("name"), Scalar(BinaryVolume),
            Scalar("emptyDir"), new YamlMappingNode { Style = MappingStyle.Flow }));
        volumes.Add(new YamlMappingNode(
            Scalar("name"), Scalar(SocketVolume),
            Scalar("hostPath"), new YamlMappingNode(
                Scalar("path"), Scalar(options.SocketDirectory),
                // Directory, not DirectoryOrCreate: on a node without the daemon the pod waits with a clear event instead
                // of starting against an empty directory (where `ax run` would refuse to start the program anyway).
                Scalar("type"), Scalar("Directory"))));

        if (options.SocketGroup is { } gid)
        {
            if (securityContext is null)
            {
                securityContext = [];
                spec.Children.Add(Scalar("securityContext"), securityContext);
            }
            if (groups is null)
            {
                groups = [];
                securityContext.Children.Add(Scalar("supplementalGroups"), groups);
            }
            var text = gid.ToString(CultureInfo.InvariantCulture);
            if (!groups.Children.OfType<YamlScalarNode>().Any(g => g.Value == text))
            {
                groups.Add(new YamlScalarNode(text) { Style = ScalarStyle.Plain });
            }
        }
        return InjectionOutcome.Injected;
    }

    private sealed record ContainerPlan(YamlMappingNode Container, string Name, IReadOnlyList<YamlNode> Words);

    private ContainerPlan? PlanContainer(string where, string name, YamlMappingNode container,
        Dictionary<string, string[]>? commands, int containerCount, List<string> problems)
    {
        var at = $"{where}, container \"{name}\"";
        var before = problems.Count;
        var command = Sequence(container, "command", $"{at}: command", problems);
        var args = Sequence(container, "args", $"{at}: args", problems);
        foreach (var word in (command?.Children ?? []).Concat(args?.Children ?? []))
        {
            if (word is not YamlScalarNode)
            {
                problems.Add($"{at}: command and args must be lists of strings");
                break;
            }
        }

        var words = new List<YamlNode>();
        if (command is { Children.Count: > 0 })
        {
            words.AddRange(command.Children);
        }
        else if (commands is not null && (commands.TryGetValue(name, out var fromAnnotation) || (containerCount == 1 && commands.TryGetValue("", out fromAnnotation))))
        {
            words.AddRange(fromAnnotation.Select(Quoted));
        }
        else
        {
            problems.Add($"{at}: has no command, so Kubernetes would run its image's entrypoint, which ax inject cannot see. " +
                $"Give the container a command, or annotate the pod template with {AxAnnotations.Command}: " +
                $"'{{\"{name}\": [\"ENTRYPOINT\", \"ARG\"]}}' (the image's ENTRYPOINT; the container's args still follow it)");
        }
        words.AddRange(args?.Children ?? []);

        var mounts = Sequence(container, "volumeMounts", $"{at}: volumeMounts", problems);
        foreach (var mount in mounts?.Children.OfType<YamlMappingNode>() ?? [])
        {
            if (Text(mount, "mountPath")?.TrimEnd('/') is { } path && (path == BinaryMountPath || path == options.SocketDirectory.TrimEnd('/')))
            {
                problems.Add($"{at}: already mounts something at {path}, where ax inject mounts its own volume");
            }
        }
        var env = Sequence(container, "env", $"{at}: env", problems);
        if (env?.Children.OfType<YamlMappingNode>().Any(e => Text(e, "name") == ApiEnvironmentVariable) == true)
        {
            problems.Add($"{at}: sets {ApiEnvironmentVariable} itself; ax inject sets it to {options.ApiSocket}");
        }
        return problems.Count > before ? null : new ContainerPlan(container, name, words);
    }

    private void Wrap(ContainerPlan plan, string? labels)
    {
        var container = plan.Container;
        var command = new YamlSequenceNode();
        if (container.Children.TryGetValue("command", out var old) && old is YamlSequenceNode oldSequence)
        {
            command.Style = oldSequence.Style; // a flow list stays a flow list
        }
        command.Add(Scalar(AxBinary));
        command.Add(Scalar("run"));
        command.Add(Scalar("--api"));
        command.Add(Scalar(options.ApiSocket));
        command.Add(Scalar("--name"));
        command.Add(Quoted(plan.Name));
        if (labels is not null)
        {
            command.Add(Scalar("--labels"));
            command.Add(Quoted(labels));
        }
        command.Add(Scalar("--"));
        foreach (var word in plan.Words)
        {
            command.Add(word);
        }

        // The command takes the place of the old one, or comes right after the image; args are folded into it.
        if (container.Children.ContainsKey("command"))
        {
            container.Children["command"] = command;
        }
        else
        {
            InsertAfter(container, "image", "command", command);
        }
        container.Children.Remove("args");

        if (Sequence(container, "env", "", []) is not { } env)
        {
            env = [];
            container.Children.Add(Scalar("env"), env);
        }
        env.Add(new YamlMappingNode(Scalar("name"), Scalar(ApiEnvironmentVariable), Scalar("value"), Quoted(options.ApiSocket)));

        if (Sequence(container, "volumeMounts", "", []) is not { } mounts)
        {
            mounts = [];
            container.Children.Add(Scalar("volumeMounts"), mounts);
        }
        mounts.Add(new YamlMappingNode(
            Scalar("name"), Scalar(BinaryVolume),
            Scalar("mountPath"), Scalar(BinaryMountPath),
            Scalar("readOnly"), new YamlScalarNode("true") { Style = ScalarStyle.Plain }));
        mounts.Add(new YamlMappingNode(
            Scalar("name"), Scalar(SocketVolume),
            Scalar("mountPath"), Scalar(options.SocketDirectory)));
    }

    private YamlMappingNode InitContainer() => new(
        Scalar("name"), Scalar(InitContainerName),
        Scalar("image"), Quoted(options.Image),
        Scalar("imagePullPolicy"), Scalar("IfNotPresent"),
        Scalar("command"), new YamlSequenceNode(Scalar("cp"), Scalar(ImageBinary), Scalar(AxBinary)),
        Scalar("resources"), new YamlMappingNode(
            Scalar("requests"), new YamlMappingNode(Scalar("cpu"), Scalar("10m"), Scalar("memory"), Scalar("16Mi")),
            // cp goes through the page cache, which is charged to the container: the published binary is about 55 MB.
            Scalar("limits"), new YamlMappingNode(Scalar("memory"), Scalar("128Mi"))),
        Scalar("securityContext"), new YamlMappingNode(
            Scalar("runAsUser"), Plain(InitUser),
            Scalar("runAsGroup"), Plain(InitUser),
            Scalar("runAsNonRoot"), new YamlScalarNode("true") { Style = ScalarStyle.Plain },
            Scalar("allowPrivilegeEscalation"), new YamlScalarNode("false") { Style = ScalarStyle.Plain },
            Scalar("readOnlyRootFilesystem"), new YamlScalarNode("true") { Style = ScalarStyle.Plain },
            Scalar("capabilities"), new YamlMappingNode(Scalar("drop"), new YamlSequenceNode(Scalar("ALL")))),
        Scalar("volumeMounts"), new YamlSequenceNode(new YamlMappingNode(
            Scalar("name"), Scalar(BinaryVolume),
            Scalar("mountPath"), Scalar(BinaryMountPath))));

    // `ax.istio.io/inject`: "false" skips, "true" or nothing injects, anything else is a mistake worth reporting.
    private static bool InjectWanted(string where, YamlMappingNode? annotations, List<string> problems)
    {
        if (annotations is null || !annotations.Children.TryGetValue(AxAnnotations.Inject, out var node))
        {
            return true;
        }
        var value = (node as YamlScalarNode)?.Value;
        if (string.Equals(value, "false", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        if (!string.Equals(value, "true", StringComparison.OrdinalIgnoreCase))
        {
            problems.Add($"{where}: annotation {AxAnnotations.Inject} must be \"true\" or \"false\", not \"{value}\"");
        }
        return true;
    }

    // The pod's labels as `ax run --labels` takes them, in the manifest's order; null when it has none. Kubernetes'
    // label syntax is ax's, except that ax keeps the `ax.` prefix for the labels it sets itself.
    private static string? LabelsText(string where, YamlMappingNode? metadata, List<string> problems)
    {
        if (metadata is null || Mapping(metadata, "labels", $"{where}: the pod template's labels", problems) is not { } labels || labels.Children.Count == 0)
        {
            return null;
        }
        var text = new StringBuilder();
        foreach (var (key, value) in labels.Children)
        {
            if (key is not YamlScalarNode { Value: { Length: > 0 } k } || value is not YamlScalarNode { Value: { } v })
            {
                problems.Add($"{where}: every pod label must be a string key with a string value");
                return null;
            }
            if (k.StartsWith("ax.", StringComparison.Ordinal))
            {
                problems.Add($"{where}: pod label \"{k}\": keys starting with \"ax.\" are set by ax itself");
                return null;
            }
            if (k.Contains(',', StringComparison.Ordinal) || k.Contains('=', StringComparison.Ordinal) || v.Contains(',', StringComparison.Ordinal))
            {
                problems.Add($"{where}: pod label \"{k}\" is not a valid Kubernetes label");
                return null;
            }
            text.Append(text.Length == 0 ? "" : ",").Append(k).Append('=').Append(v);
        }
        return text.ToString();
    }

    // `ax.istio.io/command`: {"container": ["word", ...]} or, for a pod with one container, ["word", ...] (kept under "").
    // Read from the pod template's annotations, else the workload's.
    private static Dictionary<string, string[]>? CommandAnnotation(string where, YamlMappingNode? templateAnnotations,
        YamlMappingNode? workloadAnnotations, List<string> problems)
    {
        YamlNode? node = null;
        if (templateAnnotations?.Children.TryGetValue(AxAnnotations.Command, out node) != true)
        {
            workloadAnnotations?.Children.TryGetValue(AxAnnotations.Command, out node);
        }
        if (node is null)
        {
            return null;
        }
        var at = $"{where}: annotation {AxAnnotations.Command}";
        if (node is not YamlScalarNode { Value: { } json })
        {
            problems.Add($"{at} must be a string");
            return null;
        }
        try
        {
            using var document = JsonDocument.Parse(json);
            var commands = new Dictionary<string, string[]>(StringComparer.Ordinal);
            switch (document.RootElement.ValueKind)
            {
                case JsonValueKind.Array:
                    commands[""] = Words(document.RootElement, at, problems);
                    break;
                case JsonValueKind.Object:
                    foreach (var property in document.RootElement.EnumerateObject())
                    {
                        if (property.Value.ValueKind != JsonValueKind.Array)
                        {
                            problems.Add($"{at}: the command of \"{property.Name}\" must be a JSON array of strings");
                            continue;
                        }
                        commands[property.Name] = Words(property.Value, $"{at}: the command of \"{property.Name}\"", problems);
                    }
                    break;
                default:
                    problems.Add($"{at} must be a JSON object of arrays ({{\"container\": [\"cmd\", \"arg\"]}}) or a JSON array");
                    return null;
            }
            return commands;
        }
        catch (JsonException e)
        {
            problems.Add($"{at} is not JSON: {e.Message}");
            return null;
        }
    }

    private static string[] Words(JsonElement array, string at, List<string> problems)
    {
        var words = new List<string>();
        foreach (var element in array.EnumerateArray())
        {
            if (element.ValueKind != JsonValueKind.String)
            {
                problems.Add($"{at} must hold strings only");
                return [];
            }
            words.Add(element.GetString()!);
        }
        if (words.Count == 0)
        {
            problems.Add($"{at} must not be empty");
        }
        return [.. words];
    }

    /// <summary>The mapping at <paramref name="key"/>; null when absent or null; a problem when it is something else.</summary>
    internal static YamlMappingNode? Mapping(YamlMappingNode parent, string key, string what, List<string> problems)
    {
        if (!parent.Children.TryGetValue(key, out var node) || IsNull(node))
        {
            return null;
        }
        if (node is YamlMappingNode mapping)
        {
            return mapping;
        }
        problems.Add($"{what} must be a mapping");
        return null;
    }

    /// <summary>The sequence at <paramref name="key"/>; null when absent or null; a problem when it is something else.</summary>
    internal static YamlSequenceNode? Sequence(YamlMappingNode parent, string key, string what, List<string> problems)
    {
        if (!parent.Children.TryGetValue(key, out var node) || IsNull(node))
        {
            return null;
        }
        if (node is YamlSequenceNode sequence)
        {
            return sequence;
        }
        problems.Add($"{what} must be a list");
        return null;
    }

    /// <summary>The string at <paramref name="key"/>, or null.</summary>
    internal static string? Text(YamlMappingNode parent, string key) =>
        parent.Children.TryGetValue(key, out var node) && node is YamlScalarNode scalar && !IsNull(scalar) ? scalar.Value : null;

    /// <summary>A YAML null: an empty plain scalar, <c>~</c> or <c>null</c>.</summary>
    internal static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any, Value: "" or "~" or "null" or "Null" or "NULL" } s && s.Tag.IsEmpty;

    private static void InsertBefore(YamlMappingNode mapping, string before, string key, YamlNode value)
    {
        var index = IndexOf(mapping, before);
        if (index < 0)
        {
            mapping.Children.Add(Scalar(key), value);
        }
        else
        {
            mapping.Children.Insert(index, Scalar(key), value);
        }
    }

    private static void InsertAfter(YamlMappingNode mapping, string after, string key, YamlNode value)
    {
        var index = IndexOf(mapping, after);
        if (index < 0)
        {
            mapping.Children.Add(Scalar(key), value);
        }
        else
        {
            mapping.Children.Insert(index + 1, Scalar(key), value);
        }
    }

    private static int IndexOf(YamlMappingNode mapping, string key)
    {
        var index = 0;
        foreach (var child in mapping.Children.Keys)
        {
            if (child is YamlScalarNode { Value: { } k } && k == key)
            {
                return index;
            }
            index++;
        }
        return -1;
    }

    private static YamlScalarNode Scalar(string value) => new(value);

    private static YamlScalarNode Plain(long value) => new(value.ToString(CultureInfo.InvariantCulture)) { Style = ScalarStyle.Plain };

    // A string Kubernetes must read as a string: quoted when plain YAML would read it as something else.
    private static YamlScalarNode Quoted(string value) => new(value) { Style = LooksTyped(value) ? ScalarStyle.DoubleQuoted : ScalarStyle.Any };

    private static bool LooksTyped(string value) =>
        value.Length == 0
        || value.ToUpperInvariant() is "TRUE" or "FALSE" or "YES" or "NO" or "ON" or "OFF" or "Y" or "N" or "NULL" or "~"
        || char.IsAsciiDigit(value[0]) || value[0] is '+' or '-' or '.';
}
