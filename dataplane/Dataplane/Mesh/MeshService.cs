using System.Collections.Immutable;
using Istio.AppSwitch.Dataplane.Policy;

namespace Istio.AppSwitch.Dataplane.Mesh;

/// <summary>What ax does with a connect to a mesh service.</summary>
public enum MeshMode
{
    /// <summary>ax picks an endpoint and connects straight to it.</summary>
    Fast,

    /// <summary>The service needs Envoy (L7 routing, faults, mTLS origination). Until chaining lands it passes through.</summary>
    Chain,

    /// <summary>The original destination, untouched (<c>PassthroughCluster</c>, ORIGINAL_DST).</summary>
    Passthrough,

    /// <summary>Refused (<c>BlackHoleCluster</c>).</summary>
    Blackhole,
}

/// <summary>A cluster and its share of a service's connections.</summary>
public sealed record MeshDestination(string Cluster, uint Weight);

/// <summary>
/// An outbound service programmed by the xds-agent: connects to <see cref="Vip"/> go, per <see cref="Mode"/>, to an
/// endpoint of one of <see cref="Destinations"/>, drawn by weight per connection. Immutable.
/// </summary>
/// <param name="Key">The unique key (the translation's <c>IP:PORT</c> or <c>CIDR:PORT</c>).</param>
/// <param name="Vip">What connects match.</param>
/// <param name="DnsNames">The service's host names, for people.</param>
/// <param name="Mode">Fast, chain, passthrough or blackhole.</param>
/// <param name="Reasons">Why it is chained.</param>
/// <param name="Destinations">The clusters and weights; empty unless fast (or chain, for later).</param>
/// <param name="HashOnSourceIp">Pick endpoints by a hash of the client's address (consistent hashing clusters).</param>
/// <param name="ConnectRetries">How many times a failed connect is retried on another endpoint within the call.</param>
/// <param name="Listener">The Envoy listener it came from, for people.</param>
public sealed record MeshService(
    string Key,
    VipSpec Vip,
    ImmutableArray<string> DnsNames,
    MeshMode Mode,
    ImmutableArray<string> Reasons,
    ImmutableArray<MeshDestination> Destinations,
    bool HashOnSourceIp,
    int ConnectRetries,
    string? Listener)
{
    /// <summary>The most retries a service may ask for: each one is another connect inside the application's call.</summary>
    public const int MaxConnectRetries = 10;

    /// <summary>The Istio resources that produced the service, for <c>ax describe ref</c>; empty when the agent named none.</summary>
    public ImmutableArray<IstioResourceRef> IstioResources { get; init; } = [];

    /// <summary>The name the service's route has in the routing index; no user ref can have it (names have no '/').</summary>
    public string RouteName => RouteNameOf(Key);

    /// <summary>The route name of the service with key <paramref name="key"/>.</summary>
    public static string RouteNameOf(string key) => "mesh/" + key;
}
