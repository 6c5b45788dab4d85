using System.Diagnostics.CodeAnalysis;
using System.Net;

namespace Istio.AppSwitch.Xds.Sidecar;

/// <summary>
/// The node id istiod requires of a sidecar: <c>sidecar~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local</c>
/// (istio/istio <c>pkg/model/proxy.go</c> <c>ParseServiceNodeWithMetadata</c>: type, IP, id, DNS domain). istiod
/// derives the proxy's namespace and workload from it, so a malformed id is refused here, before any connection.
/// </summary>
/// <param name="IpAddress">The workload's IP address.</param>
/// <param name="PodName">The pod (workload instance) name.</param>
/// <param name="Namespace">The Kubernetes namespace.</param>
public sealed record SidecarNodeId(IPAddress IpAddress, string PodName, string Namespace)
{
    /// <summary>The node type istiod expects of a sidecar.</summary>
    public const string NodeType = "sidecar";

    /// <summary>The cluster DNS suffix after <c>NAMESPACE.svc.</c>.</summary>
    public const string ClusterDomain = "cluster.local";

    /// <summary>The DNS domain part: <c>NAMESPACE.svc.cluster.local</c>.</summary>
    public string DnsDomain => $"{Namespace}.svc.{ClusterDomain}";

    /// <summary>Creates and validates an id.</summary>
    /// <exception cref="FormatException">A part is not what istiod accepts.</exception>
    public static SidecarNodeId Create(IPAddress ipAddress, string podName, string @namespace)
    {
        ArgumentNullException.ThrowIfNull(ipAddress);
        var id = new SidecarNodeId(ipAddress, podName, @namespace);
        if (Validate(id) is { } error)
        {
            throw new FormatException(error);
        }

        return id;
    }

    /// <summary>Parses <c>sidecar~IP~POD.NS~NS.svc.cluster.local</c>.</summary>
    /// <exception cref="FormatException">The text is not such an id; the message says which part is wrong.</exception>
    public static SidecarNodeId Parse(string text) =>
        TryParse(text, out var id, out var error) ? id : throw new FormatException(error);

    /// <summary>Parses <c>sidecar~IP~POD.NS~NS.svc.cluster.local</c>.</summary>
    /// <returns>False, with the reason in <paramref name="error"/>, when the text is not such an id.</returns>
    public static bool TryParse(string? text, [NotNullWhen(true)] out SidecarNodeId? id, [NotNullWhen(false)] out string? error)
    {
        id = null;
        var parts = (text ?? string.Empty).Split('~');
        if (parts.Length != 4)
        {
            error = $"node id '{text}' must have four '~'-separated parts: sidecar~IP~POD.NAMESPACE~NAMESPACE.svc.{ClusterDomain}";
            return false;
        }

        if (parts[0] != NodeType)
        {
            error = $"node id '{text}': the type is '{parts[0]}', not '{NodeType}'";
            return false;
        }

        if (!IPAddress.TryParse(parts[1], out var ip) || parts[1].Contains('%', StringComparison.Ordinal))
        {
            error = $"node id '{text}': '{parts[1]}' is not an IP address";
            return false;
        }

        // Pod names may contain dots (DNS subdomains); namespaces may not, so the namespace follows the last dot.
        var dot = parts[2].LastIndexOf('.');
        if (dot <= 0)
        {
            error = $"node id '{text}': '{parts[2]}' is not POD.NAMESPACE";
            return false;
        }

        var candidate = new SidecarNodeId(ip, parts[2][..dot], parts[2][(dot + 1)..]);
        if (Validate(candidate) is { } invalid)
        {
            error = $"node id '{text}': {invalid}";
            return false;
        }

        if (parts[3] != candidate.DnsDomain)
        {
            error = $"node id '{text}': the domain is '{parts[3]}', but namespace '{candidate.Namespace}' needs '{candidate.DnsDomain}'";
            return false;
        }

        id = candidate;
        error = null;
        return true;
    }

    /// <inheritdoc />
    public override string ToString() => $"{NodeType}~{IpAddress}~{PodName}.{Namespace}~{DnsDomain}";

    private static string? Validate(SidecarNodeId id)
    {
        if (!IsDnsLabel(id.Namespace))
        {
            return $"namespace '{id.Namespace}' is not a DNS-1123 label (lowercase letters, digits, '-', at most 63)";
        }

        if (id.PodName.Length is 0 or > 253 || !id.PodName.Split('.').All(IsDnsLabel))
        {
            return $"pod name '{id.PodName}' is not a DNS-1123 subdomain";
        }

        return null;
    }

    private static bool IsDnsLabel(string label) =>
        label.Length is > 0 and <= 63 && label[0] != '-' && label[^1] != '-' &&
        label.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-');
}
