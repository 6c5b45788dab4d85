using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Envoy.Config.Bootstrap.V3;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Core.V3;
using Envoy.Config.Listener.V3;
using Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Envoy.Extensions.Filters.Network.TcpProxy.V3;
using Envoy.Extensions.TransportSockets.ProxyProtocol.V3;
using Envoy.Extensions.TransportSockets.RawBuffer.V3;
using Google.Protobuf;
using Istio.AppSwitch.ProxyProtocol;
using Istio.AppSwitch.Tests.Common.Tools;
using Istio.AppSwitch.Xds.Resources;
using Istio.AppSwitch.Xds.Tests.Translation;
using Istio.AppSwitch.Xds.Translation;
using ListenerProxyProtocol = Envoy.Extensions.Filters.Listener.ProxyProtocol.V3.ProxyProtocol;

namespace Istio.AppSwitch.Xds.Tests.Chaining;

/// <summary>
/// docs/envoy-chaining.md: its YAML must be what the pinned Envoy API accepts, and must say what the page says it
/// does, with the TLV numbers and reason codes of the code. A change on either side that the other does not follow
/// fails here.
/// </summary>
public sealed class EnvoyChainingDocTests
{
    private const string DocPath = "docs/envoy-chaining.md";
    private const string ProxyProtocolFilterName = "envoy.filters.listener.proxy_protocol";
    private const string UpstreamProxyProtocolName = "envoy.transport_sockets.upstream_proxy_protocol";

    // The metadata keys the page documents for ax's TLVs; a new ax TLV needs a line here and on the page.
    private static readonly Dictionary<ProxyTlvType, string> ExpectedMetadataKeys = new()
    {
        [ProxyTlvType.UniqueId] = "unique_id",
        [ProxyTlvType.AxLabels] = "labels",
        [ProxyTlvType.AxIdentity] = "identity",
        [ProxyTlvType.AxOriginalDestinationName] = "dns_name",
        [ProxyTlvType.AxProtocol] = "protocol",
        [ProxyTlvType.AxPeekedBytes] = "peeked_bytes",
    };

    private static readonly Lazy<string> Markdown = new(() => File.ReadAllText(RepositoryPaths.Combine(DocPath)));

    private static IReadOnlyList<DocYamlBlock> Blocks => DocYamlBlocks.Extract(Markdown.Value);

    private static IReadOnlyList<ProxyTlvType> AxRangeTlvTypes { get; } =
        Enum.GetValues<ProxyTlvType>().Where(ProxyTlvTypeRanges.IsCustom).ToList();

    [Fact]
    public void Extract_EveryYamlBlock_IsMarkedWithAKnownKind()
    {
        var blocks = Blocks;

        Assert.NotEmpty(blocks);
        Assert.All(blocks, b => Assert.True(b.Kind is "bootstrap" or "envoyfilter",
            $"{DocPath} line {b.Line}: a yaml block needs <!-- test: bootstrap --> or <!-- test: envoyfilter --> before it, not '{b.Kind}'"));
        Assert.Single(blocks, b => b.Kind == "bootstrap");
        Assert.Equal(2, blocks.Count(b => b.Kind == "envoyfilter"));
    }

    [Fact]
    public void Bootstrap_ParsesStrictly_WithOneListenerOnLoopback15001()
    {
        var bootstrap = ParseBootstrap();

        var listener = Assert.Single(bootstrap.StaticResources.Listeners);
        Assert.Equal("127.0.0.1", listener.Address.SocketAddress.Address);
        Assert.Equal(15001u, listener.Address.SocketAddress.PortValue);
        Assert.Equal("127.0.0.1", bootstrap.Admin.Address.SocketAddress.Address);
        // use_original_dst would append an original_dst filter that reads SO_ORIGINAL_DST over the header's address.
        Assert.Null(listener.UseOriginalDst);
    }

    [Fact]
    public void Bootstrap_FirstListenerFilter_IsProxyProtocolThatRequiresTheHeader()
    {
        var listener = Assert.Single(ParseBootstrap().StaticResources.Listeners);

        var first = listener.ListenerFilters[0];
        Assert.Equal(ProxyProtocolFilterName, first.Name);
        Assert.True(first.TypedConfig.TryUnpackConfig(out ListenerProxyProtocol? config));
        Assert.False(config.AllowRequestsWithoutProxyProtocol);
        Assert.Equal([ProxyProtocolConfig.Types.Version.V1], config.DisallowedVersions);
        // proto3 cannot tell false from absent: the page must say it, not rely on the default.
        var yamlConfig = BootstrapJson()["static_resources"]!["listeners"]![0]!["listener_filters"]![0]!["typed_config"]!;
        Assert.Equal(false, (bool?)yamlConfig["allow_requests_without_proxy_protocol"]);
    }

