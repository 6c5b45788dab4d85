using System.Collections.Concurrent;
using System.Collections.Frozen;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;

namespace Istio.AppSwitch.Xds.Resources;

/// <summary>
/// The one <see cref="TypeRegistry"/> for every message type generated into Envoy.Api.Protos: the root files of
/// <c>proto/roots.txt</c>, their transitive imports, and the protobuf well-known types an <c>Any</c> may carry.
/// Built once, on first use, and immutable afterwards, so it is safe to share across threads.
/// </summary>
/// <remarks>
/// The roots are listed explicitly rather than found by scanning the assembly: the Xds library is trimmable and
/// assembly scanning is not trim-safe. A test checks that this list still covers every generated file, so a new
/// line in <c>roots.txt</c> without a matching line here fails the build's tests rather than a production read.
/// </remarks>
public static class EnvoyTypeRegistry
{
    /// <summary>The prefix Envoy and Istio use for every <c>Any.type_url</c>.</summary>
    public const string TypeUrlPrefix = "type.googleapis.com/";

    // Same order as proto/roots.txt, then the well-known types (Empty is the reader's placeholder for opaque Anys).
    private static readonly FileDescriptor[] RootFiles =
    [
        Envoy.Service.Discovery.V3.AdsReflection.Descriptor,
        Envoy.Service.Discovery.V3.DiscoveryReflection.Descriptor,
        Envoy.Config.Cluster.V3.ClusterReflection.Descriptor,
        Envoy.Config.Endpoint.V3.EndpointReflection.Descriptor,
        Envoy.Config.Listener.V3.ListenerReflection.Descriptor,
        Envoy.Config.Route.V3.RouteReflection.Descriptor,
        Envoy.Config.Core.V3.AddressReflection.Descriptor,
        Envoy.Config.Core.V3.BaseReflection.Descriptor,
        Envoy.Config.Core.V3.ConfigSourceReflection.Descriptor,
        Envoy.Config.Core.V3.ProtocolReflection.Descriptor,
        Envoy.Extensions.Filters.Network.TcpProxy.V3.TcpProxyReflection.Descriptor,
        Envoy.Extensions.Filters.Network.HttpConnectionManager.V3.HttpConnectionManagerReflection.Descriptor,
        Envoy.Extensions.Filters.Network.Rbac.V3.RbacReflection.Descriptor,
        Envoy.Extensions.Filters.Http.Rbac.V3.RbacReflection.Descriptor,
        Envoy.Extensions.Filters.Http.Router.V3.RouterReflection.Descriptor,
        Envoy.Extensions.Filters.Http.Fault.V3.FaultReflection.Descriptor,
        Envoy.Extensions.Filters.Listener.ProxyProtocol.V3.ProxyProtocolReflection.Descriptor,
        Envoy.Extensions.Filters.Listener.HttpInspector.V3.HttpInspectorReflection.Descriptor,
        Envoy.Extensions.TransportSockets.Tls.V3.TlsReflection.Descriptor,
        Envoy.Extensions.TransportSockets.Tls.V3.SecretReflection.Descriptor,
        Envoy.Config.Rbac.V3.RbacReflection.Descriptor,
        Envoy.Extensions.TransportSockets.ProxyProtocol.V3.UpstreamProxyProtocolReflection.Descriptor,
        Envoy.Extensions.TransportSockets.RawBuffer.V3.RawBufferReflection.Descriptor,
        Envoy.Extensions.AccessLoggers.Stream.V3.StreamReflection.Descriptor,
        Google.Rpc.StatusReflection.Descriptor,
        Envoy.Admin.V3.ConfigDumpReflection.Descriptor,
        Envoy.Config.Bootstrap.V3.BootstrapReflection.Descriptor,
        AnyReflection.Descriptor,
        DurationReflection.Descriptor,
        EmptyReflection.Descriptor,
        FieldMaskReflection.Descriptor,
        StructReflection.Descriptor,
        TimestampReflection.Descriptor,
        WrappersReflection.Descriptor,
    ];

    /// <summary>Every file in the registry: the roots and their transitive imports, each once, imports first.</summary>
    public static IReadOnlyList<FileDescriptor> Files { get; } = ComputeClosure(RootFiles).AsReadOnly();

    /// <summary>The registry <see cref="Google.Protobuf.JsonParser"/> and <see cref="Any.Unpack(TypeRegistry)"/> use.</summary>
    public static TypeRegistry Registry { get; } = TypeRegistry.FromFiles(Files);

    // JsonParser accepts both the proto field name and its lowerCamelCase JSON name; the reader must agree with it
    // on what is unknown, and FieldCollection does not expose that map publicly. Built per message on first use.
    private static readonly ConcurrentDictionary<MessageDescriptor, FrozenDictionary<string, FieldDescriptor>> JsonFieldMaps = new();

    /// <summary>Finds a message type by type URL (<c>type.googleapis.com/envoy.config.cluster.v3.Cluster</c>) or by full name.</summary>
    /// <returns>The descriptor, or null when ax does not generate that type.</returns>
    public static MessageDescriptor? Find(string typeUrlOrName)
    {
        ArgumentNullException.ThrowIfNull(typeUrlOrName);
        var slash = typeUrlOrName.LastIndexOf('/');
        return Registry.Find(slash < 0 ? typeUrlOrName : typeUrlOrName[(slash + 1)..]);
    }

    /// <summary>Whether ax generates the type a type URL (or full name) names.</summary>
    public static bool IsKnown(string typeUrlOrName) => Find(typeUrlOrName) is not null;

    /// <summary>The type URL Envoy writes for a message type.</summary>
    public static string TypeUrlOf(MessageDescriptor descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        return TypeUrlPrefix + descriptor.FullName;
    }

    /// <summary>The fields of a registered message keyed by both proto name and JSON name, as JsonParser reads them.</summary>
    internal static FrozenDictionary<string, FieldDescriptor> JsonFieldsOf(MessageDescriptor descriptor) =>
        JsonFieldMaps.GetOrAdd(descriptor, BuildJsonFieldMap);

    private static FileDescriptor[] ComputeClosure(IEnumerable<FileDescriptor> roots)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var ordered = new List<FileDescriptor>();
        foreach (var root in roots)
        {
            Visit(root);
        }
        return [.. ordered];

        void Visit(FileDescriptor file)
        {
            if (!seen.Add(file.Name))
            {
                return;
            }
            foreach (var dependency in file.Dependencies)
            {
                Visit(dependency);
            }
            ordered.Add(file);
        }
    }

    private static FrozenDictionary<string, FieldDescriptor> BuildJsonFieldMap(MessageDescriptor message)
    {
        var map = new Dictionary<string, FieldDescriptor>(StringComparer.Ordinal);
        foreach (var field in message.Fields.InDeclarationOrder())
        {
            map[field.Name] = field;
            map[field.JsonName] = field;
        }
        return map.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
