using System.Buffers;
using System.Collections.Immutable;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Envoy.Admin.V3;
using Google.Protobuf;

namespace Istio.AppSwitch.Xds.Resources;

/// <summary>
/// Reads an Envoy admin config dump (<c>/config_dump</c>, <c>/config_dump?include_eds</c>,
/// <c>istioctl proxy-config all -o json</c>): proto3 JSON of <c>envoy.admin.v3.ConfigDump</c>.
/// </summary>
/// <remarks>
/// <para>
/// The dump is parsed with Google.Protobuf's <c>JsonParser</c> and <see cref="EnvoyTypeRegistry"/>, after one walk
/// of the JSON along the schema that makes it parseable without losing anything:
/// </para>
/// <list type="bullet">
/// <item><description>An <c>Any</c> of a type ax does not generate (Lua, Wasm, Istio's filters, access loggers, ...) is
/// OPAQUE: it stays in the parsed message as an <c>Any</c> with its original type URL and an empty value, and its
/// JSON is kept in <see cref="ConfigDumpReadResult.OpaqueResources"/>. It is not an error: those configs only
/// matter to the proxy that runs them.</description></item>
/// <item><description>A field of a known message that the generated protos do not define is stripped and kept in
/// <see cref="ConfigDumpReadResult.UnknownFields"/> with its path and value; so is an unknown enum name, whose field is
/// left at its default. Not an error either, by choice: the dumps ax reads come from Envoy versions older (deprecated
/// fields since removed) or newer (fields not yet generated) than its protos, and failing on them would make real
/// dumps unreadable, while ignoring them silently (protobuf's <c>ignore_unknown_fields</c>) would hide configuration
/// ax does not honour. Recording them lets the caller decide, and lets tests pin exactly what is lost.</description></item>
/// <item><description>A value whose JSON kind does not fit its field (a string for a bool, an object for a list, a
/// malformed duration) is an ERROR with its JSON path; all of them are reported and nothing is returned.</description></item>
/// </list>
/// <para>Paths are JSON paths with the names as written in the dump (<c>$.configs[1].dynamic_active_clusters[0]</c>).</para>
/// <para>Thread-safe: the reader holds no state between calls.</para>
/// </remarks>
public static class ConfigDumpReader
{
    // Deep enough for Istio's nested RBAC rules inside listeners inside the dump; shallow enough to keep the
    // recursive walk and JsonParser far from the stack limit on hostile input. No deeper than protobuf's binary
    // recursion limit (100): a typed_config is packed into an Any, and one nested deeper than that could be read
    // here but never unpacked by the translator.
    private const int MaxDepth = 100;

    private static readonly JsonParser Parser = new(
        new JsonParser.Settings(MaxDepth, EnvoyTypeRegistry.Registry).WithIgnoreUnknownFields(false));

    private static readonly JsonDocumentOptions DocumentOptions = new()
    {
        MaxDepth = MaxDepth,
        AllowDuplicateProperties = false,
    };

    // The copy is only for JsonParser, which reads any valid escaping; escaping less is faster.
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        MaxDepth = MaxDepth + 1,
    };

    /// <summary>Reads a config dump from JSON text.</summary>
    /// <returns>The result; on failure <see cref="ConfigDumpReadResult.Errors"/> says why. Never throws for bad input.</returns>
    public static ConfigDumpReadResult Read(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            using var document = JsonDocument.Parse(json, DocumentOptions);
            return Read(document.RootElement);
        }
        catch (JsonException ex)
        {
            return MalformedJson(ex);
        }
    }

    /// <summary>Reads a config dump from UTF-8 JSON (<c>File.ReadAllBytes</c>, an HTTP response body).</summary>
    /// <returns>The result; on failure <see cref="ConfigDumpReadResult.Errors"/> says why. Never throws for bad input.</returns>
    public static ConfigDumpReadResult Read(ReadOnlyMemory<byte> utf8Json)
    {
        try
        {
            using var document = JsonDocument.Parse(utf8Json, DocumentOptions);
            return Read(document.RootElement);
        }
        catch (JsonException ex)
        {
            return MalformedJson(ex);
        }
        catch (InvalidOperationException ex) when (ex.InnerException is DecoderFallbackException)
        {
            // JsonDocument checks UTF-8 only when a string is read, which the walk does after parsing.
            return ConfigDumpReadResult.Failed("$", $"malformed JSON: {ex.Message}");
        }
    }

    private static ConfigDumpReadResult Read(JsonElement root)
    {
        var parseable = new ArrayBufferWriter<byte>();
        var normalizer = new ProtoJsonNormalizer(EnvoyTypeRegistry.Registry, new Utf8JsonWriter(parseable, WriterOptions));
        normalizer.Normalize(root, ConfigDump.Descriptor);
        if (normalizer.Errors.Count > 0)
        {
            return ConfigDumpReadResult.Failed(normalizer.Errors);
        }

        ConfigDump dump;
        try
        {
            dump = Parser.Parse<ConfigDump>(Encoding.UTF8.GetString(parseable.WrittenSpan));
            normalizer.Restorer.Restore(dump);
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidJsonException or InvalidOperationException or FormatException or OverflowException)
        {
            // The walk checks what JsonParser checks, except values of the right shape that still do not exist
            // (30 February, a duration beyond 10000 years). JsonParser's messages carry no path.
            return ConfigDumpReadResult.Failed("$", $"not a valid envoy.admin.v3.ConfigDump: {ex.Message}");
        }

        var resources = new ConfigDumpFlattener();
        resources.Add(dump);
        if (resources.Errors.Count > 0)
        {
            return ConfigDumpReadResult.Failed(resources.Errors);
        }

        return new ConfigDumpReadResult
        {
            Dump = dump,
            DynamicClusters = resources.Clusters,
            DynamicListeners = resources.Listeners,
            DynamicRouteConfigurations = resources.RouteConfigurations,
            DynamicEndpoints = resources.Endpoints,
            Static = new StaticResources(
                resources.Bootstrap,
                resources.StaticClusters,
                resources.StaticListeners,
                resources.StaticRouteConfigurations,
                resources.StaticEndpoints),
            OpaqueResources = normalizer.OpaqueResources,
            UnknownFields = normalizer.UnknownFields,
            OpaqueCounts = CountBy(normalizer.OpaqueResources, o => o.TypeUrl),
            UnknownFieldCounts = CountBy(normalizer.UnknownFields, u => u.QualifiedName),
        };
    }

    private static ConfigDumpReadResult MalformedJson(JsonException ex) =>
        ConfigDumpReadResult.Failed(ex.Path ?? "$", $"malformed JSON: {ex.Message}");

    private static ImmutableSortedDictionary<string, int> CountBy<T>(IEnumerable<T> items, Func<T, string> key) =>
        items.GroupBy(key, StringComparer.Ordinal)
            .ToImmutableSortedDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
}
