namespace Istio.AppSwitch.Xds.Resources;

/// <summary>
/// Why a config dump could not be read: the JSON is not well formed, or a value does not fit the field it is in.
/// </summary>
/// <param name="Path">JSON path of the offending value (<c>$.configs[1].dynamic_active_clusters[0].cluster.lb_policy</c>); <c>$</c> for the whole document.</param>
/// <param name="Message">What is wrong, in words a person running <c>istioctl</c> can act on.</param>
public sealed record ConfigDumpError(string Path, string Message)
{
    /// <inheritdoc />
    public override string ToString() => $"{Path}: {Message}";
}

/// <summary>
/// An <c>Any</c> whose type ax does not generate (Lua, Wasm, Istio's stats and metadata-exchange filters, access
/// loggers, ...). It is kept in the parsed message as an <c>Any</c> with its original type URL and an empty value, so
/// code can still see that such a filter is there, and its original JSON is kept here.
/// </summary>
/// <param name="TypeUrl">The original <c>@type</c>.</param>
/// <param name="Path">JSON path of the <c>Any</c> object.</param>
/// <param name="Json">The original JSON of the whole <c>Any</c> object, <c>@type</c> included.</param>
public sealed record OpaqueResource(string TypeUrl, string Path, string Json);

/// <summary>What kind of thing in a known message the generated types have no place for.</summary>
public enum UnknownFieldKind
{
    /// <summary>A JSON property that is no field of the message (often a deprecated field newer protos removed).</summary>
    Field,

    /// <summary>An enum name the generated enum does not define; the value is dropped, as <c>ignore_unknown_fields</c> would.</summary>
    EnumValue,
}

/// <summary>
/// A field or enum value of a KNOWN message type that the generated protos do not define, stripped before parsing
/// and recorded here, so nothing the dump said is dropped silently.
/// </summary>
/// <param name="Path">JSON path of the field (for an enum value inside a list, of the list element).</param>
/// <param name="MessageType">Full name of the message that contains it (<c>envoy.config.route.v3.RouteAction</c>).</param>
/// <param name="Name">The JSON property name as written in the dump.</param>
/// <param name="Kind">Unknown field, or unknown enum value of a known field.</param>
/// <param name="Json">The JSON value that was dropped.</param>
public sealed record UnknownField(string Path, string MessageType, string Name, UnknownFieldKind Kind, string Json)
{
    /// <summary><c>MessageType.Name</c>: the key of <see cref="ConfigDumpReadResult.UnknownFieldCounts"/>.</summary>
    public string QualifiedName => $"{MessageType}.{Name}";
}
