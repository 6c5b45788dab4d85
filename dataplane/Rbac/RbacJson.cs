using System.Collections.Immutable;
using System.Net;
using System.Text.Json;

namespace Istio.AppSwitch.Rbac;

/// <summary>
/// The JSON form of an <see cref="RbacModel"/>: the <c>rbac</c> field of an inbound port in <c>POST /v1/mesh</c>
/// (docs/api.md, "Inbound RBAC"). The xds-agent writes it, the daemon reads it. Written and read by hand with
/// <see cref="Utf8JsonWriter"/> and <see cref="JsonElement"/>: no reflection, so it survives trimming.
/// </summary>
/// <remarks>
/// <para>The format, stable (fields are camelCase; unknown fields are errors, so that a rule the daemon does not know
/// can never be dropped and thereby allow):</para>
/// <code>
/// { "shadowPolicies": 0,
///   "engines": [ { "action": "allow" | "deny" | "log",
///                  "policies": [ { "name": "...", "permissions": [M...], "principals": [M...] } ] } ] }
/// M = {"any": true} | {"and": [M...]} | {"or": [M...]} | {"not": M}
///   | {"destinationPort": {"start": 80, "end": 80}} | {"destinationIp": "10.0.0.0/8"} | {"sourceIp": "127.0.0.2/32"}
///   | {"principal": null} (any authenticated peer) | {"principal": S} | {"unsupported": "metadata envoy.filters.http.jwt_authn"}
///   | {"urlPath": {"path": S, "ignoreQuery": false}} ("ignoreQuery" defaults to true: the query is not matched)
///   | {"header": {"name": ":method", "value": S | "present": true, "invert": false, "treatMissingAsEmpty": false}}
///   | {"requestedServerName": S}
/// S = {"exact" | "prefix" | "suffix" | "contains" | "regex": "...", "ignoreCase": false}
/// </code>
/// <para>Errors are <see cref="RbacJsonException"/> with the path of the bad node
/// (<c>engines[0].policies[1].principals[0].or[2].sourceIp</c>), never another exception.</para>
/// </remarks>
public static class RbacJson
{
    /// <summary>How deep matchers may nest; Istio emits at most four levels.</summary>
    public const int MaxDepth = 32;

    /// <summary>How many matcher nodes one model may hold, so a hostile body cannot make the daemon build a huge tree.</summary>
    public const int MaxNodes = 100_000;

