using System.Globalization;
using System.Text;
using Google.Protobuf.Reflection;

namespace Istio.AppSwitch.Xds.Resources;

/// <summary>What one step from a message toward a nested value is.</summary>
internal enum JsonPathStepKind
{
    /// <summary>A field of a message: <c>.name</c> in the path, a field number for navigation.</summary>
    Field,

    /// <summary>An element of a repeated field: <c>[i]</c>.</summary>
    Index,

    /// <summary>An entry of a map field: <c>['key']</c>.</summary>
    MapKey,

    /// <summary>Into the message an <c>Any</c> packs: nothing in the path (its fields sit beside <c>@type</c>).</summary>
    AnyBody,

    /// <summary>A JSON property with no message counterpart (the <c>value</c> of a well-known type in an <c>Any</c>).</summary>
    JsonOnly,
}

/// <summary>
/// One step of the path from the root <c>ConfigDump</c> to a value: enough to print a JSON path and, for the
/// placeholders the reader plants, to find the same value again in the parsed message.
/// </summary>
/// <param name="Kind">What the step is.</param>
/// <param name="Name">Property name or map key as written in the JSON.</param>
/// <param name="Number">Field number for <see cref="JsonPathStepKind.Field"/>, index for <see cref="JsonPathStepKind.Index"/>.</param>
/// <param name="MapKey">The map key converted to the key field's CLR type (null when it did not parse).</param>
/// <param name="AnyType">The packed type for <see cref="JsonPathStepKind.AnyBody"/>.</param>
internal readonly record struct JsonPathStep(
    JsonPathStepKind Kind,
    string? Name,
    int Number,
    object? MapKey,
    MessageDescriptor? AnyType)
{
    public static JsonPathStep Field(string name, int number) => new(JsonPathStepKind.Field, name, number, null, null);

    public static JsonPathStep Index(int index) => new(JsonPathStepKind.Index, null, index, null, null);

    public static JsonPathStep Key(string name, object? key) => new(JsonPathStepKind.MapKey, name, 0, key, null);

    public static JsonPathStep Body(MessageDescriptor type) => new(JsonPathStepKind.AnyBody, null, 0, null, type);

    public static JsonPathStep Property(string name) => new(JsonPathStepKind.JsonOnly, name, 0, null, null);

    /// <summary>Formats steps the way System.Text.Json reports paths: <c>$.a.b[0]['odd key']</c>.</summary>
    public static string Format(IEnumerable<JsonPathStep> steps)
    {
        var builder = new StringBuilder("$");
        foreach (var step in steps)
        {
            switch (step.Kind)
            {
                case JsonPathStepKind.Field or JsonPathStepKind.JsonOnly or JsonPathStepKind.MapKey:
                    AppendName(builder, step.Name!, forceBrackets: step.Kind == JsonPathStepKind.MapKey);
                    break;
                case JsonPathStepKind.Index:
                    builder.Append('[').Append(step.Number.ToString(CultureInfo.InvariantCulture)).Append(']');
                    break;
                case JsonPathStepKind.AnyBody:
                    break;
            }
        }
        return builder.ToString();
    }

    private static void AppendName(StringBuilder builder, string name, bool forceBrackets)
    {
        if (!forceBrackets && IsPlainName(name))
        {
            builder.Append('.').Append(name);
            return;
        }
        builder.Append("['").Append(name.Replace("'", "\\'", StringComparison.Ordinal)).Append("']");
    }

    private static bool IsPlainName(string name) =>
        name.Length > 0 && !char.IsAsciiDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '@');
}
