using System.Text.RegularExpressions;
using Google.Protobuf;
using Istio.AppSwitch.Xds.Resources;
using Istio.AppSwitch.Xds.Tests.Translation;

namespace Istio.AppSwitch.Xds.Tests.Chaining;

/// <summary>A fenced <c>yaml</c> block of a Markdown file, with the kind its <c>&lt;!-- test: KIND --&gt;</c> marker gives.</summary>
/// <param name="Kind">The marker's kind, or null when no marker precedes the block.</param>
/// <param name="Yaml">The block's text, without the fences.</param>
/// <param name="Line">The 1-based line of the opening fence, for messages.</param>
internal sealed record DocYamlBlock(string? Kind, string Yaml, int Line);

/// <summary>
/// Reads the YAML of a document and parses it as Envoy would: YAML to proto3 JSON, then Google.Protobuf's
/// <see cref="JsonParser"/> with every generated Envoy type registered and unknown fields refused.
/// </summary>
internal static partial class DocYamlBlocks
{
    // Refusing unknown fields is the point: Envoy refuses them too, and a misspelled field must fail here, not in a mesh.
    private static readonly JsonParser StrictParser = new(
        JsonParser.Settings.Default.WithTypeRegistry(EnvoyTypeRegistry.Registry).WithIgnoreUnknownFields(false));

    /// <summary>Every fenced <c>yaml</c> block, in order. A marker applies to the next fence, blank lines allowed between.</summary>
    public static IReadOnlyList<DocYamlBlock> Extract(string markdown)
    {
        ArgumentNullException.ThrowIfNull(markdown);
        var lines = markdown.ReplaceLineEndings("\n").Split('\n');
        var blocks = new List<DocYamlBlock>();
        string? pendingKind = null;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            if (Marker().Match(line) is { Success: true } marker)
            {
                pendingKind = marker.Groups["kind"].Value;
                continue;
            }
            if (!line.StartsWith("```", StringComparison.Ordinal))
            {
                if (line.Trim().Length > 0)
                {
                    pendingKind = null;
                }
                continue;
            }

            // Any fence: find its end, so that a yaml example inside another block is not taken for a block.
            var start = i;
            var language = line[3..].Trim();
            var body = new List<string>();
            for (i++; i < lines.Length && !lines[i].StartsWith("```", StringComparison.Ordinal); i++)
            {
                body.Add(lines[i]);
            }
            if (i == lines.Length)
            {
                throw new FormatException($"The fence opened at line {start + 1} is never closed.");
            }
            if (language == "yaml")
            {
                blocks.Add(new DocYamlBlock(pendingKind, string.Join('\n', body), start + 1));
            }
            pendingKind = null;
        }

        return blocks;
    }

    /// <summary>Parses a block into <typeparamref name="T"/> strictly.</summary>
    /// <param name="block">The block.</param>
    /// <param name="source">The document, for the message (<c>docs/envoy-chaining.md</c>).</param>
    /// <exception cref="FormatException">The block is not a valid <typeparamref name="T"/>: the message names the document,
    /// the block's line and kind, the message type and the parser's reason (<c>Unknown field: conect_timeout</c>); the
    /// parser's exception is the inner one.</exception>
    public static T ParseBlock<T>(DocYamlBlock block, string source)
        where T : IMessage<T>, new()
    {
        ArgumentNullException.ThrowIfNull(block);
        return ParseStrictJson<T>(EnvoyJson.YamlToJson(block.Yaml), $"{source} line {block.Line} ({block.Kind ?? "unmarked"} block)");
    }

    /// <summary>Parses proto3 JSON into <typeparamref name="T"/> strictly.</summary>
    /// <param name="json">The JSON.</param>
    /// <param name="where">Where the JSON comes from, to start the message with.</param>
    /// <exception cref="FormatException">As for <see cref="ParseBlock{T}"/>.</exception>
    public static T ParseStrictJson<T>(string json, string where)
        where T : IMessage<T>, new()
    {
        try
        {
            return StrictParser.Parse<T>(json);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new FormatException($"{where} is not a valid {new T().Descriptor.FullName}: {e.Message}", e);
        }
    }

    [GeneratedRegex(@"^<!--\s*test:\s*(?<kind>[a-z][a-z0-9-]*)\s*-->\s*$")]
    private static partial Regex Marker();
}
