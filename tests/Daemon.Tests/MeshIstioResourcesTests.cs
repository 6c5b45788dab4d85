using System.Net;
using System.Text.Json;
using YamlDotNet.RepresentationModel;

namespace Istio.AppSwitch.Daemon.Tests;

/// <summary>
/// The Istio resources behind mesh rules: carried by <c>POST /v1/mesh</c>, checked, shown by <c>GET /v1/mesh</c> and by
/// <c>ax describe ref</c> in every output format. VIPs in 127.96.92.0/24.
/// </summary>
public sealed class MeshIstioResourcesTests : IAsyncLifetime
{
    private const string Cluster = "outbound|9080||reviews.default.svc.cluster.local";
    private const string BookinfoPath = "/apis/networking.istio.io/v1alpha3/namespaces/default/virtual-service/bookinfo";
    private const string ReviewsPath = "/apis/networking.istio.io/v1alpha3/namespaces/default/destination-rule/reviews";

    private static readonly string Body = $$"""
        {"replace": true, "version": "v1",
         "clusters": [{"name": "{{Cluster}}", "endpoints": [{"address": "127.0.0.10", "port": 9080}]}],
         "services": [{"key": "127.96.92.1:9080", "vip": "127.96.92.1:9080", "dnsNames": ["reviews.default.svc.cluster.local"],
                       "listener": "127.96.92.1_9080", "clusters": [{"name": "{{Cluster}}"}],
                       "istioResources": [
                         {"kind": "DestinationRule", "namespace": "default", "name": "reviews", "raw": "{{ReviewsPath}}"},
                         {"kind": "VirtualService", "namespace": "default", "name": "bookinfo", "raw": "{{BookinfoPath}}"}]}],
         "inbound": [{"key": "node-1:9080", "selector": "app=reviews", "port": 9080,
                      "istioResources": [{"kind": "AuthorizationPolicy", "namespace": "default", "name": "reviews-viewer",
                                          "raw": "ns[default]-policy[reviews-viewer]-rule[0]"}]}]}
        """;