    [Fact]
    public void Bootstrap_ProxyProtocolRules_CoverExactlyAxTlvTypesAndUniqueId()
    {
        var config = BootstrapProxyProtocol();

        var ruleTypes = config.Rules.Select(r => r.TlvType).ToList();
        Assert.Equal(ruleTypes.Count, ruleTypes.Distinct().Count());
        var axRules = ruleTypes.Where(t => t is >= ProxyTlvTypeRanges.MinCustom and <= ProxyTlvTypeRanges.MaxCustom).Order();
        Assert.Equal(AxRangeTlvTypes.Select(t => (uint)t).Order(), axRules);
        Assert.Equal([(uint)ProxyTlvType.UniqueId], ruleTypes.Where(t => !ProxyTlvTypeRanges.IsCustom((ProxyTlvType)t)));
    }

    [Fact]
    public void Bootstrap_ProxyProtocolRules_WriteTheDocumentedKeysInNamespaceAx()
    {
        var config = BootstrapProxyProtocol();

        Assert.All(config.Rules, r => Assert.Equal("ax", r.OnTlvPresent.MetadataNamespace));
        var keys = config.Rules.ToDictionary(r => (ProxyTlvType)r.TlvType, r => r.OnTlvPresent.Key);
        Assert.Equal(ExpectedMetadataKeys.OrderBy(p => p.Key), keys.OrderBy(p => p.Key));
    }

    [Fact]
    public void Bootstrap_Cluster_IsOriginalDstAndSendsProxyV2WithAxTlvs()
    {
        var bootstrap = ParseBootstrap();
        var listener = Assert.Single(bootstrap.StaticResources.Listeners);

        var cluster = Assert.Single(bootstrap.StaticResources.Clusters);
        Assert.Equal(Cluster.Types.DiscoveryType.OriginalDst, cluster.Type);
        Assert.Equal(Cluster.Types.LbPolicy.ClusterProvided, cluster.LbPolicy);
        Assert.Equal(UpstreamProxyProtocolName, cluster.TransportSocket.Name);
        Assert.True(cluster.TransportSocket.TypedConfig.TryUnpackConfig(out ProxyProtocolUpstreamTransport? upstream));
        Assert.Equal(ProxyProtocolConfig.Types.Version.V2, upstream.Config.Version);
        Assert.True(upstream.TransportSocket.TypedConfig.TryUnpackConfig(out RawBuffer? _));

        // What the listener keeps is what the upstream header carries: ids and ax's TLVs, not the peeked bytes.
        var kept = BootstrapProxyProtocol().PassThroughTlvs;
        Assert.Equal(ProxyProtocolPassThroughTLVs.Types.PassTLVsMatchType.Include, kept.MatchType);
        Assert.Equal(kept, upstream.Config.PassThroughTlvs);
        Assert.Contains((uint)ProxyTlvType.UniqueId, kept.TlvType);
        Assert.Contains((uint)ProxyTlvType.AxIdentity, kept.TlvType);
        Assert.DoesNotContain((uint)ProxyTlvType.AxPeekedBytes, kept.TlvType);

        // Both ways out of the listener lead to that cluster.
        var tcp = Assert.Single(listener.FindNetworkFilters<TcpProxy>());
        Assert.Same(listener.DefaultFilterChain, tcp.FilterChain);
        Assert.Equal(cluster.Name, tcp.Config.Cluster);
        var hcm = Assert.Single(listener.FindNetworkFilters<HttpConnectionManager>()).Config;
        var route = Assert.Single(Assert.Single(hcm.RouteConfig.VirtualHosts).Routes);
        Assert.Equal(cluster.Name, route.Route_.Cluster);
    }

    [Fact]
    public void Bootstrap_ConnectionStillAddressedToTheListener_IsClosedNotProxiedToItself()
    {
        var listener = Assert.Single(ParseBootstrap().StaticResources.Listeners);

        // continue_on_listener_filters_timeout lets a connection without a header through with Envoy's own address.
        Assert.True(listener.ContinueOnListenerFiltersTimeout);
        var guard = Assert.Single(listener.FilterChains, c => c.FilterChainMatch?.DestinationPort == listener.Address.SocketAddress.PortValue);
        Assert.Empty(guard.Filters);
        Assert.Same(guard, listener.FilterChains[0]);
    }

