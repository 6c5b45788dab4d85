using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace Istio.AppSwitch.Injection;

/// <summary>One document of a YAML stream, with where its text starts and ends in the source.</summary>
/// <param name="Document">The document as nodes.</param>
/// <param name="Start">The offset of the first character of its text: the end of the previous document, or 0.</param>
/// <param name="End">The offset just past its text: past its <c>...</c> marker when it has one.</param>
/// <param name="ExplicitEnd">Whether it ends with <c>...</c>.</param>
internal sealed record SourceDocument(YamlDocument Document, int Start, int End, bool ExplicitEnd);

/// <summary>
/// The text side of the injector: splits a stream into documents that remember their source span, so that a document
/// nobody changed is written back character for character (comments included), and writes a changed one from its nodes.
/// </summary>
internal static class YamlText
{
    /// <summary>Reads every document of <paramref name="text"/>. Throws <see cref="YamlException"/> when it is not YAML.</summary>
    public static List<SourceDocument> ReadDocuments(string text)
    {
        var parser = new DocumentBoundaryParser(new Parser(new StringReader(text)));
        var stream = new YamlStream();
        stream.Load(parser);
        if (parser.DocumentEnds.Count != stream.Documents.Count)
        {
            throw new YamlException($"read {stream.Documents.Count} documents but {parser.DocumentEnds.Count} document ends");
        }
        var documents = new List<SourceDocument>(stream.Documents.Count);
        var previousEnd = 0;
        for (var i = 0; i < stream.Documents.Count; i++)
        {
            var end = parser.DocumentEnds[i];
            var endOffset = Math.Clamp(ToOffset(end.End), previousEnd, text.Length);
            // An explicit end's mark is where its "..." starts: the marker belongs to the document.
            if (!end.IsImplicit && text.AsSpan(endOffset).StartsWith("...", StringComparison.Ordinal))
            {
                endOffset += 3;
            }
            documents.Add(new SourceDocument(stream.Documents[i], previousEnd, endOffset, !end.IsImplicit));
            previousEnd = endOffset;
        }
        return documents;
    }

    /// <summary>The character offset of <paramref name="mark"/>.</summary>
    public static int ToOffset(Mark mark) => (int)Math.Min(mark.Index, int.MaxValue);

    /// <summary>
    /// <paramref name="root"/> as a block YAML document without markers, ending in a newline. Aliases are written out
    /// in full and anchors dropped: the node model resolves them on load.
    /// </summary>
    public static string Write(YamlNode root)
    {
        using var writer = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        var emitter = new Emitter(writer, new EmitterSettings(
            bestIndent: 2, bestWidth: int.MaxValue, isCanonical: false, maxSimpleKeyLength: 1024, skipAnchorName: false,
            indentSequences: true, newLine: "\n"));
        emitter.Emit(new StreamStart());
        emitter.Emit(new DocumentStart(null, null, isImplicit: true));
        Emit(emitter, root);
        emitter.Emit(new DocumentEnd(isImplicit: true));
        emitter.Emit(new StreamEnd());
        // The emitter closes some documents (one ending in a flow collection, say) with "...": the caller decides.
        var text = writer.ToString();
        foreach (var marker in (ReadOnlySpan<string>)["\n...\n", "\n..."])
        {
            if (text.EndsWith(marker, StringComparison.Ordinal))
            {
                return text[..(text.Length - marker.Length + 1)];
            }
        }
        return text.EndsWith('\n') ? text : text + "\n";
    }

    private static void Emit(IEmitter emitter, YamlNode node)
    {
        switch (node)
        {
            case YamlScalarNode scalar:
                var implicitTag = scalar.Tag.IsEmpty;
                emitter.Emit(new Scalar(AnchorName.Empty, scalar.Tag, scalar.Value ?? string.Empty, scalar.Style, implicitTag, implicitTag));
                break;
            case YamlSequenceNode sequence:
                var style = sequence.Children.Count == 0 ? SequenceStyle.Flow : sequence.Style;
                emitter.Emit(new SequenceStart(AnchorName.Empty, sequence.Tag, sequence.Tag.IsEmpty, style));
                foreach (var child in sequence.Children)
                {
                    Emit(emitter, child);
                }
                emitter.Emit(new SequenceEnd());
                break;
            case YamlMappingNode mapping:
                var mappingStyle = mapping.Children.Count == 0 ? MappingStyle.Flow : mapping.Style;
                emitter.Emit(new MappingStart(AnchorName.Empty, mapping.Tag, mapping.Tag.IsEmpty, mappingStyle));
                foreach (var (key, value) in mapping.Children)
                {
                    Emit(emitter, key);
                    Emit(emitter, value);
                }
                emitter.Emit(new MappingEnd());
                break;
            default:
                throw new InvalidOperationException($"unexpected YAML node {node.NodeType}");
        }
    }

    /// <summary>Passes a parser's events through, keeping every document end: the node model does not keep them.</summary>
    private sealed class DocumentBoundaryParser(IParser inner) : IParser
    {
        public List<DocumentEnd> DocumentEnds { get; } = [];

        public ParsingEvent? Current => inner.Current;

        public bool MoveNext()
        {
            var moved = inner.MoveNext();
            if (moved && inner.Current is DocumentEnd end)
            {
                DocumentEnds.Add(end);
            }
            return moved;
        }
    }
}
