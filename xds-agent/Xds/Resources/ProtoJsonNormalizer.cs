using System.Buffers.Text;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;

namespace Istio.AppSwitch.Xds.Resources;

/// <summary>
/// Walks proto3 JSON alongside the message descriptors and writes a copy that Google.Protobuf's <c>JsonParser</c>
/// can parse without losing anything: opaque <c>Any</c>s are written as placeholders, unknown fields and enum names
/// are left out (and recorded), and every value whose JSON cannot fit its field is reported with its path.
/// </summary>
/// <remarks>
/// <para>
/// The walk follows the schema, not the text: an <c>@type</c> inside a <c>google.protobuf.Struct</c> (node metadata,
/// filter metadata) is data and is copied as it is; only fields typed <c>Any</c> are treated as <c>Any</c>.
/// </para>
/// <para>
/// The checks mirror what <c>JsonParser</c> accepts, so that a document that passes here does not make the parser
/// throw. JsonParser's own errors carry no path; anything it still rejects is reported at <c>$</c> by the caller.
/// All problems are collected rather than stopping at the first; the copy is only meant to be used when there are none.
/// </para>
/// <para>
/// Elements are only ever left out of enum lists, which hold no <c>Any</c>, so the indices recorded for placeholders
/// are the same in the copy as in the input.
/// </para>
/// </remarks>
internal sealed partial class ProtoJsonNormalizer
{
    /// <summary>What an opaque <c>Any</c> becomes until <see cref="OpaqueAnyRestorer"/> restores its type URL.</summary>
    public static readonly string PlaceholderTypeUrl = EnvoyTypeRegistry.TypeUrlOf(Empty.Descriptor);

    private const string AnyTypeProperty = "@type";
    private const string WellKnownValueProperty = "value";
    private const NumberStyles NumberFormat = NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent;

    private readonly TypeRegistry _registry;
    private readonly Utf8JsonWriter _writer;
    private readonly List<JsonPathStep> _path = [];

    /// <param name="registry">The types an <c>Any</c> may hold; any other type is opaque.</param>
    /// <param name="writer">Where the parseable copy goes.</param>
    public ProtoJsonNormalizer(TypeRegistry registry, Utf8JsonWriter writer)
    {
        _registry = registry;
        _writer = writer;
    }

    public List<ConfigDumpError> Errors { get; } = [];

    public List<OpaqueResource> OpaqueResources { get; } = [];

    public List<UnknownField> UnknownFields { get; } = [];

    public OpaqueAnyRestorer Restorer { get; } = new();

    private string CurrentPath => JsonPathStep.Format(_path);