    [Fact]
    public void Bootstrap_HttpChain_MutatesRequestsFromTheRestoredAddresses()
    {
        var listener = Assert.Single(ParseBootstrap().StaticResources.Listeners);

        Assert.Equal(["envoy.filters.listener.proxy_protocol", "envoy.filters.listener.http_inspector"],
            listener.ListenerFilters.Select(f => f.Name));
        var http = Assert.Single(listener.FindNetworkFilters<HttpConnectionManager>());
        Assert.Contains("http/1.1", http.FilterChain.FilterChainMatch.ApplicationProtocols);
        Assert.True(http.Config.UseRemoteAddress);
        var route = Assert.Single(Assert.Single(http.Config.RouteConfig.VirtualHosts).Routes);
        Assert.Contains(route.RequestHeadersToAdd, h => h.Header.Key == "x-ax-source" && h.Header.Value == "%DOWNSTREAM_REMOTE_ADDRESS%");
        // Connection metadata is invisible to HTTP formatters (envoyproxy/envoy#19046): a header from it would be empty.
        Assert.DoesNotContain(route.RequestHeadersToAdd, h => h.Header.Value.Contains("DYNAMIC_METADATA", StringComparison.Ordinal));
    }

    [Fact]
    public void EnvoyFilters_PatchValues_ParseStrictlyAsTheirApplyToType()
    {
        var patches = EnvoyFilterPatches().ToList();

        Assert.Equal(2, patches.Count);
        Assert.All(patches, p => Assert.NotNull(p.Value));
    }

    [Fact]
    public void EnvoyFilter_Outbound_PutsProxyProtocolFirstOnVirtualOutbound()
    {
        var patch = Assert.Single(EnvoyFilterPatches(), p => p.ApplyTo == "LISTENER_FILTER");

        Assert.Equal("SIDECAR_OUTBOUND", (string?)patch.Match["context"]);
        Assert.Equal("virtualOutbound", (string?)patch.Match["listener"]!["name"]);
        Assert.Equal(15001, (int?)patch.Match["listener"]!["portNumber"]);
        Assert.Equal("INSERT_FIRST", patch.Operation);
        var filter = Assert.IsType<ListenerFilter>(patch.Value);
        Assert.Equal(ProxyProtocolFilterName, filter.Name);
        Assert.True(filter.TypedConfig.TryUnpackConfig(out ListenerProxyProtocol? config));
        Assert.False(config.AllowRequestsWithoutProxyProtocol);
        Assert.Equal([ProxyProtocolConfig.Types.Version.V1], config.DisallowedVersions);
        // The page explains why: metadata set on virtualOutbound is dropped at the hand-off.
        Assert.Empty(config.Rules);
    }

    [Fact]
    public void EnvoyFilter_Inbound_SendsProxyV2ToTheApplication()
    {
        var patch = Assert.Single(EnvoyFilterPatches(), p => p.ApplyTo == "CLUSTER");

        Assert.Equal("SIDECAR_INBOUND", (string?)patch.Match["context"]);
        Assert.Equal("MERGE", patch.Operation);
        var cluster = Assert.IsType<Cluster>(patch.Value);
        Assert.Equal(UpstreamProxyProtocolName, cluster.TransportSocket.Name);
        Assert.True(cluster.TransportSocket.TypedConfig.TryUnpackConfig(out ProxyProtocolUpstreamTransport? upstream));
        Assert.Equal(ProxyProtocolConfig.Types.Version.V2, upstream.Config.Version);
    }

    [Fact]
    public void EnvoyFilters_AreScopedToWorkloadsUnderAx()
    {
        foreach (var block in Blocks.Where(b => b.Kind == "envoyfilter"))
        {
            var filter = JsonNode.Parse(EnvoyJson.YamlToJson(block.Yaml))!;
            Assert.Equal("networking.istio.io/v1alpha3", (string?)filter["apiVersion"]);
            Assert.Equal("EnvoyFilter", (string?)filter["kind"]);
            Assert.True(filter["spec"]!["workloadSelector"]?["labels"] is JsonObject { Count: > 0 },
                $"{DocPath} line {block.Line}: the EnvoyFilter must select the workloads under ax");
        }
    }

