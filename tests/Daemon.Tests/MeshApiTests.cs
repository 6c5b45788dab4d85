using System.Net;
using System.Text;
using System.Text.Json;

namespace Istio.AppSwitch.Daemon.Tests;

/// <summary><c>POST /v1/mesh</c> and <c>GET /v1/mesh</c> over raw HTTP, and <c>ax get mesh</c>.</summary>
public sealed class MeshApiTests : IAsyncLifetime
{
    private const string OneService = """
        {"replace": true, "version": "cds=c1,eds=e1,lds=l1,rds=",
         "clusters": [{"name": "outbound|6379||redis.default.svc.cluster.local", "lbPolicy": "least_request", "choiceCount": 2,
                       "connectTimeout": "10s", "endpoints": [{"address": "127.0.0.10", "port": 6379}, {"address": "127.0.0.11", "port": 6379, "weight": 3}]}],
         "services": [{"key": "127.96.0.1:6379", "vip": "127.96.0.1:6379", "listener": "127.96.0.1_6379",
                       "clusters": [{"name": "outbound|6379||redis.default.svc.cluster.local"}]}]}
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

    private async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpMethod method, string path, HttpContent? content = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    [Fact]
    public async Task PostMesh_Valid_200CountsAndGetShowsIt()
    {
        var (status, body) = await SendAsync(HttpMethod.Post, "/v1/mesh", TestDaemon.Json(OneService));
        var (getStatus, mesh) = await SendAsync(HttpMethod.Get, "/v1/mesh");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(1, body.GetProperty("services").GetInt32());
        Assert.Equal(1, body.GetProperty("clusters").GetInt32());
        Assert.Equal("cds=c1,eds=e1,lds=l1,rds=", body.GetProperty("version").GetString());
        Assert.Equal(HttpStatusCode.OK, getStatus);
        var service = Assert.Single(mesh.GetProperty("services").EnumerateArray());
        Assert.Equal("127.96.0.1:6379", service.GetProperty("vip").GetString());
        var cluster = Assert.Single(mesh.GetProperty("clusters").EnumerateArray());
        Assert.Equal("least_request", cluster.GetProperty("lbPolicy").GetString());
        Assert.Equal(2, cluster.GetProperty("endpoints").GetArrayLength());
    }

    [Fact]
    public async Task PostMesh_UnknownField_400NamingIt()
    {
        var (status, body) = await SendAsync(HttpMethod.Post, "/v1/mesh", TestDaemon.Json("""{"replace": true, "servces": []}"""));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var message = body.GetProperty("error").GetProperty("message").GetString();
        Assert.Contains("servces", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PostMesh_NotJson_415()
    {
        var (status, _) = await SendAsync(HttpMethod.Post, "/v1/mesh", new StringContent("{}", Encoding.UTF8, "text/plain"));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
    }

    [Fact]
    public async Task PostMesh_BodyOverRefLimit_AcceptedWhileRefsKeepTheirs()
    {
        // 2 MiB of endpoints: far over the 64 KiB of the other endpoints, well under the mesh's 64 MiB.
        var endpoints = string.Join(',', Enumerable.Range(0, 40_000).Select(i => $$"""{"address": "127.0.{{i / 250}}.{{i % 250}}", "port": 6379}"""));
        var json = $$"""{"replace": true, "clusters": [{"name": "big", "endpoints": [{{endpoints}}]}]}""";
        Assert.True(json.Length > 1_000_000);

        var (status, _) = await SendAsync(HttpMethod.Post, "/v1/mesh", TestDaemon.Json(json));
        var (refStatus, _) = await SendAsync(HttpMethod.Post, "/v1/refs", TestDaemon.Json($$"""{"name": "x", "pad": "{{new string('a', 70_000)}}"}"""));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, refStatus);
    }

    [Fact]
    public async Task GetMeshCli_AfterPost_TablesOfServicesAndClusters()
    {
        await SendAsync(HttpMethod.Post, "/v1/mesh", TestDaemon.Json(OneService));

        var (exitCode, stdout, stderr) = await CliRunner.RunAsync("get", "mesh", "--api", _daemon.SocketPath);

        Assert.True(exitCode == 0, stderr);
        var lines = stdout.Split('\n');
        Assert.Equal(["KEY", "VIP", "MODE", "CLUSTERS", "ENDPOINTS"], lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["127.96.0.1:6379", "127.96.0.1:6379", "fast", "outbound|6379||redis.default.svc.cluster.local", "2"],
            lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("", lines[2]);
        Assert.Equal(["NAME", "LB", "ENDPOINTS", "ACTIVE", "EJECTED"], lines[3].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["outbound|6379||redis.default.svc.cluster.local", "least_request", "2", "0", "0"],
            lines[4].Split(' ', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task GetMeshCli_Empty_NoteOnStderr()
    {
        var (exitCode, stdout, stderr) = await CliRunner.RunAsync("get", "mesh", "--api", _daemon.SocketPath);

        Assert.Equal((0, "", "No mesh rules found.\n"), (exitCode, stdout, stderr));
    }

    [Fact]
    public async Task GetMeshCli_Json_TheApiState()
    {
        await SendAsync(HttpMethod.Post, "/v1/mesh", TestDaemon.Json(OneService));

        var (exitCode, stdout, _) = await CliRunner.RunAsync("get", "mesh", "-o", "json", "--api", _daemon.SocketPath);

        Assert.Equal(0, exitCode);
        using var json = JsonDocument.Parse(stdout);
        Assert.Equal("127.96.0.1:6379", json.RootElement.GetProperty("services")[0].GetProperty("key").GetString());
    }
}
