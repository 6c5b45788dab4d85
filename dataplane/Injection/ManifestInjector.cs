using System.Text;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Istio.AppSwitch.Injection;

/// <summary>
/// <c>ax inject</c>: reads a multi-document YAML stream of Kubernetes objects and injects the pod template of every
/// workload in it (docs/kubernetes.md). A document that is not injected is written back as it was read, character for
/// character; an injected one is written from its nodes, which keeps its keys' order, its unknown fields and its
/// scalars' quoting, but not the comments inside it. All or nothing: with any problem, nothing is written.
/// </summary>
public static class ManifestInjector
{
    /// <summary>Reads <paramref name="input"/> to its end, injects it, and writes the result to <paramref name="output"/>.</summary>
    /// <param name="input">The manifests.</param>
    /// <param name="output">Where the injected manifests go; untouched when injection fails.</param>
    /// <param name="options">What to inject.</param>
    /// <param name="source">The input's name for messages (a file name, or <c>-</c>).</param>
    /// <exception cref="InjectionException">The input is not YAML, or a workload cannot be injected.</exception>
    public static InjectionResult Inject(TextReader input, TextWriter output, InjectionOptions options, string source)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        var result = Inject(input.ReadToEnd(), options, source);
        output.Write(result.Output);
        return result;
    }

    /// <summary>Injects <paramref name="text"/>; see <see cref="Inject(TextReader, TextWriter, InjectionOptions, string)"/>.</summary>
    /// <exception cref="InjectionException">The input is not YAML, or a workload cannot be injected.</exception>
    public static InjectionResult Inject(string text, InjectionOptions options, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(source);
        if (options.Validate() is { Count: > 0 } invalid)
        {
            throw new InjectionException(invalid);
        }

        List<SourceDocument> documents;
        try
        {
            documents = YamlText.ReadDocuments(text);
        }
        catch (YamlException e)
        {
            throw new InjectionException($"{source}: line {e.Start.Line}, column {e.Start.Column}: not valid YAML: {Reason(e)}", e);
        }

        var injector = new PodInjector(options);
        var problems = new List<string>();
        var workloads = new List<InjectedWorkload>();
        var changed = new bool[documents.Count];
        for (var i = 0; i < documents.Count; i++)
        {
            var root = documents[i].Document.RootNode;
            var where = $"{source}: document {i + 1} (line {root.Start.Line})";
            switch (root)
            {
                case YamlMappingNode mapping:
                    changed[i] = InjectObject(injector, i + 1, where, mapping, workloads, problems);
                    break;
                case YamlScalarNode scalar when PodInjector.IsNull(scalar):
                    break; // an empty document, as between two `---`: kubectl ignores it, and so does ax
                default:
                    problems.Add($"{where} is a {(root is YamlSequenceNode ? "list" : "scalar")}, not a Kubernetes object (a mapping)");
                    break;
            }
        }
        if (problems.Count > 0)
        {
            throw new InjectionException(problems);
        }

        var output = new StringBuilder(text.Length + (changed.Count(c => c) * 1024));
        var end = 0;
        for (var i = 0; i < documents.Count; i++)
        {
            var document = documents[i];
            if (!changed[i])
            {
                output.Append(text, document.Start, document.End - document.Start);
            }
            else
            {
                // What comes before the node (comments, `---`) is kept, then the node, then its `...` if it had one.
                var nodeStart = Math.Clamp(YamlText.ToOffset(document.Document.RootNode.Start), document.Start, document.End);
                var prefix = text.AsSpan(document.Start, nodeStart - document.Start).TrimEnd(" \t");
                output.Append(prefix);
                if (prefix.Length > 0 && prefix[^1] != '\n')
                {
                    output.Append('\n');
                }
                output.Append(YamlText.Write(document.Document.RootNode));
                if (document.ExplicitEnd)
                {
                    output.Append("...");
                }
            }
            end = document.End;
        }
        output.Append(text, end, text.Length - end);
        return new InjectionResult(output.ToString(), workloads);
    }

    // One Kubernetes object; true when something in it was injected.
    private static bool InjectObject(PodInjector injector, int document, string where, YamlMappingNode root,
        List<InjectedWorkload> workloads, List<string> problems)
    {
        var kind = PodInjector.Text(root, "kind");
        var apiVersion = PodInjector.Text(root, "apiVersion");
        if (kind is null || apiVersion is null)
        {
            problems.Add($"{where} is not a Kubernetes object: it has no {(kind is null ? "kind" : "apiVersion")}");
            return false;
        }
        var metadata = PodInjector.Mapping(root, "metadata", $"{where}: metadata", problems);
        var name = metadata is null ? "" : PodInjector.Text(metadata, "name") ?? PodInjector.Text(metadata, "generateName") ?? "";
        var what = $"{where}, {kind} {(name.Length > 0 ? name : "(no name)")}";
        var group = apiVersion.Contains('/', StringComparison.Ordinal) ? apiVersion[..apiVersion.IndexOf('/', StringComparison.Ordinal)] : "";

        YamlMappingNode? template;
        switch (kind, group)
        {
            case ("Pod", ""):
                template = root;
                break;
            case ("Deployment" or "StatefulSet" or "DaemonSet" or "ReplicaSet", "apps" or "extensions"):
            case ("ReplicationController", ""):
            case ("Job", "batch"):
                template = Path(root, what, problems, "spec", "template");
                break;
            case ("CronJob", "batch"):
                template = Path(root, what, problems, "spec", "jobTemplate", "spec", "template");
                break;
            case ("List", ""):
            case (_, _) when kind.EndsWith("List", StringComparison.Ordinal) && root.Children.ContainsKey("items"):
                return InjectList(injector, document, what, root, workloads, problems);
            default:
                return false; // not a workload: passed through as it is
        }
        if (template is null)
        {
            return false;
        }
        var outcome = injector.Inject(what, metadata, template, problems);
        if (outcome is { } o)
        {
            workloads.Add(new InjectedWorkload(document, kind, name, o));
        }
        return outcome == InjectionOutcome.Injected;
    }

    private static bool InjectList(PodInjector injector, int document, string what, YamlMappingNode list,
        List<InjectedWorkload> workloads, List<string> problems)
    {
        if (PodInjector.Sequence(list, "items", $"{what}: items", problems) is not { } items)
        {
            return false;
        }
        var changed = false;
        var index = 0;
        foreach (var item in items.Children)
        {
            index++;
            var where = $"{what}, item {index} (line {item.Start.Line})";
            if (item is not YamlMappingNode mapping)
            {
                problems.Add($"{where} is not a Kubernetes object (a mapping)");
                continue;
            }
            changed |= InjectObject(injector, document, where, mapping, workloads, problems);
        }
        return changed;
    }

    // The mapping at spec.template (or deeper); a problem when a step is missing or not a mapping.
    private static YamlMappingNode? Path(YamlMappingNode root, string what, List<string> problems, params string[] keys)
    {
        var node = root;
        foreach (var key in keys)
        {
            var before = problems.Count;
            var next = PodInjector.Mapping(node, key, $"{what}: {string.Join('.', keys)}", problems);
            if (next is null)
            {
                if (problems.Count == before)
                {
                    problems.Add($"{what}: has no {string.Join('.', keys)}");
                }
                return null;
            }
            node = next;
        }
        return node;
    }

    // YamlDotNet puts the location in the message as "(Line: 1, Col: 2, Idx: 1) - (…): reason"; the reason is enough here.
    private static string Reason(YamlException e)
    {
        var message = e.Message;
        var cut = message.IndexOf("): ", StringComparison.Ordinal);
        return cut >= 0 && message.StartsWith("(Line", StringComparison.Ordinal) ? message[(cut + 3)..] : message;
    }
}
