using System.Globalization;
using System.Text.Json.Nodes;
using Istio.AppSwitch.Grpc;
using Istio.AppSwitch.Tests.Common.Tools;
using Istio.AppSwitch.Xds.Ads;
using Istio.AppSwitch.Xds.Client;
using Istio.AppSwitch.Xds.Sidecar;
using Istio.AppSwitch.Xds.Tests.Ads;

namespace Istio.AppSwitch.Xds.Tests.Interop;

/// <summary>
/// ax's ADS client against <c>tests/interop/grpc-js/ads-server.js</c>: an ADS server on @grpc/grpc-js and
/// protobufjs with the real Envoy protos, an xDS implementation that shares no code with ax.
/// </summary>
public sealed class GrpcJsAdsInteropTests
{
    private static string PackageDirectory => RepositoryPaths.Combine("tests", "interop", "grpc-js");

    [Theory]
    [InlineData(AdsVariant.Delta)]
    [InlineData(AdsVariant.StateOfTheWorld)]
    public async Task FixedPush_GrpcJsServer_AllTypesAcceptedAndEveryResponseAcked(AdsVariant variant)
    {
        await NodeJs.EnsurePackagesInstalledAsync(PackageDirectory);
        using var server = ExternalProcess.Start(NodeJs.Node, ["ads-server.js"], PackageDirectory);
        var line = await server.ReadLineAsync(TimeSpan.FromSeconds(20));
        Assert.True(int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out var port), server.Output);

        using var channel = new Http2GrpcChannel(new GrpcChannelOptions { Address = new Uri($"http://127.0.0.1:{port}") });
        var watcher = new RecordingWatcher();
        await using var client = new XdsClient(channel, new XdsClientOptions
        {
            Node = XdsNodeBuilder.Build(AdsTestHarness.NodeOptions),
            Variant = variant,
        });
        client.Watch(watcher);
        client.Start();

        var snapshot = await watcher.WaitForSnapshotAsync(s => s.Routes.Resources.Count == 1 && s.IsConsistent);
        Assert.Equal(["PassthroughCluster", "outbound|9080||reviews.default.svc.cluster.local"], snapshot.Clusters.Resources.Keys);
        Assert.Equal(["0.0.0.0_9080", "127.96.0.1_3306"], snapshot.Listeners.Resources.Keys);

        // Every response the server sent is ACKed: a request of its type that echoes its nonce, with no error.
        var method = variant == AdsVariant.Delta ? "delta" : "sotw";
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        List<JsonNode> entries;
        List<JsonNode> sent;
        List<JsonNode> unacked;
        do
        {
            await Task.Delay(50);
            entries = [.. server.Stdout.Split('\n').Skip(1).Where(l => l.StartsWith('{')).Select(l => JsonNode.Parse(l)!)];
            sent = [.. entries.Where(e => e["sent"] is not null).Select(e => e["sent"]!)];
            var received = entries.Where(e => e["received"] is not null).Select(e => e["received"]!["request"]!).ToList();
            unacked = [.. sent.Where(s => !received.Any(r =>
                (string?)r["response_nonce"] == (string?)s["nonce"] && (string?)r["type_url"] == (string?)s["type_url"] &&
                r["error_detail"] is null && (method == "delta" || (string?)r["version_info"] == "v1")))];
        }
        while (unacked.Count > 0 && DateTime.UtcNow < deadline);

        Assert.True(unacked.Count == 0, server.Output);
        Assert.Equal(4, sent.Count);
        Assert.All(sent, s => Assert.Equal(method, (string?)s["method"]));
        var first = entries.First(e => e["received"] is not null)["received"]!["request"]!;
        Assert.Equal(AdsTestHarness.NodeOptions.Id.ToString(), (string?)first["node"]?["id"]);
    }
}
