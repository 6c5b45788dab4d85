using System.Reflection;
using Envoy.Config.Core.V3;
using Google.Protobuf.WellKnownTypes;

namespace Istio.AppSwitch.Xds.Sidecar;

/// <summary>Builds the Envoy <c>Node</c> of the first ADS request from <see cref="XdsNodeOptions"/>.</summary>
public static class XdsNodeBuilder
{
    /// <summary>
    /// ax intercepts in the process (seccomp), not with iptables: istiod must not generate the capture listeners'
    /// original-destination config for it (pilot <c>model.InterceptionNone</c>).
    /// </summary>
    public const string InterceptionMode = "NONE";

    /// <summary>The user agent name in <c>user_agent_name</c>, so istiod's logs tell ax apart from Envoy.</summary>
    public const string UserAgentName = "ax";

    /// <summary>Builds the node.</summary>
    public static Node Build(XdsNodeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(options.ClusterId);
        ArgumentException.ThrowIfNullOrEmpty(options.IstioVersion);
        var ips = options.InstanceIps.IsDefaultOrEmpty ? [options.Id.IpAddress] : options.InstanceIps;
        var labels = new Struct();
        foreach (var (key, value) in options.Labels)
        {
            labels.Fields[key] = Value.ForString(value);
        }

        var metadata = new Struct();
        metadata.Fields["NAMESPACE"] = Value.ForString(options.Id.Namespace);
        metadata.Fields["NAME"] = Value.ForString(options.Id.PodName);
        metadata.Fields["INSTANCE_IPS"] = Value.ForString(string.Join(',', ips));
        metadata.Fields["ISTIO_VERSION"] = Value.ForString(options.IstioVersion);
        metadata.Fields["CLUSTER_ID"] = Value.ForString(options.ClusterId);
        metadata.Fields["LABELS"] = Value.ForStruct(labels);
        metadata.Fields["SERVICE_ACCOUNT"] = Value.ForString(options.ServiceAccount);
        metadata.Fields["INTERCEPTION_MODE"] = Value.ForString(InterceptionMode);
        foreach (var (key, value) in options.ExtraMetadata)
        {
            metadata.Fields[key] = Value.ForString(value);
        }

        return new Node
        {
            Id = options.Id.ToString(),
            Cluster = options.ClusterId,
            Metadata = metadata,
            UserAgentName = UserAgentName,
            UserAgentVersion = typeof(XdsNodeBuilder).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()
                ?.InformationalVersion ?? "unknown",
        };
    }
}