    private TestDaemon _daemon = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _daemon = await TestDaemon.StartAsync();
        _http = _daemon.CreateHttpClient();
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _daemon.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(string body)
    {
        using var response = await _http.PostAsync("/v1/mesh", TestDaemon.Json(body));
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    [Fact]
    public async Task PostMesh_WithIstioResources_GetMeshAndDescribeShowThem()
    {
        var (status, error) = await PostAsync(Body);
        Assert.True(status == HttpStatusCode.OK, error.ToString());

        using var mesh = JsonDocument.Parse(await _http.GetStringAsync("/v1/mesh"));
        var service = Assert.Single(mesh.RootElement.GetProperty("services").EnumerateArray());
        Assert.Equal(["DestinationRule", "VirtualService"],
            service.GetProperty("istioResources").EnumerateArray().Select(r => r.GetProperty("kind").GetString()));
        var inbound = Assert.Single(mesh.RootElement.GetProperty("inbound").EnumerateArray());
        Assert.Equal("ns[default]-policy[reviews-viewer]-rule[0]",
            Assert.Single(inbound.GetProperty("istioResources").EnumerateArray()).GetProperty("raw").GetString());

        // By key, by route name and by host name: the same explanation.
        foreach (var name in new[] { "127.96.92.1:9080", "mesh/127.96.92.1:9080", "reviews.default.svc.cluster.local" })
        {
            using var described = JsonDocument.Parse(await _http.GetStringAsync($"/v1/refs/{Uri.EscapeDataString(name)}/describe"));
            var resources = described.RootElement.GetProperty("istioResources").EnumerateArray().ToList();
            Assert.Equal(2, resources.Count);
            Assert.Equal(("VirtualService", "default", "bookinfo", BookinfoPath), (
                resources[1].GetProperty("kind").GetString(), resources[1].GetProperty("namespace").GetString(),
                resources[1].GetProperty("name").GetString(), resources[1].GetProperty("raw").GetString()));
        }
    }

    [Fact]
    public async Task DescribeRef_Cli_TableJsonAndYamlNameTheResources()
    {
        var (status, error) = await PostAsync(Body);
        Assert.True(status == HttpStatusCode.OK, error.ToString());

        var (code, table, stderr) = await CliRunner.RunAsync("describe", "ref", "reviews.default.svc.cluster.local", "--api", _daemon.SocketPath);
        Assert.True(code == 0, stderr);
        Assert.Contains("Istio resources: DestinationRule default/reviews, VirtualService default/bookinfo\n", table.ReplaceLineEndings("\n"),
            StringComparison.Ordinal);

        var (jsonCode, json, _) = await CliRunner.RunAsync("describe", "ref", "127.96.92.1:9080", "-o", "json", "--api", _daemon.SocketPath);
        Assert.Equal(0, jsonCode);
        using var document = JsonDocument.Parse(json);
        Assert.Equal(ReviewsPath, document.RootElement.GetProperty("istioResources")[0].GetProperty("raw").GetString());

        var (yamlCode, yaml, _) = await CliRunner.RunAsync("describe", "ref", "127.96.92.1:9080", "-o", "yaml", "--api", _daemon.SocketPath);
        Assert.Equal(0, yamlCode);
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var resources = (YamlSequenceNode)((YamlMappingNode)stream.Documents[0].RootNode)["istioResources"];
        Assert.Equal(["reviews", "bookinfo"], resources.Children.Select(r => ((YamlScalarNode)((YamlMappingNode)r)["name"]).Value));
    }

    [Fact]
    public async Task PostMesh_BadIstioResources_400NamingEveryFieldAndNothingChanges()
    {
        var tooMany = string.Join(',', Enumerable.Range(0, 65).Select(i => $$"""{"kind": "VirtualService", "name": "vs-{{i}}"}"""));
        var longRaw = new string('p', 1025);
        var body = $$"""
            {"replace": true,
             "clusters": [{"name": "{{Cluster}}", "endpoints": [{"address": "127.0.0.10", "port": 9080}]}],
             "services": [
               {"key": "127.96.92.2:9080", "vip": "127.96.92.2:9080", "clusters": [{"name": "{{Cluster}}"}], "istioResources": [{{tooMany}}]},
               {"key": "127.96.92.3:9080", "vip": "127.96.92.3:9080", "clusters": [{"name": "{{Cluster}}"}], "istioResources": [
                 {"kind": "virtual-service", "name": "a"},
                 {"kind": "VirtualService"},
                 {"kind": "VirtualService", "name": "b\u001b[2J"},
                 {"kind": "VirtualService", "name": "c", "raw": "{{longRaw}}"},
                 null]}],
             "inbound": [{"key": "node-1:80", "selector": "app=a", "port": 80, "istioResources": [{"kind": "", "name": "x"}]}]}
            """;

        var (status, error) = await PostAsync(body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var message = error.GetProperty("error").GetProperty("message").GetString()!;
        Assert.Contains("services[0].istioResources: at most 64 resources, not 65", message, StringComparison.Ordinal);
        Assert.Contains("services[1].istioResources[0].kind", message, StringComparison.Ordinal);
        Assert.Contains("services[1].istioResources[1].name", message, StringComparison.Ordinal);
        Assert.Contains("services[1].istioResources[2].name", message, StringComparison.Ordinal);
        Assert.Contains("services[1].istioResources[3].raw", message, StringComparison.Ordinal);
        Assert.Contains("services[1].istioResources[4]: a resource is required", message, StringComparison.Ordinal);
        Assert.Contains("inbound[0].istioResources[0].kind", message, StringComparison.Ordinal);

        using var mesh = JsonDocument.Parse(await _http.GetStringAsync("/v1/mesh"));
        Assert.Equal(0, mesh.RootElement.GetProperty("services").GetArrayLength());
    }

    [Fact]
    public async Task PostMesh_IstioResourcesNotAList_400AndTheDaemonStaysUp()
    {
        var (status, error) = await PostAsync("""{"services": [{"key": "k", "vip": "127.96.92.4:80", "mode": "passthrough", "istioResources": "VirtualService default/x"}]}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("istioResources", error.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        var (ok, _) = await PostAsync(Body);
        Assert.Equal(HttpStatusCode.OK, ok);
    }
}
