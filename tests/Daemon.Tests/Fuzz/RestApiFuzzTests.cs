using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Istio.AppSwitch.Tests.Common.Tools;
using Istio.AppSwitch.Tests.Fuzzing;

namespace Istio.AppSwitch.Daemon.Tests.Fuzz;

/// <summary>
/// Damaged and random bodies against every write endpoint of a real daemon (in-process, on its Unix socket): every
/// answer is a 2xx (the damage left the body valid) or a 4xx in the documented error shape, never a 5xx, and the
/// daemon answers reads throughout and afterwards.
/// </summary>
public sealed class RestApiFuzzTests : IAsyncLifetime
{
    /// <summary>Requests sent, spread over the write endpoints.</summary>
    public const int Cases = 600;

    private static readonly string[] ContentTypes =
        ["application/json", "application/json", "application/json", "application/json; charset=utf-8", "text/plain", "", "application/json; charset=latin1", "multipart/form-data"];

    // The documented limit of a body other than the mesh's (docs/api.md).
    private const int BodyLimit = 64 * 1024;

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

    [Fact]
    public async Task WriteEndpoints_MutatedAndRandomBodies_600Cases_4xxErrorShapeNever5xx()
    {
        var corpus = Corpus();
        var trees = corpus.Select(c => (c.Path, Tree: JsonNode.Parse(c.Body)!)).ToArray();
        var bytes = corpus.Select(c => Encoding.UTF8.GetBytes(c.Body)).ToArray();
        var statuses = new SortedDictionary<int, int>();
        var kestrelRefusals = 0;
        var earlyCloses = 0;
        GC.Collect();
        var managedBefore = GC.GetTotalMemory(forceFullCollection: true);

        await FuzzDriver.RunAsync("REST API", FuzzDriver.Seed(29), FuzzDriver.Cases(Cases), TimeSpan.FromSeconds(20),
            random => MakeRequest(random, trees, bytes),
            request => $"{request.Method} {request.Path} content-type={request.ContentType} body={Encoding.UTF8.GetString(request.Body)[..Math.Min(request.Body.Length, 1500)]} ({request.What})",
            async (request, cancellationToken) =>
            {
                using var message = new HttpRequestMessage(request.Method, request.Path);
                if (request.Method != HttpMethod.Delete)
                {
                    message.Content = new ByteArrayContent(request.Body);
                    if (request.ContentType.Length > 0)
                    {
                        message.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(request.ContentType);
                    }
                }

                HttpResponseMessage response;
                try
                {
                    response = await _http.SendAsync(message, cancellationToken);
                }
                catch (HttpRequestException) when (request.Body.Length > BodyLimit)
                {
                    // Kestrel answers a body over the limit (or one it will not read, as with a wrong content type)
                    // before reading it, then closes the connection rather than drain it: the client, still
                    // sending, sees the reset instead of the answer. Not a daemon failure; it must still answer.
                    earlyCloses++;
                    using var after = await _http.GetAsync("/healthz", cancellationToken);
                    Assert.Equal(HttpStatusCode.OK, after.StatusCode);
                    return;
                }

                using var _ = response;
                var status = (int)response.StatusCode;
                statuses[status] = statuses.GetValueOrDefault(status) + 1;
                var text = await response.Content.ReadAsStringAsync(cancellationToken);
                Assert.True(status is (>= 200 and < 300) or (>= 400 and < 500), $"status {status}: {text}");
                if (status == 400 && text.Length == 0 && request.Path.Contains("%00", StringComparison.Ordinal))
                {
                    // Kestrel refuses a request target that decodes to a NUL itself, before any middleware runs, with
                    // a bare 400 (a limit in docs/reliability.md); the daemon never sees the request.
                    kestrelRefusals++;
                }
                else if (status >= 400)
                {
                    AssertErrorShape(status, text, response.Content.Headers.ContentType?.MediaType);
                }

                // The daemon still reads after each write, good or bad.
                using var health = await _http.GetAsync("/healthz", cancellationToken);
                Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            });

        foreach (var path in new[] { "/v1/refs", "/v1/mesh", "/v1/apps", "/v1/services", "/v1/delegation", "/v1/version" })
        {
            using var response = await _http.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path}: {response.StatusCode}");
        }

