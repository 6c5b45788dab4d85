using System.Collections.Frozen;

namespace Istio.AppSwitch.Xds.Translation;

/// <summary>
/// Why a service or an inbound port cannot be served on ax's fast path (a direct connect decided at
/// <c>connect</c>/<c>accept</c> time) and must be chained to Envoy. Each value has a stable snake_case
/// <see cref="ChainReasons.Code"/> that the JSON output and docs/translation.md use; never renumber or rename.
/// </summary>
public enum ChainReason
{
    /// <summary>Routes that match on headers, path or query parameters send requests to different clusters.</summary>
    L7RouteMatch,

    /// <summary>The HTTP fault filter is configured (delay or abort), on the filter or per route.</summary>
    FaultInjection,

    /// <summary>A route mirrors requests (<c>request_mirror_policies</c>).</summary>
    Mirroring,

    /// <summary>A route rewrites the path or the host.</summary>
    Rewrite,

    /// <summary>A route answers with a redirect.</summary>
    Redirect,

    /// <summary>A route answers itself (<c>direct_response</c>).</summary>
    DirectResponse,

    /// <summary>Headers are added or removed on requests or responses.</summary>
    HeaderMutation,

    /// <summary>Consistent hashing on a header, cookie or query parameter: only known per request.</summary>
    L7HashPolicy,

    /// <summary>A retry policy that retries on HTTP responses (5xx, gateway-error, ...), beyond connect failures.</summary>
    L7RetryPolicy,

    /// <summary>The cluster is picked from a request header (<c>cluster_header</c>) or by a cluster specifier plugin.</summary>
    DynamicClusterSpecifier,

    /// <summary>
    /// An HTTP RBAC policy has request conditions ax cannot decide from the first request (JWT claims and other dynamic
    /// metadata, filter state, range matches, ...). Paths, methods, hosts and headers ax reads itself.
    /// </summary>
    HttpRbacL7,

    /// <summary>An RBAC policy has a matcher ax does not model (SNI, dynamic metadata, ...): never allowed silently.</summary>
    RbacUnsupported,

    /// <summary>An RBAC rule names an mTLS peer principal and the caller did not declare peer identities known.</summary>
    PrincipalRequiresIdentity,

    /// <summary>Chains of one port carry different RBAC (or one has RBAC and another none).</summary>
    RbacDiffersByChain,

    /// <summary>External authorization (Istio CUSTOM action), HTTP or network.</summary>
    ExtAuthz,

    /// <summary>A Lua filter (typically injected by an EnvoyFilter).</summary>
    Lua,

    /// <summary>A Wasm filter (Istio WasmPlugin or EnvoyFilter).</summary>
    Wasm,

    /// <summary>A filter ax does not recognise: not known to be harmless, so not ignored.</summary>
    UnknownFilter,

    /// <summary>Upstream mTLS that ax cannot originate or skip (explicit ISTIO_MUTUAL, or auto-mTLS under the strict option).</summary>
    UpstreamMtls,

    /// <summary>Upstream TLS origination (DestinationRule SIMPLE/MUTUAL TLS).</summary>
    UpstreamTls,

    /// <summary>The filter chains of one listener go to different places depending on the protocol Envoy sniffs, SNI, or source.</summary>
    FilterChainMatch,

    /// <summary>A route points to a cluster the translation does not have.</summary>
    UnknownCluster,

    /// <summary>The listener uses a route configuration the translation does not have (not yet delivered, or missing).</summary>
    MissingRouteConfig,

    /// <summary>A terminating network filter other than tcp_proxy or the HTTP connection manager (Redis, Mongo, Thrift, ...).</summary>
    ProtocolFilter,

    /// <summary>
    /// RBAC reads the HTTP request (path, method, headers) on a chain where Envoy terminates TLS (Istio mTLS): the request
    /// ax would peek at is encrypted.
    /// </summary>
    L7RbacOverTls,
}

/// <summary>The stable codes and texts of <see cref="ChainReason"/>.</summary>
public static class ChainReasons
{
    private static readonly FrozenDictionary<ChainReason, (string Code, string Text)> Table = new Dictionary<ChainReason, (string, string)>
    {
        [ChainReason.L7RouteMatch] = ("l7_route_match", "routes match on headers, path or query and choose different clusters"),
        [ChainReason.FaultInjection] = ("fault_injection", "HTTP fault injection (delay or abort)"),
        [ChainReason.Mirroring] = ("mirroring", "requests are mirrored to another cluster"),
        [ChainReason.Rewrite] = ("rewrite", "a route rewrites the path or host"),
        [ChainReason.Redirect] = ("redirect", "a route answers with a redirect"),
        [ChainReason.DirectResponse] = ("direct_response", "a route answers directly"),
        [ChainReason.HeaderMutation] = ("header_mutation", "request or response headers are added or removed"),
        [ChainReason.L7HashPolicy] = ("l7_hash_policy", "consistent hash on a header, cookie or query parameter"),
        [ChainReason.L7RetryPolicy] = ("l7_retry_policy", "retries on HTTP responses, not only on connect failures"),
        [ChainReason.DynamicClusterSpecifier] = ("dynamic_cluster_specifier", "the cluster is chosen per request (cluster_header or plugin)"),
        [ChainReason.HttpRbacL7] = ("http_rbac_l7", "an HTTP RBAC policy has request-level conditions ax cannot read from the first request"),
        [ChainReason.RbacUnsupported] = ("rbac_unsupported", "an RBAC policy uses a matcher ax does not model"),
        [ChainReason.PrincipalRequiresIdentity] = ("principal_requires_identity", "an RBAC rule names an mTLS principal and the peer identity is not known at accept time"),
        [ChainReason.RbacDiffersByChain] = ("rbac_differs_by_chain", "the filter chains of the port carry different RBAC"),
        [ChainReason.ExtAuthz] = ("ext_authz", "external authorization (Istio CUSTOM policy)"),
        [ChainReason.Lua] = ("lua", "a Lua filter"),
        [ChainReason.Wasm] = ("wasm", "a Wasm filter"),
        [ChainReason.UnknownFilter] = ("unknown_filter", "a filter ax does not recognise"),
        [ChainReason.UpstreamMtls] = ("upstream_mtls", "upstream Istio mTLS that ax does not skip"),
        [ChainReason.UpstreamTls] = ("upstream_tls", "upstream TLS origination"),
        [ChainReason.FilterChainMatch] = ("filter_chain_match", "filter chains of the listener lead to different destinations"),
        [ChainReason.UnknownCluster] = ("unknown_cluster", "a route names a cluster that is not in the configuration"),
        [ChainReason.MissingRouteConfig] = ("missing_route_config", "the route configuration of the listener is not in the configuration"),
        [ChainReason.ProtocolFilter] = ("protocol_filter", "a terminating protocol filter other than tcp_proxy or the HTTP connection manager"),
        [ChainReason.L7RbacOverTls] = ("l7_rbac_over_tls", "RBAC on the HTTP request of a chain where Envoy terminates TLS: the request is encrypted"),
    }.ToFrozenDictionary();

    /// <summary>Every reason, in declaration order.</summary>
    public static IReadOnlyList<ChainReason> All { get; } = Enum.GetValues<ChainReason>();

    /// <summary>The stable snake_case code (<c>principal_requires_identity</c>).</summary>
    public static string Code(this ChainReason reason) => Table[reason].Code;

    /// <summary>A one-line explanation for people.</summary>
    public static string Text(this ChainReason reason) => Table[reason].Text;
}
