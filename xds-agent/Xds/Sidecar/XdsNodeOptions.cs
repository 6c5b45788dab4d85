using System.Collections.Immutable;
using System.Net;

namespace Istio.AppSwitch.Xds.Sidecar;

/// <summary>Who ax says it is to istiod: what pilot-agent would write into a sidecar's bootstrap node.</summary>
public sealed record XdsNodeOptions
{
    /// <summary>The node id (<c>sidecar~IP~POD.NS~NS.svc.cluster.local</c>).</summary>
    public required SidecarNodeId Id { get; init; }

    /// <summary>The mesh cluster id (<c>CLUSTER_ID</c>, <c>Kubernetes</c> on a default install); also the node's <c>cluster</c>.</summary>
    public required string ClusterId { get; init; }

    /// <summary>The Istio version ax claims (<c>ISTIO_VERSION</c>): istiod generates config for that version.</summary>
    public required string IstioVersion { get; init; }

    /// <summary>The workload's service account name (<c>SERVICE_ACCOUNT</c>).</summary>
    public required string ServiceAccount { get; init; }

    /// <summary>Every IP of the workload (<c>INSTANCE_IPS</c>); empty means just the id's IP.</summary>
    public ImmutableArray<IPAddress> InstanceIps { get; init; } = [];

    /// <summary>The pod labels (<c>LABELS</c>): what Services, DestinationRules and policies select on.</summary>
    public ImmutableSortedDictionary<string, string> Labels { get; init; } = ImmutableSortedDictionary<string, string>.Empty;

    /// <summary>
    /// Extra metadata from <c>--meta K=V</c>, as strings. An extra key replaces a built-in one: an operator who
    /// says <c>--meta INTERCEPTION_MODE=REDIRECT</c> means it.
    /// </summary>
    public ImmutableSortedDictionary<string, string> ExtraMetadata { get; init; } = ImmutableSortedDictionary<string, string>.Empty;

    /// <summary>Parses one <c>--meta K=V</c> argument.</summary>
    /// <exception cref="FormatException">There is no '=' or the key is empty.</exception>
    public static KeyValuePair<string, string> ParseMetaArgument(string argument)
    {
        ArgumentNullException.ThrowIfNull(argument);
        var equals = argument.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0)
        {
            throw new FormatException($"--meta '{argument}' must be KEY=VALUE with a non-empty key");
        }

        return new(argument[..equals], argument[(equals + 1)..]);
    }
}
