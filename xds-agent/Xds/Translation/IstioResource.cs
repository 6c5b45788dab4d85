using System.Collections.Frozen;
using System.Collections.Immutable;
using Envoy.Config.Core.V3;
using Istio.AppSwitch.Rbac;

namespace Istio.AppSwitch.Xds.Translation;

/// <summary>
/// An Istio resource (VirtualService, DestinationRule, AuthorizationPolicy, ...) that istiod says produced an Envoy
/// resource, as <c>istioctl x describe</c> reports it. istiod writes the path of the resource into
/// <c>metadata.filter_metadata.istio.config</c> of clusters (DestinationRule), routes (VirtualService) and, in some
/// versions, listeners and filter chains (Sidecar, Gateway); RBAC policies carry it in their names instead
/// (<c>ns[NS]-policy[NAME]-rule[N]</c>).
/// </summary>
/// <param name="Kind">The kind in CRD spelling (<c>VirtualService</c>); an unknown path segment is kept as written.</param>
/// <param name="Namespace">The namespace; empty when the source did not name one.</param>
/// <param name="Name">The resource's name.</param>
/// <param name="Raw">What it was read from, unchanged: the metadata path (<c>/apis/networking.istio.io/v1alpha3/namespaces/default/virtual-service/bookinfo</c>) or the RBAC policy name.</param>
public sealed record IstioResource(string Kind, string Namespace, string Name, string Raw) : IComparable<IstioResource>
{
    // istiod's path segments (pilot/pkg/model config kinds, kebab case) to the kinds people write in YAML.
    private static readonly FrozenDictionary<string, string> Kinds = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["virtual-service"] = "VirtualService",
        ["destination-rule"] = "DestinationRule",
        ["gateway"] = "Gateway",
        ["sidecar"] = "Sidecar",
        ["service-entry"] = "ServiceEntry",
        ["workload-entry"] = "WorkloadEntry",
        ["workload-group"] = "WorkloadGroup",
        ["envoy-filter"] = "EnvoyFilter",
        ["authorization-policy"] = "AuthorizationPolicy",
        ["peer-authentication"] = "PeerAuthentication",
        ["request-authentication"] = "RequestAuthentication",
        ["telemetry"] = "Telemetry",
        ["wasm-plugin"] = "WasmPlugin",
        ["proxy-config"] = "ProxyConfig",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The form people read: <c>VirtualService default/bookinfo</c>.</summary>
    public override string ToString() => Namespace.Length == 0 ? $"{Kind} {Name}" : $"{Kind} {Namespace}/{Name}";

    /// <summary>Orders by kind, namespace, name (ordinal), so lists are stable across pushes.</summary>
    public int CompareTo(IstioResource? other)
    {
        if (other is null)
        {
            return 1;
        }
        var c = string.CompareOrdinal(Kind, other.Kind);
        c = c != 0 ? c : string.CompareOrdinal(Namespace, other.Namespace);
        return c != 0 ? c : string.CompareOrdinal(Name, other.Name);
    }

    /// <summary>
    /// Parses istiod's config path, <c>/apis/GROUP/VERSION/namespaces/NS/KIND/NAME</c>; null for anything else (the
    /// caller drops it: a path ax cannot read names nothing it could show).
    /// </summary>
    public static IstioResource? ParsePath(string? path)
    {
        if (string.IsNullOrEmpty(path) || !path.StartsWith("/apis/", StringComparison.Ordinal))
        {
            return null;
        }
        var parts = path.Split('/');
        // "", "apis", group, version, "namespaces", ns, kind, name
        if (parts.Length != 8 || parts[4] != "namespaces" || parts.Skip(2).Any(p => p.Length == 0))
        {
            return null;
        }
        var kind = Kinds.GetValueOrDefault(parts[6]) ?? parts[6];
        return new IstioResource(kind, parts[5], parts[7], path);
    }

    /// <summary>
    /// The AuthorizationPolicy behind an RBAC policy name istiod generated, <c>ns[NS]-policy[NAME]-rule[N]</c>, also with
    /// the prefix istiod puts on the shadow rules of a CUSTOM policy (<c>istio-ext-authz-ns[...]...</c>); null for any
    /// other name (a hand-written RBAC filter, an EnvoyFilter's).
    /// </summary>
    public static IstioResource? ParseRbacPolicyName(string? name)
    {
        const string nsOpen = "ns[", policyOpen = "]-policy[", ruleOpen = "]-rule[";
        var start = name?.IndexOf(nsOpen, StringComparison.Ordinal) ?? -1;
        if (name is null || start < 0 || (start > 0 && name[start - 1] != '-') || !name.EndsWith(']'))
        {
            return null;
        }
        var policyAt = name.IndexOf(policyOpen, start, StringComparison.Ordinal);
        // Policy names are DNS labels, so the last "]-rule[" is the separator even if a name were odd.
        var ruleAt = name.LastIndexOf(ruleOpen, StringComparison.Ordinal);
        if (policyAt <= start + nsOpen.Length || ruleAt <= policyAt + policyOpen.Length)
        {
            return null;
        }
        var ns = name[(start + nsOpen.Length)..policyAt];
        var policy = name[(policyAt + policyOpen.Length)..ruleAt];
        var rule = name[(ruleAt + ruleOpen.Length)..^1];
        if (rule.Length == 0 || !rule.All(char.IsAsciiDigit))
        {
            return null;
        }
        return new IstioResource("AuthorizationPolicy", ns, policy, name);
    }

    /// <summary>The resource named in <c>filter_metadata.istio.config</c> of <paramref name="metadata"/>, if any.</summary>
    public static IstioResource? FromMetadata(Metadata? metadata)
    {
        if (metadata?.FilterMetadata.TryGetValue("istio", out var istio) != true ||
            !istio!.Fields.TryGetValue("config", out var config))
        {
            return null;
        }
        return ParsePath(config.StringValue);
    }

    /// <summary>The AuthorizationPolicies behind the policies of <paramref name="rbac"/>, one per policy (rules folded).</summary>
    public static IEnumerable<IstioResource> FromRbac(RbacModel rbac) =>
        rbac.Engines.SelectMany(e => e.Policies).Select(p => ParseRbacPolicyName(p.Name)).OfType<IstioResource>();

    /// <summary>
    /// <paramref name="resources"/> without repeats (same kind, namespace and name: one AuthorizationPolicy's rules, one
    /// VirtualService's routes), ordered; the first raw text seen is kept.
    /// </summary>
    public static ImmutableArray<IstioResource> Distinct(IEnumerable<IstioResource> resources)
    {
        var seen = new SortedDictionary<IstioResource, IstioResource>(Comparer<IstioResource>.Default);
        foreach (var resource in resources)
        {
            seen.TryAdd(resource, resource);
        }
        return [.. seen.Keys];
    }
}