    /// <summary>Writes <paramref name="model"/> as one JSON object.</summary>
    public static void Write(Utf8JsonWriter writer, RbacModel model)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(model);
        writer.WriteStartObject();
        writer.WriteNumber("shadowPolicies", model.ShadowPolicyCount);
        writer.WriteStartArray("engines");
        foreach (var engine in model.Engines)
        {
            writer.WriteStartObject();
            writer.WriteString("action", ActionName(engine.Action));
            writer.WriteStartArray("policies");
            foreach (var policy in engine.Policies)
            {
                writer.WriteStartObject();
                writer.WriteString("name", policy.Name);
                WriteMatchers(writer, "permissions", policy.Permissions);
                WriteMatchers(writer, "principals", policy.Principals);
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>The model as UTF-8 JSON.</summary>
    public static byte[] ToUtf8Bytes(RbacModel model)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, model);
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The model as a detached <see cref="JsonElement"/>, for a DTO's <c>rbac</c> field.</summary>
    public static JsonElement ToElement(RbacModel model)
    {
        using var document = JsonDocument.Parse(ToUtf8Bytes(model));
        return document.RootElement.Clone();
    }

    /// <summary>Parses UTF-8 JSON. Throws <see cref="RbacJsonException"/> for malformed JSON or a bad model.</summary>
    public static RbacModel Parse(ReadOnlyMemory<byte> utf8)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8, new JsonDocumentOptions { MaxDepth = (MaxDepth * 2) + 8 });
        }
        catch (JsonException ex)
        {
            throw new RbacJsonException("", $"malformed JSON at line {(ex.LineNumber ?? 0) + 1}, byte {(ex.BytePositionInLine ?? 0) + 1}");
        }
        using (document)
        {
            return Read(document.RootElement);
        }
    }

    /// <summary>Reads a model from <paramref name="element"/>. Throws <see cref="RbacJsonException"/> naming the bad node.</summary>
    public static RbacModel Read(JsonElement element)
    {
        var reader = new Reader();
        return reader.Model(element);
    }

    private static string ActionName(RbacAction action) => action switch
    {
        RbacAction.Allow => "allow",
        RbacAction.Deny => "deny",
        _ => "log",
    };

    private static void WriteMatchers(Utf8JsonWriter writer, string name, ImmutableArray<RbacMatcher> matchers)
    {
        writer.WriteStartArray(name);
        foreach (var matcher in matchers)
        {
            WriteMatcher(writer, matcher);
        }
        writer.WriteEndArray();
    }

    private static void WriteMatcher(Utf8JsonWriter writer, RbacMatcher matcher)
    {
        writer.WriteStartObject();
        switch (matcher)
        {
            case RbacMatcher.Any:
                writer.WriteBoolean("any", true);
                break;
            case RbacMatcher.And and:
                WriteMatchers(writer, "and", and.Items);
                break;
            case RbacMatcher.Or or:
                WriteMatchers(writer, "or", or.Items);
                break;
            case RbacMatcher.Not not:
                writer.WritePropertyName("not");
                WriteMatcher(writer, not.Inner);
                break;
            case RbacMatcher.DestinationPort port:
                writer.WriteStartObject("destinationPort");
                writer.WriteNumber("start", port.Start);
                writer.WriteNumber("end", port.End);
                writer.WriteEndObject();
                break;
            case RbacMatcher.DestinationIp ip:
                writer.WriteString("destinationIp", ip.Network.ToString());
                break;
            case RbacMatcher.SourceIp ip:
                writer.WriteString("sourceIp", ip.Network.ToString());
                break;
            case RbacMatcher.Principal principal:
                if (principal.Name is { } name)
                {
                    WriteString(writer, "principal", name);
                }
                else
                {
                    writer.WriteNull("principal");
                }
                break;
            case RbacMatcher.UrlPath path:
                writer.WriteStartObject("urlPath");
                WriteString(writer, "path", path.Path);
                if (!path.IgnoreQuery)
                {
                    writer.WriteBoolean("ignoreQuery", false);
                }
                writer.WriteEndObject();
                break;
            case RbacMatcher.Header header:
                writer.WriteStartObject("header");
                writer.WriteString("name", header.Name);
                if (header.Match.Value is { } value)
                {
                    WriteString(writer, "value", value);
                }
                else
                {
                    writer.WriteBoolean("present", true);
                }
                if (header.Match.Invert)
                {
                    writer.WriteBoolean("invert", true);
                }
                if (header.Match.TreatMissingAsEmpty)
                {
                    writer.WriteBoolean("treatMissingAsEmpty", true);
                }
                writer.WriteEndObject();
                break;
            case RbacMatcher.RequestedServerName sni:
                WriteString(writer, "requestedServerName", sni.Name);
                break;
            case RbacMatcher.Unsupported unsupported:
                writer.WriteString("unsupported", unsupported.What);
                break;
            default:
                // A matcher kind added to the model but not here: written as unsupported, which evaluates to Chain,
                // never to a silent allow.
                writer.WriteString("unsupported", matcher.GetType().Name);
                break;
        }
        writer.WriteEndObject();
    }

    private static void WriteString(Utf8JsonWriter writer, string name, StringMatcher matcher)
    {
        writer.WriteStartObject(name);
        writer.WriteString(KindName(matcher.Kind), matcher.Value);
        if (matcher.IgnoreCase)
        {
            writer.WriteBoolean("ignoreCase", true);
        }
        writer.WriteEndObject();
    }

    private static string KindName(StringMatchKind kind) => kind switch
    {
        StringMatchKind.Exact => "exact",
        StringMatchKind.Prefix => "prefix",
        StringMatchKind.Suffix => "suffix",
        StringMatchKind.Contains => "contains",
        _ => "regex",
    };

    /// <summary>One read: counts nodes across the whole model.</summary>
    private sealed class Reader
    {
        private int _nodes;

        public RbacModel Model(JsonElement element)
        {
            const string path = "";
            RequireObject(element, path);
            var shadow = 0;
            var engines = ImmutableArray<RbacEngine>.Empty;
            foreach (var property in element.EnumerateObject())
            {
                switch (property.Name)
                {
                    case "shadowPolicies":
                        if (property.Value.ValueKind != JsonValueKind.Number || !property.Value.TryGetInt32(out shadow) || shadow < 0)
                        {
                            throw new RbacJsonException("shadowPolicies", "must be a count (0 or more)");
                        }
                        break;
                    case "engines":
                        engines = Array(property.Value, "engines", Engine);
                        break;
                    default:
                        throw Unknown(path, property.Name);
                }
            }
            return new RbacModel(engines, shadow);
        }

        private RbacEngine Engine(JsonElement element, string path)
        {
            RequireObject(element, path);
            RbacAction? action = null;
            var policies = ImmutableArray<RbacPolicy>.Empty;
            foreach (var property in element.EnumerateObject())
            {
                switch (property.Name)
                {
                    case "action":
                        action = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString() switch
                        {
                            "allow" => RbacAction.Allow,
                            "deny" => RbacAction.Deny,
                            "log" => RbacAction.Log,
                            _ => null,
                        } : null;
                        if (action is null)
                        {
                            throw new RbacJsonException(Join(path, "action"), "must be \"allow\", \"deny\" or \"log\"");
                        }
                        break;
                    case "policies":
                        policies = Array(property.Value, Join(path, "policies"), Policy);
                        break;
                    default:
                        throw Unknown(path, property.Name);
                }
            }
            if (action is null)
            {
                throw new RbacJsonException(Join(path, "action"), "an action is required");
            }
            return new RbacEngine(action.Value, policies);
        }

        private RbacPolicy Policy(JsonElement element, string path)
        {
            RequireObject(element, path);
            string? name = null;
            ImmutableArray<RbacMatcher>? permissions = null;
            ImmutableArray<RbacMatcher>? principals = null;
            foreach (var property in element.EnumerateObject())
            {
                switch (property.Name)
                {
                    case "name":
                        name = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString() : null;
                        if (string.IsNullOrEmpty(name))
                        {
                            throw new RbacJsonException(Join(path, "name"), "a non-empty string is required");
                        }
                        break;
                    case "permissions":
                        permissions = Array(property.Value, Join(path, "permissions"), (e, p) => Matcher(e, p, 0));
                        break;
                    case "principals":
                        principals = Array(property.Value, Join(path, "principals"), (e, p) => Matcher(e, p, 0));
                        break;
                    default:
                        throw Unknown(path, property.Name);
                }
            }
            if (name is null)
            {
                throw new RbacJsonException(Join(path, "name"), "a name is required");
            }
            // Both are required: an empty list matches nothing, and a missing one must not be read as "everything".
            if (permissions is null)
            {
                throw new RbacJsonException(Join(path, "permissions"), "a list is required (empty matches nothing)");
            }
            if (principals is null)
            {
                throw new RbacJsonException(Join(path, "principals"), "a list is required (empty matches nothing)");
            }
            return new RbacPolicy(name, permissions.Value, principals.Value);
        }

        private RbacMatcher Matcher(JsonElement element, string path, int depth)
        {
            if (depth > MaxDepth)
            {
                throw new RbacJsonException(path, $"matchers nest deeper than {MaxDepth} levels");
            }
            if (++_nodes > MaxNodes)
            {
                throw new RbacJsonException(path, $"more than {MaxNodes} matchers");
            }
            RequireObject(element, path);
            JsonProperty? only = null;
            foreach (var property in element.EnumerateObject())
            {
                if (only is not null)
                {
                    throw new RbacJsonException(path, $"a matcher has exactly one field; found \"{only.Value.Name}\" and \"{property.Name}\"");
                }
                only = property;
            }
            if (only is not { } field)
            {
                throw new RbacJsonException(path, "a matcher has exactly one field; found none");
            }
            var at = Join(path, field.Name);
            var value = field.Value;
            switch (field.Name)
            {
                case "any":
                    if (value.ValueKind != JsonValueKind.True)
                    {
                        throw new RbacJsonException(at, "must be true (an empty \"or\" matches nothing)");
                    }
                    return RbacMatcher.Any.Instance;
                case "and":
                    return new RbacMatcher.And(Array(value, at, (e, p) => Matcher(e, p, depth + 1)));
                case "or":
                    return new RbacMatcher.Or(Array(value, at, (e, p) => Matcher(e, p, depth + 1)));
                case "not":
                    return new RbacMatcher.Not(Matcher(value, at, depth + 1));
                case "destinationPort":
                    return Port(value, at);
                case "destinationIp":
                    return new RbacMatcher.DestinationIp(Network(value, at));
                case "sourceIp":
                    return new RbacMatcher.SourceIp(Network(value, at));
                case "principal":
                    return new RbacMatcher.Principal(value.ValueKind == JsonValueKind.Null ? null : String(value, at));
                case "unsupported":
                    if (value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: > 0 } what)
                    {
                        throw new RbacJsonException(at, "must name what is not supported");
                    }
                    return new RbacMatcher.Unsupported(what);
                case "urlPath":
                    return UrlPath(value, at);
                case "header":
                    return Header(value, at);
                case "requestedServerName":
                    return new RbacMatcher.RequestedServerName(String(value, at));
                default:
                    throw new RbacJsonException(
                        at,
                        "is not a matcher (any, and, or, not, destinationPort, destinationIp, sourceIp, principal, urlPath, header, requestedServerName, unsupported)");
            }
        }

        private static RbacMatcher.DestinationPort Port(JsonElement element, string path)
        {
            RequireObject(element, path);
            uint? start = null;
            uint? end = null;
            foreach (var property in element.EnumerateObject())
            {
                var at = Join(path, property.Name);
                if (property.Name is not ("start" or "end"))
                {
                    throw Unknown(path, property.Name);
                }
                if (property.Value.ValueKind != JsonValueKind.Number || !property.Value.TryGetUInt32(out var number) || number > 65535)
                {
                    throw new RbacJsonException(at, "must be a port (0 to 65535)");
                }
                if (property.Name == "start")
                {
                    start = number;
                }
                else
                {
                    end = number;
                }
            }
            if (start is null || end is null)
            {
                throw new RbacJsonException(path, "start and end are required");
            }
            if (end < start)
            {
                throw new RbacJsonException(Join(path, "end"), $"{end} is below start {start}");
            }
            return new RbacMatcher.DestinationPort(start.Value, end.Value);
        }

        private static RbacMatcher.UrlPath UrlPath(JsonElement element, string path)
        {
            RequireObject(element, path);
            StringMatcher? matcher = null;
            var ignoreQuery = true;
            foreach (var property in element.EnumerateObject())
            {
                var at = Join(path, property.Name);
                switch (property.Name)
                {
                    case "path":
                        matcher = String(property.Value, at);
                        break;
                    case "ignoreQuery":
                        ignoreQuery = Boolean(property.Value, at);
                        break;
                    default:
                        throw Unknown(path, property.Name);
                }
            }
            if (matcher is null)
            {
                throw new RbacJsonException(Join(path, "path"), "a string matcher is required");
            }
            return new RbacMatcher.UrlPath(matcher, ignoreQuery);
        }

        private static RbacMatcher.Header Header(JsonElement element, string path)
        {
            RequireObject(element, path);
            string? name = null;
            StringMatcher? value = null;
            var present = false;
            var invert = false;
            var missingAsEmpty = false;
            foreach (var property in element.EnumerateObject())
            {
                var at = Join(path, property.Name);
                switch (property.Name)
                {
                    case "name":
                        name = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString() : null;
                        if (string.IsNullOrEmpty(name))
                        {
                            throw new RbacJsonException(at, "a non-empty header name is required");
                        }
                        break;
                    case "value":
                        value = String(property.Value, at);
                        break;
                    case "present":
                        // Absence is "present" inverted: one spelling, so that a model has one JSON form.
                        if (property.Value.ValueKind != JsonValueKind.True)
                        {
                            throw new RbacJsonException(at, "must be true (for absence, add \"invert\": true)");
                        }
                        present = true;
                        break;
                    case "invert":
                        invert = Boolean(property.Value, at);
                        break;
                    case "treatMissingAsEmpty":
                        missingAsEmpty = Boolean(property.Value, at);
                        break;
                    default:
                        throw Unknown(path, property.Name);
                }
            }
            if (name is null)
            {
                throw new RbacJsonException(Join(path, "name"), "a header name is required");
            }
            if (present == (value is not null))
            {
                throw new RbacJsonException(path, "exactly one of \"value\" and \"present\" is required");
            }
            return new RbacMatcher.Header(name, new HeaderMatch(value, invert, missingAsEmpty));
        }

        private static bool Boolean(JsonElement element, string path) =>
            element.ValueKind is JsonValueKind.True or JsonValueKind.False
                ? element.GetBoolean()
                : throw new RbacJsonException(path, "must be true or false");

        private static IPNetwork Network(JsonElement element, string path)
        {
            if (element.ValueKind != JsonValueKind.String || !IPNetwork.TryParse(element.GetString(), out var network))
            {
                throw new RbacJsonException(path, "must be a CIDR (\"127.0.0.0/8\")");
            }
            return network;
        }

        private static StringMatcher String(JsonElement element, string path)
        {
            RequireObject(element, path);
            StringMatchKind? kind = null;
            string? value = null;
            var ignoreCase = false;
            foreach (var property in element.EnumerateObject())
            {
                var at = Join(path, property.Name);
                if (property.Name == "ignoreCase")
                {
                    if (property.Value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                    {
                        throw new RbacJsonException(at, "must be true or false");
                    }
                    ignoreCase = property.Value.GetBoolean();
                    continue;
                }
                var parsed = property.Name switch
                {
                    "exact" => StringMatchKind.Exact,
                    "prefix" => StringMatchKind.Prefix,
                    "suffix" => StringMatchKind.Suffix,
                    "contains" => StringMatchKind.Contains,
                    "regex" => StringMatchKind.Regex,
                    _ => throw Unknown(path, property.Name),
                };
                if (kind is not null)
                {
                    throw new RbacJsonException(at, "a string matcher has one of exact, prefix, suffix, contains, regex");
                }
                if (property.Value.ValueKind != JsonValueKind.String)
                {
                    throw new RbacJsonException(at, "must be a string");
                }
                kind = parsed;
                value = property.Value.GetString();
            }
            if (kind is null)
            {
                throw new RbacJsonException(path, "one of exact, prefix, suffix, contains, regex is required");
            }
            try
            {
                return new StringMatcher(kind.Value, value!, ignoreCase);
            }
            catch (ArgumentException ex)
            {
                throw new RbacJsonException(Join(path, "regex"), $"not a regex .NET accepts: {ex.Message}");
            }
        }

        private static ImmutableArray<T> Array<T>(JsonElement element, string path, Func<JsonElement, string, T> item)
        {
            if (element.ValueKind != JsonValueKind.Array)
            {
                throw new RbacJsonException(path, "must be a list");
            }
            var builder = ImmutableArray.CreateBuilder<T>(element.GetArrayLength());
            var i = 0;
            foreach (var entry in element.EnumerateArray())
            {
                builder.Add(item(entry, $"{path}[{i}]"));
                i++;
            }
            return builder.MoveToImmutable();
        }

        private static void RequireObject(JsonElement element, string path)
        {
            if (element.ValueKind != JsonValueKind.Object)
            {
                throw new RbacJsonException(path, $"must be an object, not {element.ValueKind.ToString().ToLowerInvariant()}");
            }
        }

        private static RbacJsonException Unknown(string path, string name) =>
            new(Join(path, name), "is not a known field (the daemon refuses what it cannot enforce)");

        private static string Join(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";
    }
}

/// <summary>An RBAC model in JSON that cannot be read: malformed JSON, or a node that is not a valid rule.</summary>
public sealed class RbacJsonException : Exception
{
    /// <summary>Creates the exception for the node at <paramref name="path"/>.</summary>
    public RbacJsonException(string path, string problem)
        : base(path.Length == 0 ? problem : $"{path}: {problem}")
    {
        Path = path;
        Problem = problem;
    }

    /// <summary>Where in the model (<c>engines[0].policies[2].principals[0].sourceIp</c>); empty for the document itself.</summary>
    public string Path { get; }

    /// <summary>What is wrong, without the path.</summary>
    public string Problem { get; }
}
