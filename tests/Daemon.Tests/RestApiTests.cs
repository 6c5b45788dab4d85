using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Istio.AppSwitch.Dataplane.Registry;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Daemon.Tests;

/// <summary>The REST API over raw HTTP on the daemon's Unix socket.</summary>
public sealed class RestApiTests : IAsyncLifetime
{
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

    private async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> SendAsync(HttpMethod method, string path, HttpContent? content = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var body = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        return (response.StatusCode, body, response);
    }

    private Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> PostRefAsync(string json) =>
        SendAsync(HttpMethod.Post, "/v1/refs", TestDaemon.Json(json));

    private static JsonElement Error(JsonElement body) => body.GetProperty("error");

    [Fact]
    public async Task PostRef_Valid_201WithLocationAndRef()
    {
        var (status, body, response) = await PostRefAsync("""{"name":"redis","vip":"10.0.0.1:6379","selector":"app=redis","clients":"tier=web","dns":"redis.local"}""");

        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("/v1/refs/redis", response.Headers.Location?.OriginalString);
        Assert.Equal("application/json; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.Equal("redis", body.GetProperty("name").GetString());
        Assert.Equal("10.0.0.1:6379", body.GetProperty("vip").GetString());
        Assert.Equal("app=redis", body.GetProperty("selector").GetString());
        Assert.Equal("tier=web", body.GetProperty("clients").GetString());
        Assert.Equal("redis.local", body.GetProperty("dns").GetString());
        Assert.Equal(0, body.GetProperty("backends").GetInt32());
        Assert.NotNull(_daemon.Refs.Find("redis"));
    }

    [Theory]
    [InlineData("""{"name":"a","vip":"10.0.0.0/33:80","selector":"app=a"}""", "vip", "invalid vip \"10.0.0.0/33:80\": prefix length \"33\"")]
    [InlineData("""{"name":"a","vip":"10.0.0.1/8:80","selector":"app=a"}""", "vip", "host bits set")]
    [InlineData("""{"name":"a","vip":"10.0.0.1:70000","selector":"app=a"}""", "vip", "port \"70000\"")]
    [InlineData("""{"name":"a","vip":"10.0.0.1:80","selector":"app=a,"}""", "selector", "invalid selector \"app=a,\"")]
    [InlineData("""{"name":"a","vip":"10.0.0.1:80"}""", "selector", "selector is required")]
    [InlineData("""{"name":"A!","vip":"10.0.0.1:80","selector":"app=a"}""", "name", "invalid name \"A!\"")]
    [InlineData("""{"name":"a","vip":"10.0.0.1:80","selector":"app=a","clients":"-x"}""", "clients", "invalid clients \"-x\"")]
    [InlineData("""{"name":"a","vip":"10.0.0.1:80","selector":"app=a","dns":"bad_name"}""", "dns", "invalid dns \"bad_name\"")]
    [InlineData("""{"name":"a","vip":80,"selector":"app=a"}""", "vip", "vip must be a string, not a number")]
    [InlineData("""{"name":"a","vip":"10.0.0.1:80","selectr":"app=a"}""", "selectr", "unknown field \"selectr\"")]
    [InlineData("""{"name":"a","vip":"10.0.0.1:80","selector":"app=a","wait":"30"}""", "wait", "number without a unit")]
    [InlineData("""{"name":"a","vip":"10.0.0.1:80","selector":"app=a","wait":"3 days"}""", "wait", "is not a duration")]
    [InlineData("""{"name":"a","vip":"10.0.0.1:80","selector":"app=a","wait":"2h"}""", "wait", "longer than the most allowed, 1h")]
    [InlineData("""{"name":"a","vip":"10.0.0.1:80","selector":"app=a","wait":"5d"}""", "wait", "unknown unit \"d\"")]
    [InlineData("""{"name":"a","vip":"10.0.0.1:80","selector":"app=a","nonblocking":"block"}""", "nonblocking", "must be hold or eagain")]
    [InlineData("""{"name":"a","vip":"0.0.0.0/0:*","selector":"app=a","exclude":"10.0.0.1/8"}""", "exclude", "host bits set")]
    [InlineData("""{"name":"a","vip":"0.0.0.0/0:*","selector":"app=a","exclude":"10.0.0.0/8,nope"}""", "exclude", "invalid CIDR \"nope\"")]
    [InlineData("""{"name":"a","vip":"0.0.0.0/0:*","selector":"app=a","proxyProtocol":"v1"}""", "proxyProtocol", "must be none or v2")]
    [InlineData("""{"name":"a","vip":"10.0.0.1:80","selector":"app=a","noUnix":"yes"}""", "noUnix", "noUnix must be a boolean (true or false), not a string")]
    [InlineData("""{"name":"a","vip":"10.0.0.1:80","selector":"app=a","noUnix":1}""", "noUnix", "not a number")]
    public async Task PostRef_OneBadField_400NamingTheField(string json, string field, string message)
    {
        var (status, body, _) = await PostRefAsync(json);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var error = Error(body);
        Assert.Equal(400, error.GetProperty("status").GetInt32());
        Assert.Equal("invalid_argument", error.GetProperty("code").GetString());
        Assert.Equal(field, error.GetProperty("field").GetString());
        Assert.Contains(message, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(field, Assert.Single(error.GetProperty("details").EnumerateArray()).GetProperty("field").GetString());
        Assert.Empty(_daemon.Refs.All);
    }

    [Theory]
    [InlineData("""{"name":"u1","vip":"10.0.0.1:80","selector":"app=a","noUnix":true}""", true)]
    [InlineData("""{"name":"u2","vip":"10.0.0.1:81","selector":"app=a","noUnix":false}""", false)]
    [InlineData("""{"name":"u3","vip":"10.0.0.1:82","selector":"app=a"}""", false)]
    public async Task PostRef_NoUnix_StoredAndReturned(string json, bool expected)
    {
        var (status, body, _) = await PostRefAsync(json);

        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal(expected, body.GetProperty("noUnix").GetBoolean());
        Assert.Equal(expected, _daemon.Refs.Find(body.GetProperty("name").GetString()!)!.NoUnix);
    }

    [Fact]
    public async Task PostRef_SeveralBadFields_400ListsEveryField()
    {
        var (status, body, _) = await PostRefAsync("""{"name":"Bad Name","vip":"10.0.0.0/40:*","selector":"=x"}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var error = Error(body);
        Assert.False(error.TryGetProperty("field", out _));
        Assert.Equal(["name", "vip", "selector"], error.GetProperty("details").EnumerateArray().Select(d => d.GetProperty("field").GetString()));
    }

    [Fact]
    public async Task PostRef_DuplicateName_409AlreadyExists()
    {
        await PostRefAsync("""{"name":"redis","vip":"10.0.0.1:6379","selector":"app=redis"}""");

        var (status, body, _) = await PostRefAsync("""{"name":"redis","vip":"10.0.0.2:6379","selector":"app=redis"}""");

        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("already_exists", Error(body).GetProperty("code").GetString());
        Assert.Equal("name", Error(body).GetProperty("field").GetString());
        Assert.Equal("ref \"redis\" already exists", Error(body).GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("{\"name\": \"a\",", "malformed JSON in the request body at line 1")]
    [InlineData("{x}", "malformed JSON in the request body at line 1, column 2")]
    [InlineData("", "malformed JSON in the request body")]
    [InlineData("[1,2]", "the request body must be a JSON object, not an array")]
    [InlineData("\"text\"", "the request body must be a JSON object, not a string")]
    public async Task PostRef_MalformedBody_400NamingTheProblem(string json, string message)
    {
        var (status, body, _) = await PostRefAsync(json);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_argument", Error(body).GetProperty("code").GetString());
        Assert.StartsWith(message, Error(body).GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PostRef_NotJsonContentType_415()
    {
        var content = new StringContent("""{"name":"a"}""", Encoding.UTF8, new MediaTypeHeaderValue("text/plain"));

        var (status, body, _) = await SendAsync(HttpMethod.Post, "/v1/refs", content);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
        Assert.Equal("unsupported_media_type", Error(body).GetProperty("code").GetString());
        Assert.Contains("text/plain", Error(body).GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PostRef_BodyOverLimit_413()
    {
        var json = $$"""{"name":"a","vip":"10.0.0.1:80","selector":"app={{new string('x', 70_000)}}"}""";

        var (status, body, _) = await PostRefAsync(json);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal(413, Error(body).GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task GetRef_ExistingAndMissing_200Then404()
    {
        await PostRefAsync("""{"name":"web","vip":"10.0.0.0/24:*","selector":"app=web"}""");

        var (status, body, _) = await SendAsync(HttpMethod.Get, "/v1/refs/web");
        var (missing, error, _) = await SendAsync(HttpMethod.Get, "/v1/refs/nope");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("10.0.0.0/24:*", body.GetProperty("vip").GetString());
        Assert.Equal(HttpStatusCode.NotFound, missing);
        Assert.Equal("not_found", Error(error).GetProperty("code").GetString());
        Assert.Equal("ref \"nope\" not found", Error(error).GetProperty("message").GetString());
    }

    [Fact]
    public async Task GetRefs_Several_JsonArrayByNameWithBackendCounts()
    {
        var app = _daemon.Registry.RegisterApp(new AppRegistration("web", Labels.Parse("app=web"), null, 10, 0, ["/bin/web"]));
        _daemon.Registry.AddService(app.Id, TransportProtocol.Tcp, Ep("0.0.0.0:8080"), Ep("0.0.0.0:8080"), 1);
        await PostRefAsync("""{"name":"web","vip":"10.0.0.2:80","selector":"app=web"}""");
        await PostRefAsync("""{"name":"db","vip":"10.0.0.3:5432","selector":"app=db"}""");

        var (status, body, _) = await SendAsync(HttpMethod.Get, "/v1/refs");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(JsonValueKind.Array, body.ValueKind);
        Assert.Equal(["db", "web"], body.EnumerateArray().Select(r => r.GetProperty("name").GetString()));
        Assert.Equal([0, 1], body.EnumerateArray().Select(r => r.GetProperty("backends").GetInt32()));
    }

    [Fact]
    public async Task DeleteRef_ExistingThenMissing_204Then404()
    {
        await PostRefAsync("""{"name":"redis","vip":"10.0.0.1:6379","selector":"app=redis"}""");

        var (deleted, _, _) = await SendAsync(HttpMethod.Delete, "/v1/refs/redis");
        var (again, body, _) = await SendAsync(HttpMethod.Delete, "/v1/refs/redis");

        Assert.Equal(HttpStatusCode.NoContent, deleted);
        Assert.Equal(HttpStatusCode.NotFound, again);
        Assert.Equal("not_found", Error(body).GetProperty("code").GetString());
        Assert.Empty(_daemon.Refs.All);
    }

    [Fact]
    public async Task GetAppsAndServices_FromRegistry_CamelCaseJson()
    {
        var app = _daemon.Registry.RegisterApp(new AppRegistration("redis", Labels.Parse("app=redis"), IPAddress.Parse("10.1.1.1"), 1234, 0, ["/usr/bin/redis-server"]));
        _daemon.Registry.AddService(app.Id, TransportProtocol.Tcp, Ep("0.0.0.0:6379"), Ep("0.0.0.0:6379"), 99);

        var (appsStatus, apps, _) = await SendAsync(HttpMethod.Get, "/v1/apps");
        var (oneStatus, one, _) = await SendAsync(HttpMethod.Get, $"/v1/apps/{app.Id}");
        var (servicesStatus, services, _) = await SendAsync(HttpMethod.Get, "/v1/services");

        Assert.Equal(HttpStatusCode.OK, appsStatus);
        var listed = Assert.Single(apps.EnumerateArray());
        Assert.Equal("app-1", listed.GetProperty("id").GetString());
        Assert.Equal("redis", listed.GetProperty("labels").GetProperty("ax.app").GetString());
        Assert.Equal("root", listed.GetProperty("labels").GetProperty("ax.user").GetString());
        Assert.Equal("10.1.1.1", listed.GetProperty("ip").GetString());
        Assert.Equal(1234, listed.GetProperty("pid").GetInt32());
        Assert.Equal(HttpStatusCode.OK, oneStatus);
        Assert.Equal("app-1", one.GetProperty("id").GetString());
        Assert.Equal(HttpStatusCode.OK, servicesStatus);
        var service = Assert.Single(services.EnumerateArray());
        Assert.Equal("app-1", service.GetProperty("appId").GetString());
        Assert.Equal("tcp", service.GetProperty("protocol").GetString());
        Assert.Equal("0.0.0.0:6379", service.GetProperty("requested").GetString());
        Assert.Equal("0.0.0.0:6379", service.GetProperty("bound").GetString());
        Assert.Equal("10.1.1.1:6379", service.GetProperty("advertised").GetString());
        Assert.Equal("127.0.0.1:6379", service.GetProperty("target").GetString());
        Assert.Equal(99UL, service.GetProperty("socketInode").GetUInt64());
    }

    [Fact]
    public async Task GetApp_Missing_404()
    {
        var (status, body, _) = await SendAsync(HttpMethod.Get, "/v1/apps/app-77");

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("id", Error(body).GetProperty("field").GetString());
    }

    [Fact]
    public async Task VersionAndHealthz_Get_200()
    {
        var (versionStatus, version, _) = await SendAsync(HttpMethod.Get, "/v1/version");
        var (healthStatus, health, _) = await SendAsync(HttpMethod.Get, "/healthz");

        Assert.Equal(HttpStatusCode.OK, versionStatus);
        Assert.Equal("v1", version.GetProperty("apiVersion").GetString());
        Assert.Matches(@"^\d+\.\d+\.\d+", version.GetProperty("version").GetString());
        Assert.Equal(HttpStatusCode.OK, healthStatus);
        Assert.Equal("ok", health.GetProperty("status").GetString());
    }

    [Fact]
    public async Task UnknownPathOrMethod_JsonErrors()
    {
        var (notFound, body404, _) = await SendAsync(HttpMethod.Get, "/v2/refs");
        var (notAllowed, body405, _) = await SendAsync(HttpMethod.Put, "/v1/refs", TestDaemon.Json("{}"));

        Assert.Equal(HttpStatusCode.NotFound, notFound);
        Assert.Equal("not_found", Error(body404).GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.MethodNotAllowed, notAllowed);
        Assert.Equal("method_not_allowed", Error(body405).GetProperty("code").GetString());
    }

    private static InetEndpoint Ep(string text) => InetEndpoint.FromIPEndPoint(IPEndPoint.Parse(text));
}
