using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Istio.AppSwitch.Xds.Resources.Decoding;

/// <summary>
/// Decodes and validates the resources of one type (grpc-go's <c>xdsresource.Type</c>): each <c>Any</c> must carry
/// the expected type URL, parse, and pass the type's checks. Stateless and thread-safe.
/// </summary>
public abstract class XdsResourceDecoder
{
    /// <summary>The type URL this decoder accepts.</summary>
    public abstract string TypeUrl { get; }

    /// <summary>
    /// The names of the resources of other types that a resource of this type needs (EDS names of a cluster, route
    /// config names of a listener), which drive the dependent subscriptions.
    /// </summary>
    public virtual IEnumerable<string> Dependencies(IMessage message) => [];

    /// <summary>
    /// Decodes one resource. <paramref name="expectedName"/> is the name a Delta <c>Resource</c> wrapper gives, which
    /// must agree with the name inside the message.
    /// </summary>
    public XdsDecodeResult DecodeOne(Any any, string version, string? expectedName = null) =>
        Decode([(any, version, expectedName)]);

    /// <summary>
    /// Decodes every resource of a response, without stopping at the first problem (YARP's ConfigValidator): all
    /// errors are reported, and names must be unique across the response.
    /// </summary>
    public XdsDecodeResult Decode(IEnumerable<(Any Any, string Version, string? ExpectedName)> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        var resources = new List<XdsResource>();
        var errors = new List<XdsResourceError>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (any, version, expectedName) in items)
        {
            if (any is null)
            {
                errors.Add(new XdsResourceError(expectedName, "the resource is empty"));
                continue;
            }

            if (!string.Equals(any.TypeUrl, TypeUrl, StringComparison.Ordinal))
            {
                errors.Add(new XdsResourceError(expectedName, $"type URL '{any.TypeUrl}' is not the expected '{TypeUrl}'"));
                continue;
            }

            IMessage message;
            try
            {
                message = Parse(any.Value);
            }
            catch (InvalidProtocolBufferException ex)
            {
                // Nothing parsed, so no name is known: grpc-go keeps these apart from errors about a named resource.
                errors.Add(new XdsResourceError(expectedName, $"the resource does not parse: {ex.Message}"));
                continue;
            }

            var name = NameOf(message);
            var problems = new List<string>();
            if (string.IsNullOrEmpty(name))
            {
                problems.Add("the name is empty");
            }
            else if (expectedName is not null && !string.Equals(name, expectedName, StringComparison.Ordinal))
            {
                problems.Add($"the name inside the resource is '{name}' but the Delta resource is named '{expectedName}'");
            }
            else if (!seen.Add(name))
            {
                problems.Add("the name appears more than once in the response");
            }

            try
            {
                CheckTypedConfigs(message, 0);
                Validate(message, problems);
            }
            catch (InvalidProtocolBufferException ex)
            {
                // A nested typed_config (a filter, a transport socket) is only parsed when it is unpacked: one that
                // does not parse rejects the resource, as Envoy rejects it, rather than escaping as an exception.
                problems.Add($"a typed_config inside the resource does not parse: {ex.Message}");
            }

            if (problems.Count > 0)
            {
                var label = string.IsNullOrEmpty(name) ? expectedName ?? $"<unnamed #{resources.Count + errors.Count}>" : name;
                errors.Add(new XdsResourceError(label, string.Join(", ", problems)));
                continue;
            }

            resources.Add(new XdsResource(name, version, message));
        }

        return new XdsDecodeResult(resources, errors);
    }

    // ax unpacks typed_configs two levels deep at most (an HTTP filter inside the connection manager inside a
    // listener); deeper ones are never unpacked, so they are not checked, which also bounds the walk.
    private const int MaxAnyDepth = 8;

    /// <summary>
    /// Parses every <c>Any</c> of a type ax knows, at any depth, so that a resource whose typed_config does not parse
    /// is rejected here (and NACKed) instead of failing the translation that unpacks it later.
    /// </summary>
    /// <exception cref="InvalidProtocolBufferException">An Any does not parse.</exception>
    private static void CheckTypedConfigs(IMessage message, int anyDepth)
    {
        foreach (var field in message.Descriptor.Fields.InFieldNumberOrder())
        {
            if (field.FieldType != Google.Protobuf.Reflection.FieldType.Message)
            {
                continue;
            }

            var value = field.Accessor.GetValue(message);
            if (field.IsMap)
            {
                foreach (System.Collections.DictionaryEntry entry in (System.Collections.IDictionary)value)
                {
                    CheckNested(entry.Value as IMessage, anyDepth);
                }
            }
            else if (field.IsRepeated)
            {
                foreach (var item in (System.Collections.IList)value)
                {
                    CheckNested(item as IMessage, anyDepth);
                }
            }
            else
            {
                CheckNested(value as IMessage, anyDepth);
            }
        }
    }

    private static void CheckNested(IMessage? message, int anyDepth)
    {
        if (message is not Any any)
        {
            if (message is not null)
            {
                CheckTypedConfigs(message, anyDepth);
            }

            return;
        }

        if (anyDepth >= MaxAnyDepth || EnvoyTypeRegistry.Registry.Find(Any.GetTypeName(any.TypeUrl)) is not { } descriptor)
        {
            return;
        }

        CheckTypedConfigs(descriptor.Parser.ParseFrom(any.Value), anyDepth + 1);
    }

    /// <summary>Parses the bytes of an <c>Any</c> whose type URL has been checked.</summary>
    protected abstract IMessage Parse(ByteString value);

    /// <summary>The resource name inside the message.</summary>
    protected abstract string NameOf(IMessage message);

    /// <summary>Adds a sentence to <paramref name="problems"/> for each thing ax cannot use; the name is checked already.</summary>
    protected abstract void Validate(IMessage message, List<string> problems);
}
