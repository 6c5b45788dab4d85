using Istio.AppSwitch.Tests.Common.Tools;
using YamlDotNet.RepresentationModel;

namespace Istio.AppSwitch.Injection.Tests;

/// <summary>Reading the test manifests and walking YAML nodes in assertions.</summary>
internal static class Yaml
{
    public static string Manifest(string name) => File.ReadAllText(RepositoryPaths.Combine("tests", "Injection.Tests", "manifests", name));

    public static List<YamlMappingNode> Documents(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        return [.. stream.Documents.Select(d => d.RootNode).OfType<YamlMappingNode>()];
    }

    /// <summary>The object of <paramref name="kind"/> named <paramref name="name"/>.</summary>
    public static YamlMappingNode Find(IEnumerable<YamlMappingNode> documents, string kind, string name) =>
        documents.Single(d => Text(d, "kind") == kind && Text(Map(d, "metadata"), "name") == name);

    public static YamlMappingNode Map(YamlNode node, params string[] path)
    {
        foreach (var key in path)
        {
            node = ((YamlMappingNode)node).Children[key];
        }
        return (YamlMappingNode)node;
    }

    public static YamlSequenceNode Seq(YamlNode node, params string[] path)
    {
        for (var i = 0; i < path.Length - 1; i++)
        {
            node = ((YamlMappingNode)node).Children[path[i]];
        }
        return (YamlSequenceNode)((YamlMappingNode)node).Children[path[^1]];
    }

    public static string? Text(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(key, out var value) ? ((YamlScalarNode)value).Value : null;

    public static string[] Words(YamlSequenceNode sequence) => [.. sequence.Children.Select(c => ((YamlScalarNode)c).Value!)];

    public static YamlMappingNode Named(YamlSequenceNode sequence, string name) =>
        sequence.Children.OfType<YamlMappingNode>().Single(m => Text(m, "name") == name);

    public static string[] Names(YamlSequenceNode sequence) => [.. sequence.Children.OfType<YamlMappingNode>().Select(m => Text(m, "name")!)];

    public static string[] Keys(YamlMappingNode node) => [.. node.Children.Keys.Select(k => ((YamlScalarNode)k).Value!)];

    /// <summary>The documents of a stream as text, split at the <c>---</c> lines.</summary>
    public static List<string> Chunks(string text)
    {
        var chunks = new List<string> { "" };
        foreach (var line in text.Split('\n'))
        {
            if (line == "---")
            {
                chunks.Add("");
            }
            else
            {
                chunks[^1] += line + "\n";
            }
        }
        return chunks;
    }
}