        // Bounded memory: what the daemon holds after 600 hostile requests is the refs and mesh rules that were
        // valid, not buffers of the bodies it refused.
        var managedAfter = GC.GetTotalMemory(forceFullCollection: true);
        Assert.True(managedAfter - managedBefore < 64L << 20, $"managed heap grew by {(managedAfter - managedBefore) >> 20} MiB");
        var summary = $"{string.Join(", ", statuses.Select(s => $"{s.Key}: {s.Value}"))}; bare Kestrel 400s: {kestrelRefusals}; closed early: {earlyCloses}";
        Assert.True(statuses.Keys.Any(s => s >= 400), summary);
        Console.WriteLine($"REST API fuzz: {summary}");
    }

    private static void AssertErrorShape(int status, string text, string? contentType)
    {
        Assert.True(contentType == "application/json" && text.Length > 0, $"status {status} with content type '{contentType}' and body '{text}'");
        using var document = JsonDocument.Parse(text);
        var error = document.RootElement.GetProperty("error");
        Assert.Equal(status, error.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("code").GetString()));
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.DoesNotContain("   at ", error.GetProperty("message").GetString()!, StringComparison.Ordinal);
        if (error.TryGetProperty("details", out var details))
        {
            foreach (var detail in details.EnumerateArray())
            {
                Assert.False(string.IsNullOrEmpty(detail.GetProperty("message").GetString()));
            }
        }
    }

    private static FuzzRequest MakeRequest(Random random, (string Path, JsonNode Tree)[] trees, byte[][] bytes)
    {
        var contentType = ContentTypes[random.Next(ContentTypes.Length)];
        switch (random.Next(10))
        {
            case 0:
                {
                    // DELETE of a name that is anything at all, escaped into the path.
                    var name = new byte[random.Next(1, 300)];
                    random.NextBytes(name);
                    return new(HttpMethod.Delete, "/v1/refs/" + Uri.EscapeDataString(Encoding.Latin1.GetString(name)), contentType, [], "random name");
                }
            case 1:
                {
                    var body = new byte[random.Next(0, 2048)];
                    random.NextBytes(body);
                    return new(HttpMethod.Post, PathOf(random, trees), contentType, body, "random bytes");
                }
            case 2 or 3 or 4 or 5:
                {
                    var index = random.Next(trees.Length);
                    var tree = trees[index].Tree.DeepClone();
                    var what = new StringBuilder();
                    for (var steps = 1 + random.Next(3); steps > 0; steps--)
                    {
                        what.Append(JsonTreeMutator.Mutate(tree, random)).Append(' ');
                    }

                    return new(HttpMethod.Post, trees[index].Path, contentType, JsonTreeMutator.ToUtf8(tree), what.ToString());
                }
            default:
                {
                    var index = random.Next(bytes.Length);
                    var mutator = new ByteMutator(random, [bytes[index]]);
                    var body = mutator.Next();
                    return new(HttpMethod.Post, trees[index].Path, contentType, body, mutator.LastDescription);
                }
        }
    }

    private static string PathOf(Random random, (string Path, JsonNode Tree)[] trees) =>
        random.Next(8) == 0 ? "/v1/delegation?name=fuzz&directions=outbound" : trees[random.Next(trees.Length)].Path;

    /// <summary>
    /// Real bodies: the inbound example of docs/api.md as written there, and a ref and a mesh batch built from the
    /// fields its tables document.
    /// </summary>
    private static (string Path, string Body)[] Corpus()
    {
        var api = File.ReadAllText(RepositoryPaths.Combine("docs", "api.md"));
        var inboundSection = api.IndexOf("### `POST /v1/mesh`, `GET /v1/mesh`: inbound ports", StringComparison.Ordinal);
        var start = api.IndexOf("```json", inboundSection, StringComparison.Ordinal) + "```json".Length;
        var end = api.IndexOf("```", start, StringComparison.Ordinal);
        var inbound = api[start..end];
        Assert.Contains("\"inbound\"", inbound, StringComparison.Ordinal);
        return
        [
            ("/v1/mesh", inbound),
            ("/v1/refs", """
                {"name": "redis-fz", "vip": "127.96.30.1:6379", "selector": "app=redis,tier!=test", "clients": "tier=web",
                 "dns": "redis-fz.local", "wait": "1m30s", "nonblocking": "eagain", "exclude": "127.96.30.0/30,127.96.30.9",
                 "noUnix": true, "proxyProtocol": "none"}
                """),
            ("/v1/refs", """{"name": "any-fz", "vip": "127.96.30.0/24:*", "selector": "app", "proxyProtocol": "v2"}"""),
            ("/v1/refs", """{"name": "v6-fz", "vip": "[::1]:8080", "selector": "!legacy,app==web"}"""),
            ("/v1/mesh", """
                {"replace": false, "version": "cds=c1,eds=e1,lds=l1,rds=r1",
                 "clusters": [{"name": "outbound|6379||redis.default.svc.cluster.local", "lbPolicy": "ring_hash",
                               "minimumRingSize": 1024, "maximumRingSize": 8192, "connectTimeout": "10s", "maxConnections": 100,
                               "healthyPanicThreshold": 0,
                               "outlierDetection": {"consecutiveFailures": 5, "baseEjectionTime": "30s", "maxEjectionTime": "300s", "maxEjectionPercent": 10},
                               "endpoints": [{"address": "127.0.0.10", "port": 6379, "weight": 2, "priority": 0, "health": "healthy"},
                                             {"address": "127.0.0.11", "port": 6379, "health": "draining"}]}],
                 "deleteClusters": ["outbound|1||gone"],
                 "services": [{"key": "127.96.30.2:6379", "vip": "127.96.30.2:6379", "mode": "chain", "reasons": ["tls-origination"],
                               "clusters": [{"name": "outbound|6379||redis.default.svc.cluster.local", "weight": 1}],
                               "hashOnSourceIp": true, "connectRetries": 2, "dnsNames": ["redis.default.svc.cluster.local"],
                               "listener": "127.96.30.2_6379"}],
                 "deleteServices": ["127.96.30.3:80"]}
                """),
        ];
    }

    private sealed record FuzzRequest(HttpMethod Method, string Path, string ContentType, byte[] Body, string What);
}