    /// <summary>Checks <paramref name="root"/> as JSON of <paramref name="descriptor"/> and writes the parseable copy.</summary>
    public void Normalize(JsonElement root, MessageDescriptor descriptor)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            Error($"expected a JSON object ({descriptor.FullName}), found {KindOf(root)}");
            return;
        }
        WalkMessage(root, descriptor, isAnyBody: false);
        _writer.Flush();
    }

    private void WalkMessage(JsonElement json, MessageDescriptor descriptor, bool isAnyBody)
    {
        var fields = EnvoyTypeRegistry.JsonFieldsOf(descriptor);
        HashSet<OneofDescriptor>? oneofsSeen = null;
        _writer.WriteStartObject();
        foreach (var property in json.EnumerateObject())
        {
            var name = property.Name;
            var value = property.Value;
            if (isAnyBody && name == AnyTypeProperty)
            {
                property.WriteTo(_writer);
                continue;
            }
            if (!fields.TryGetValue(name, out var field))
            {
                _path.Add(JsonPathStep.Field(name, 0));
                UnknownFields.Add(new UnknownField(CurrentPath, descriptor.FullName, name, UnknownFieldKind.Field, value.GetRawText()));
                _path.RemoveAt(_path.Count - 1);
                continue;
            }
            _path.Add(JsonPathStep.Field(name, field.FieldNumber));
            if (field.ContainingOneof is { } oneof && !(oneofsSeen ??= []).Add(oneof))
            {
                Error($"more than one field of oneof '{oneof.Name}' of {descriptor.FullName} is set");
            }
            if (!field.IsRepeated && IsUnknownEnumName(field, value, descriptor))
            {
                // Left out, as ignore_unknown_fields would: the field keeps its default.
                _path.RemoveAt(_path.Count - 1);
                continue;
            }
            _writer.WritePropertyName(name);
            WalkField(field, value, descriptor);
            _path.RemoveAt(_path.Count - 1);
        }
        _writer.WriteEndObject();
    }

    private void WalkField(FieldDescriptor field, JsonElement value, MessageDescriptor container)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            // JSON null clears a field; JsonParser accepts it for every field, repeated and map ones included.
            _writer.WriteNullValue();
        }
        else if (field.IsMap)
        {
            WalkMap(field, value, container);
        }
        else if (field.IsRepeated)
        {
            WalkRepeated(field, value, container);
        }
        else
        {
            WalkSingle(field, value);
        }
    }

    private void WalkMap(FieldDescriptor field, JsonElement value, MessageDescriptor container)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            Error($"expected an object for map field '{field.Name}', found {KindOf(value)}");
            value.WriteTo(_writer);
            return;
        }
        var keyField = field.MessageType.FindFieldByNumber(1);
        var valueField = field.MessageType.FindFieldByNumber(2);
        _writer.WriteStartObject();
        foreach (var entry in value.EnumerateObject())
        {
            var key = ParseMapKey(keyField.FieldType, entry.Name);
            _path.Add(JsonPathStep.Key(entry.Name, key));
            if (key is null)
            {
                Error($"'{entry.Name}' is not a valid {keyField.FieldType} map key");
            }
            else if (entry.Value.ValueKind == JsonValueKind.Null)
            {
                Error("map values must not be null");
            }
            else if (!IsUnknownEnumName(valueField, entry.Value, container))
            {
                _writer.WritePropertyName(entry.Name);
                WalkSingle(valueField, entry.Value);
            }
            _path.RemoveAt(_path.Count - 1);
        }
        _writer.WriteEndObject();
    }

    private void WalkRepeated(FieldDescriptor field, JsonElement value, MessageDescriptor container)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            Error($"expected an array for repeated field '{field.Name}', found {KindOf(value)}");
            value.WriteTo(_writer);
            return;
        }
        _writer.WriteStartArray();
        var index = 0;
        foreach (var element in value.EnumerateArray())
        {
            _path.Add(JsonPathStep.Index(index++));
            if (element.ValueKind == JsonValueKind.Null)
            {
                if (!IsNullValueType(field))
                {
                    Error("elements of a repeated field must not be null");
                }
                _writer.WriteNullValue();
            }
            else if (!IsUnknownEnumName(field, element, container))
            {
                WalkSingle(field, element);
            }
            _path.RemoveAt(_path.Count - 1);
        }
        _writer.WriteEndArray();
    }

    private void WalkSingle(FieldDescriptor field, JsonElement value)
    {
        switch (field.FieldType)
        {
            case FieldType.Message or FieldType.Group:
                WalkMessageValue(field.MessageType, value);
                return;
            case FieldType.Enum:
                CheckEnum(field, value);
                break;
            default:
                if (CheckScalar(field.FieldType, value) is { } problem)
                {
                    Error(problem);
                }
                break;
        }
        value.WriteTo(_writer);
    }

    private void WalkMessageValue(MessageDescriptor type, JsonElement value)
    {
        if (type.FullName == Any.Descriptor.FullName)
        {
            WalkAny(value);
        }
        else if (IsJsonLiteralWellKnown(type))
        {
            if (CheckWellKnownLiteral(type, value) is { } problem)
            {
                Error(problem);
            }
            value.WriteTo(_writer);
        }
        else if (value.ValueKind == JsonValueKind.Object)
        {
            // Envoy's messages, and the well-known types written as ordinary messages (Empty).
            WalkMessage(value, type, isAnyBody: false);
        }
        else
        {
            Error($"expected an object ({type.FullName}), found {KindOf(value)}");
            value.WriteTo(_writer);
        }
    }

    private static string? CheckWellKnownLiteral(MessageDescriptor type, JsonElement value) => type.FullName switch
    {
        "google.protobuf.Value" => null,
        "google.protobuf.Struct" => value.ValueKind == JsonValueKind.Object ? null : $"expected an object (google.protobuf.Struct), found {KindOf(value)}",
        "google.protobuf.ListValue" => value.ValueKind == JsonValueKind.Array ? null : $"expected an array (google.protobuf.ListValue), found {KindOf(value)}",
        "google.protobuf.Duration" => CheckString(value, DurationPattern(), "a duration such as \"1.5s\""),
        "google.protobuf.Timestamp" => CheckString(value, TimestampPattern(), "an RFC 3339 timestamp"),
        "google.protobuf.FieldMask" => CheckString(value, pattern: null, "a field mask string"),
        // A wrapper is written as the value it wraps; null clears it.
        _ => value.ValueKind == JsonValueKind.Null ? null : CheckScalar(type.FindFieldByNumber(1).FieldType, value),
    };

    private void WalkAny(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            Error($"expected an object (google.protobuf.Any), found {KindOf(value)}");
            value.WriteTo(_writer);
            return;
        }
        if (!value.TryGetProperty(AnyTypeProperty, out var typeElement))
        {
            // JsonParser reads an Any without @type as empty and drops whatever else is there.
            if (value.EnumerateObject().Any())
            {
                Error("an Any with fields must have an '@type'");
            }
            value.WriteTo(_writer);
            return;
        }
        if (typeElement.ValueKind != JsonValueKind.String)
        {
            Error($"'@type' must be a string, found {KindOf(typeElement)}");
            value.WriteTo(_writer);
            return;
        }
        var typeUrl = typeElement.GetString()!;
        var typeName = Any.GetTypeName(typeUrl);
        if (typeName.Length == 0)
        {
            Error($"'{typeUrl}' is not a type URL (expected \"{EnvoyTypeRegistry.TypeUrlPrefix}<full message name>\")");
            value.WriteTo(_writer);
            return;
        }
        var descriptor = _registry.Find(typeName);
        if (descriptor is null)
        {
            WriteOpaque(value, typeUrl);
            return;
        }
        _path.Add(JsonPathStep.Body(descriptor));
        if (IsWellKnown(descriptor))
        {
            WalkWellKnownAnyBody(value, descriptor);
        }
        else
        {
            WalkMessage(value, descriptor, isAnyBody: true);
        }
        _path.RemoveAt(_path.Count - 1);
    }

    // A well-known type in an Any is written {"@type": ..., "value": <its JSON>}.
    private void WalkWellKnownAnyBody(JsonElement value, MessageDescriptor descriptor)
    {
        _writer.WriteStartObject();
        var hasValue = false;
        foreach (var property in value.EnumerateObject())
        {
            _path.Add(JsonPathStep.Property(property.Name));
            switch (property.Name)
            {
                case AnyTypeProperty:
                    property.WriteTo(_writer);
                    break;
                case WellKnownValueProperty:
                    hasValue = true;
                    _writer.WritePropertyName(property.Name);
                    WalkMessageValue(descriptor, property.Value);
                    break;
                default:
                    Error($"an Any holding {descriptor.FullName} has only '@type' and 'value'");
                    break;
            }
            _path.RemoveAt(_path.Count - 1);
        }
        if (!hasValue)
        {
            _path.Add(JsonPathStep.Property(WellKnownValueProperty));
            Error($"an Any holding {descriptor.FullName} needs a 'value'");
            _path.RemoveAt(_path.Count - 1);
        }
        _writer.WriteEndObject();
    }

    private void WriteOpaque(JsonElement value, string typeUrl)
    {
        OpaqueResources.Add(new OpaqueResource(typeUrl, CurrentPath, value.GetRawText()));
        Restorer.Add(_path, typeUrl);
        _writer.WriteStartObject();
        _writer.WriteString(AnyTypeProperty, PlaceholderTypeUrl);
        _writer.WriteStartObject(WellKnownValueProperty);
        _writer.WriteEndObject();
        _writer.WriteEndObject();
    }

    /// <returns>True, after recording it, when <paramref name="value"/> is an enum name the enum does not define.</returns>
    private bool IsUnknownEnumName(FieldDescriptor field, JsonElement value, MessageDescriptor container)
    {
        if (field.FieldType != FieldType.Enum || value.ValueKind != JsonValueKind.String ||
            field.EnumType.FindValueByName(value.GetString()) is not null)
        {
            return false;
        }
        UnknownFields.Add(new UnknownField(CurrentPath, container.FullName, field.Name, UnknownFieldKind.EnumValue, value.GetRawText()));
        return true;
    }

    private void CheckEnum(FieldDescriptor field, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                // Known: unknown names were left out before the walk got here.
                break;
            case JsonValueKind.Number:
                // Unknown numbers are kept, as proto3 open enums keep them.
                if (!TryGetNumber(value, out var number) || !IsIntegerIn(number, -2147483648d, 2147483648d))
                {
                    Error($"{value.GetRawText()} is not a valid number for enum {field.EnumType.FullName}");
                }
                break;
            default:
                Error($"expected an enum name (string) of {field.EnumType.FullName}, found {KindOf(value)}");
                break;
        }
    }

    /// <returns>A problem to report, or null when the JSON fits a scalar field of type <paramref name="type"/>.</returns>
    private static string? CheckScalar(FieldType type, JsonElement value)
    {
        var kind = value.ValueKind;
        return type switch
        {
            FieldType.Bool => kind is JsonValueKind.True or JsonValueKind.False ? null : $"expected true or false, found {KindOf(value)}",
            FieldType.String => kind == JsonValueKind.String ? null : $"expected a string, found {KindOf(value)}",
            FieldType.Bytes => kind == JsonValueKind.String && Base64.IsValid(value.GetString()!)
                ? null
                : $"expected a base64 string (bytes), found {Describe(value)}",
            FieldType.Double or FieldType.Float => CheckFloatingPoint(type, value),
            _ => CheckInteger(type, value),
        };
    }

    private static string? CheckFloatingPoint(FieldType type, JsonElement value)
    {
        double number;
        if (value.ValueKind == JsonValueKind.String)
        {
            var text = value.GetString()!;
            if (text is "NaN" or "Infinity" or "-Infinity")
            {
                return null;
            }
            if (!IsCanonicalNumber(text) || !double.TryParse(text, NumberFormat, CultureInfo.InvariantCulture, out number) || !double.IsFinite(number))
            {
                return $"expected a number ({type}), found {Describe(value)}";
            }
        }
        else if (!TryGetNumber(value, out number))
        {
            return $"expected a number ({type}), found {Describe(value)}";
        }
        return type == FieldType.Float && float.IsInfinity((float)number) ? $"{Describe(value)} is out of range for a float" : null;
    }

    private static string? CheckInteger(FieldType type, JsonElement value)
    {
        // Bounds as [min, limit): 2^31, 2^32, 2^63 and 2^64 are exact doubles, while long.MaxValue is not.
        var (min, limit) = type switch
        {
            FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 => (-2147483648d, 2147483648d),
            FieldType.UInt32 or FieldType.Fixed32 => (0d, 4294967296d),
            FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => (-9223372036854775808d, 9223372036854775808d),
            _ => (0d, 18446744073709551616d),
        };
        if (value.ValueKind == JsonValueKind.String)
        {
            // 64-bit integers are written as strings in proto3 JSON; parse them exactly, as JsonParser does.
            var text = value.GetString()!;
            var parsed = IsCanonicalNumber(text) && type switch
            {
                FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 => int.TryParse(text, NumberFormat, CultureInfo.InvariantCulture, out _),
                FieldType.UInt32 or FieldType.Fixed32 => uint.TryParse(text, NumberFormat, CultureInfo.InvariantCulture, out _),
                FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => long.TryParse(text, NumberFormat, CultureInfo.InvariantCulture, out _),
                _ => ulong.TryParse(text, NumberFormat, CultureInfo.InvariantCulture, out _),
            };
            return parsed ? null : $"expected an integer ({type}), found {Describe(value)}";
        }
        return TryGetNumber(value, out var number) && IsIntegerIn(number, min, limit)
            ? null
            : $"expected an integer ({type}), found {Describe(value)}";
    }

    // JsonParser rejects a leading '+' and leading zeros ("007", "-01") in numeric strings.
    private static bool IsCanonicalNumber(string text) =>
        !text.StartsWith('+') &&
        !(text.Length > 1 && text[0] == '0' && char.IsAsciiDigit(text[1])) &&
        !(text.Length > 2 && text[0] == '-' && text[1] == '0' && char.IsAsciiDigit(text[2]));

    // JsonParser reads every JSON number as a double and then converts it, checked; so does this.
    private static bool IsIntegerIn(double number, double min, double limit) =>
        double.IsFinite(number) && number == Math.Floor(number) && number >= min && number < limit;

    private static bool TryGetNumber(JsonElement value, out double number)
    {
        number = 0;
        return value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out number) && double.IsFinite(number);
    }

    private static string? CheckString(JsonElement value, Regex? pattern, string expected)
    {
        if (value.ValueKind != JsonValueKind.String)
        {
            return $"expected {expected}, found {KindOf(value)}";
        }
        return pattern is null || pattern.IsMatch(value.GetString()!) ? null : $"expected {expected}, found {Describe(value)}";
    }

    private static object? ParseMapKey(FieldType type, string text) => type switch
    {
        FieldType.String => text,
        FieldType.Bool => text switch { "true" => true, "false" => false, _ => null },
        FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 =>
            int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i) ? i : null,
        FieldType.UInt32 or FieldType.Fixed32 =>
            uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var u) ? u : null,
        FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 =>
            long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) ? l : null,
        FieldType.UInt64 or FieldType.Fixed64 =>
            ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var ul) ? ul : null,
        _ => null,
    };

    // The types JsonParser writes as {"@type", "value"} inside an Any; descriptor.proto shares the package but not that.
    private static bool IsWellKnown(MessageDescriptor type) =>
        type.File.Package == "google.protobuf" && type.File.Name != "google/protobuf/descriptor.proto";

    // The well-known types whose JSON is not an object of their fields.
    private static bool IsJsonLiteralWellKnown(MessageDescriptor type) =>
        IsWrapper(type) || type.FullName is "google.protobuf.Value" or "google.protobuf.Struct" or "google.protobuf.ListValue"
            or "google.protobuf.Duration" or "google.protobuf.Timestamp" or "google.protobuf.FieldMask";

    private static bool IsWrapper(MessageDescriptor type) => type.File.Name == "google/protobuf/wrappers.proto";

    private static bool IsNullValueType(FieldDescriptor field) =>
        (field.FieldType == FieldType.Message && field.MessageType.FullName == "google.protobuf.Value") ||
        (field.FieldType == FieldType.Enum && field.EnumType.FullName == "google.protobuf.NullValue");

    private static string KindOf(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Null => "null",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "nothing",
    };

    private static string Describe(JsonElement value) =>
        value.ValueKind is JsonValueKind.Object or JsonValueKind.Array ? KindOf(value) : $"{KindOf(value)} {value.GetRawText()}";

    private void Error(string message) => Errors.Add(new ConfigDumpError(CurrentPath, message));

    // Same shapes as JsonParser's own checks.
    [GeneratedRegex(@"^-?[0-9]{1,12}(\.[0-9]{1,9})?s$", RegexOptions.CultureInvariant)]
    private static partial Regex DurationPattern();

    [GeneratedRegex(@"^[0-9]{4}-[01][0-9]-[0-3][0-9]T[012][0-9]:[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-][0-1][0-9]:[0-5][0-9])$", RegexOptions.CultureInvariant)]
    private static partial Regex TimestampPattern();
}