    [Theory]
    [InlineData("allow_requests_without_proxy_protocol:", "allow_requests_without_proxy_protocl:", "allow_requests_without_proxy_protocl")]
    [InlineData("connect_timeout: 2s", "conect_timeout: 2s", "conect_timeout")]
    public void Bootstrap_WithAMisspelledField_FailsNamingTheField(string field, string misspelled, string expectedName)
    {
        var block = Assert.Single(Blocks, b => b.Kind == "bootstrap");
        Assert.Contains(field, block.Yaml, StringComparison.Ordinal);
        var broken = block with { Yaml = block.Yaml.Replace(field, misspelled, StringComparison.Ordinal) };

        var error = Assert.Throws<FormatException>(() => DocYamlBlocks.ParseBlock<Bootstrap>(broken, DocPath));

        Assert.Equal(
            $"{DocPath} line {block.Line} (bootstrap block) is not a valid envoy.config.bootstrap.v3.Bootstrap: Unknown field: {expectedName}",
            error.Message);
        Assert.IsType<InvalidProtocolBufferException>(error.InnerException);
    }

    [Fact]
    public void ReasonTable_ListsEveryChainReasonCodeOnce()
    {
        var codes = TableFirstColumn("| reason code |");

        Assert.Equal(codes.Count, codes.Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(ChainReasons.All.Select(r => r.Code()).Order(StringComparer.Ordinal), codes.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void HeaderTable_NamesEveryAxTlvByItsNumberAndConstant()
    {
        foreach (var type in AxRangeTlvTypes)
        {
            Assert.Contains($"| `0x{(byte)type:X2}` `{type}` |", Markdown.Value, StringComparison.Ordinal);
        }
        Assert.Contains($"| `0x{(byte)ProxyTlvType.UniqueId:X2}` PP2_TYPE_UNIQUE_ID |", Markdown.Value, StringComparison.Ordinal);
    }

    private static Bootstrap ParseBootstrap() =>
        DocYamlBlocks.ParseBlock<Bootstrap>(Assert.Single(Blocks, b => b.Kind == "bootstrap"), DocPath);

    private static JsonNode BootstrapJson() =>
        JsonNode.Parse(EnvoyJson.YamlToJson(Assert.Single(Blocks, b => b.Kind == "bootstrap").Yaml))!;

    private static ListenerProxyProtocol BootstrapProxyProtocol()
    {
        var listener = Assert.Single(ParseBootstrap().StaticResources.Listeners);
        var filter = Assert.Single(listener.ListenerFilters, f => f.Name == ProxyProtocolFilterName);
        Assert.True(filter.TypedConfig.TryUnpackConfig(out ListenerProxyProtocol? config));
        return config;
    }

    private sealed record EnvoyFilterPatch(string ApplyTo, JsonNode Match, string Operation, IMessage Value);

    // Istio's EnvoyFilter is not an Envoy proto: its envelope is read as plain JSON, and each patch value, which is
    // Envoy config, is parsed strictly as the type its applyTo names.
    private static IEnumerable<EnvoyFilterPatch> EnvoyFilterPatches()
    {
        foreach (var block in Blocks.Where(b => b.Kind == "envoyfilter"))
        {
            var filter = JsonNode.Parse(EnvoyJson.YamlToJson(block.Yaml))!;
            var patches = filter["spec"]!["configPatches"]!.AsArray();
            for (var i = 0; i < patches.Count; i++)
            {
                var patch = patches[i]!;
                var applyTo = (string)patch["applyTo"]!;
                var value = patch["patch"]!["value"]!.ToJsonString();
                var where = $"{DocPath} line {block.Line} configPatches[{i}].patch.value";
                IMessage parsed = applyTo switch
                {
                    "LISTENER_FILTER" => DocYamlBlocks.ParseStrictJson<ListenerFilter>(value, where),
                    "CLUSTER" => DocYamlBlocks.ParseStrictJson<Cluster>(value, where),
                    "LISTENER" => DocYamlBlocks.ParseStrictJson<Listener>(value, where),
                    "NETWORK_FILTER" => DocYamlBlocks.ParseStrictJson<Envoy.Config.Listener.V3.Filter>(value, where),
                    _ => throw new InvalidOperationException($"{where}: no Envoy type for applyTo {applyTo}"),
                };
                yield return new EnvoyFilterPatch(applyTo, patch["match"]!, (string)patch["patch"]!["operation"]!, parsed);
            }
        }
    }

    private static List<string> TableFirstColumn(string headerPrefix)
    {
        var lines = Markdown.Value.ReplaceLineEndings("\n").Split('\n');
        var header = Array.FindIndex(lines, l => l.StartsWith(headerPrefix, StringComparison.Ordinal));
        Assert.True(header >= 0, $"{DocPath} has no table starting '{headerPrefix}'");
        return lines.Skip(header + 2)
            .TakeWhile(l => l.StartsWith('|'))
            .Select(l => Regex.Match(l, @"^\|\s*`([^`]+)`\s*\|").Groups[1].Value)
            .ToList();
    }
}
