using System.Text.Json;
using System.Text.Json.Nodes;

namespace Istio.AppSwitch.Tests.Fuzzing;

/// <summary>
/// Mutations of a parsed JSON document that keep it JSON, so they reach past the tokenizer into the binder and the
/// validation: values of the wrong kind, removed, renamed and duplicated fields, huge strings and numbers, deep nesting.
/// </summary>
public static class JsonTreeMutator
{
    private static readonly JsonSerializerOptions DeepWriter = new() { MaxDepth = 4096 };

    private static readonly Func<Random, JsonNode?>[] Replacements =
    [
        _ => null,
        _ => JsonValue.Create(true),
        r => JsonValue.Create(r.Next(3) switch { 0 => -1L, 1 => long.MaxValue, _ => 0L }),
        _ => JsonValue.Create(1e308),
        _ => JsonValue.Create(""),
        _ => JsonValue.Create("-3.5s"),
        _ => JsonValue.Create("type.googleapis.com/no.such.Type"),
        _ => JsonValue.Create(new string('a', 70000)),
        _ => new JsonObject(),
        _ => new JsonArray(),
        _ => new JsonObject { ["@type"] = "type.googleapis.com/envoy.config.cluster.v3.Cluster", ["name"] = 7 },
        r => Nest(r.Next(2, 600)),
    ];

    /// <summary>Writes a mutated tree: its nesting may go deeper than the writer's default of 64, and the reader under
    /// test, not the writer, is what must refuse it.</summary>
    public static byte[] ToUtf8(JsonNode root)
    {
        ArgumentNullException.ThrowIfNull(root);
        return JsonSerializer.SerializeToUtf8Bytes(root, DeepWriter);
    }

    /// <summary>Mutates one node of <paramref name="root"/> in place and says what it did.</summary>
    public static string Mutate(JsonNode root, Random random)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(random);
        var nodes = new List<JsonNode>();
        Collect(root, nodes);
        var target = nodes[random.Next(nodes.Count)];
        var parent = target.Parent;
        var path = target.GetPath();
        if (parent is null)
        {
            return "root-kept";
        }

        switch (random.Next(4))
        {
            case 0 when parent is JsonObject obj:
                obj.Remove(target.GetPropertyName());
                return $"remove {path}";
            case 1 when parent is JsonObject obj:
                var name = target.GetPropertyName();
                obj.Remove(name);
                obj[name.Length > 1 ? name[..^1] : name + "_x"] = target;
                return $"rename {path}";
            case 2 when parent is JsonArray array:
                array.Add(target.DeepClone());
                return $"duplicate {path}";
            default:
                var replacement = Replacements[random.Next(Replacements.Length)](random);
                target.ReplaceWith(replacement);
                return $"replace {path} with {Kind(replacement)}";
        }
    }

    private static string Kind(JsonNode? node) => node is null ? "null" : node.GetValueKind() switch
    {
        JsonValueKind.String => $"string({node.GetValue<string>().Length})",
        var kind => kind.ToString(),
    };

    private static JsonNode Nest(int depth)
    {
        JsonNode node = new JsonArray();
        for (var i = 1; i < depth; i++)
        {
            node = i % 2 == 0 ? new JsonArray(node) : new JsonObject { ["a"] = node };
        }

        return node;
    }

    private static void Collect(JsonNode node, List<JsonNode> nodes)
    {
        nodes.Add(node);
        switch (node)
        {
            case JsonObject obj:
                foreach (var (_, child) in obj)
                {
                    if (child is not null)
                    {
                        Collect(child, nodes);
                    }
                }

                break;
            case JsonArray array:
                foreach (var child in array)
                {
                    if (child is not null)
                    {
                        Collect(child, nodes);
                    }
                }

                break;
        }
    }
}
