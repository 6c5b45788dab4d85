using System.Collections;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Istio.AppSwitch.Xds.Resources;

/// <summary>
/// Puts the original type URLs back on the placeholder <c>Any</c>s that stood in for opaque extension configs
/// while <c>JsonParser</c> ran (it cannot parse an <c>Any</c> whose type the registry lacks).
/// </summary>
/// <remarks>
/// The placeholders are found by the path the JSON walk recorded, not by searching: a real <c>google.protobuf.Empty</c>
/// in an <c>Any</c> must stay as it is. Paths are merged into a tree so that each packed message on the way
/// (a Listener inside the dump, an HttpConnectionManager inside the Listener) is unpacked and repacked once, however
/// many placeholders it holds.
/// </remarks>
internal sealed class OpaqueAnyRestorer
{
    private readonly Node _root = new();

    public int Count { get; private set; }

    /// <summary>Records that the <c>Any</c> at <paramref name="path"/> stands for one of type <paramref name="typeUrl"/>.</summary>
    public void Add(IEnumerable<JsonPathStep> path, string typeUrl)
    {
        var node = _root;
        foreach (var step in path)
        {
            if (step.Kind == JsonPathStepKind.JsonOnly)
            {
                continue;
            }
            var key = new NodeKey(step.Kind, step.Number, step.MapKey, step.AnyType);
            node.Children ??= [];
            if (!node.Children.TryGetValue(key, out var child))
            {
                child = new Node();
                node.Children.Add(key, child);
            }
            node = child;
        }
        node.TypeUrl = typeUrl;
        Count++;
    }

    /// <summary>Restores every recorded placeholder in <paramref name="root"/>, the message the paths start from.</summary>
    /// <exception cref="InvalidOperationException">The message does not have the shape the JSON had (a reader bug).</exception>
    public void Restore(IMessage root)
    {
        if (Count > 0)
        {
            Apply(root, _root);
        }
    }

    private static void Apply(object? target, Node node)
    {
        if (node.TypeUrl is { } typeUrl)
        {
            var placeholder = target as Any ?? throw Mismatch("an Any", target);
            placeholder.TypeUrl = typeUrl;
            placeholder.Value = ByteString.Empty;
            return;
        }
        foreach (var (key, child) in node.Children!)
        {
            switch (key.Kind)
            {
                case JsonPathStepKind.Field:
                    var message = target as IMessage ?? throw Mismatch("a message", target);
                    var field = message.Descriptor.FindFieldByNumber(key.Number) ??
                        throw new InvalidOperationException($"{message.Descriptor.FullName} has no field {key.Number}.");
                    Apply(field.Accessor.GetValue(message), child);
                    break;
                case JsonPathStepKind.Index:
                    var list = target as IList ?? throw Mismatch("a repeated field", target);
                    Apply(list[key.Number], child);
                    break;
                case JsonPathStepKind.MapKey:
                    var map = target as IDictionary ?? throw Mismatch("a map field", target);
                    Apply(map[key.MapKey!], child);
                    break;
                case JsonPathStepKind.AnyBody:
                    var any = target as Any ?? throw Mismatch("an Any", target);
                    var body = key.AnyType!.Parser.ParseFrom(any.Value);
                    Apply(body, child);
                    any.Value = body.ToByteString();
                    break;
            }
        }
    }

    private static InvalidOperationException Mismatch(string expected, object? found) =>
        new($"Expected {expected} on the path to an opaque Any, found {found?.GetType().Name ?? "nothing"}.");

    private readonly record struct NodeKey(
        JsonPathStepKind Kind,
        int Number,
        object? MapKey,
        Google.Protobuf.Reflection.MessageDescriptor? AnyType);

    private sealed class Node
    {
        public Dictionary<NodeKey, Node>? Children { get; set; }

        public string? TypeUrl { get; set; }
    }
}
