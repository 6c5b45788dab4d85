using System.Text.Json;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Functional.Tests.Harness;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Functional.Tests;

/// <summary>
/// Inbound rules decided from a connection's first bytes, peeked at accept and never consumed
/// (docs/inbound-policy.md): an HTTP path denied from the request line curl sends, and a TLS server name denied from
/// the ClientHello of curl and of openssl s_client. A denied connection is reset before the server sees it; an allowed
/// one reaches the server with every byte, the peeked ones included.
/// </summary>
[Collection(AxCollection.Name)]
public sealed class PeekPolicyTests(AxEnvironment ax)
{
    private static readonly string Programs = Path.Combine(AppContext.BaseDirectory, "Programs");

    private static Task<ProcessResult> CurlAsync(params string[] arguments) =>
        ExternalProcess.RunAsync("curl", ["-sS", "--max-time", "10", .. arguments], TimeSpan.FromSeconds(30));

    [Fact]
    public async Task HttpAdminPath_DeniedFromThePeekedRequestLine_OtherPathsServedWhole()
    {
        var port = AxEnvironment.FreePort();
        const string DenyAdmin = """
            {"engines": [{"action": "deny", "policies": [{"name": "deny-admin",
              "permissions": [{"urlPath": {"path": {"prefix": "/admin"}}}], "principals": [{"any": true}]}]}]}
            """;
        await ax.ProgramInboundAsync("app=peek-http", port, DenyAdmin);
        var root = Directory.CreateTempSubdirectory("ax-peek-http-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(root, "ok.txt"), "fine\n");
            Directory.CreateDirectory(Path.Combine(root, "admin"));
            await File.WriteAllTextAsync(Path.Combine(root, "admin", "secret.txt"), "secret\n");
            using var server = ax.StartUnderAx(["--name", "peek-http", "--labels", "app=peek-http"],
                ["python3", "-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", root, port.ToString()]);
            await ax.WaitForServiceAsync(port, server);

            var admin = await CurlAsync($"http://127.0.0.1:{port}/admin/secret.txt");
            var adminQuery = await CurlAsync($"http://127.0.0.1:{port}/admin/secret.txt?x=1");
            var ok = await CurlAsync($"http://127.0.0.1:{port}/ok.txt?admin=/admin");
            var okPost = await CurlAsync("-X", "POST", "--data", "x=1", $"http://127.0.0.1:{port}/ok.txt");

            Assert.NotEqual(0, admin.ExitCode); // curl: "Recv failure: Connection reset by peer" (56) or an empty reply
            Assert.DoesNotContain("secret", admin.Stdout, StringComparison.Ordinal);
            Assert.NotEqual(0, adminQuery.ExitCode);
            Assert.True(ok.ExitCode == 0, ok.ToString());
            Assert.Equal("fine\n", ok.Stdout);
            // http.server has no POST: its 501 proves the request line and body reached it whole after the peek.
            Assert.True(okPost.ExitCode == 0, okPost.ToString());
            Assert.Contains("501", okPost.Stdout, StringComparison.Ordinal);
            Assert.DoesNotContain("/admin/secret.txt", server.Stderr, StringComparison.Ordinal);
            Assert.Contains("GET /ok.txt?admin=/admin", server.Stderr, StringComparison.Ordinal);
            var counters = await ax.AppCountersAsync("peek-http");
            Assert.Equal(2, counters.GetProperty("acceptDenied").GetInt64());
            Assert.Equal(2, counters.GetProperty("acceptAllowed").GetInt64());
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task HttpAdminPath_NonblockingNodeServer_DeniedFromThePeek_EventLoopServesTheRest()
    {
        var port = AxEnvironment.FreePort();
        const string DenyAdmin = """
            {"engines": [{"action": "deny", "policies": [{"name": "deny-admin",
              "permissions": [{"urlPath": {"path": {"prefix": "/admin"}}}], "principals": [{"any": true}]}]}]}
            """;
        await ax.ProgramInboundAsync("app=peek-node", port, DenyAdmin);
        // libuv accepts on a nonblocking listener when epoll reports it readable: the accept call is held while ax
        // peeks, and the loop goes on once it returns.
        const string Server = "require('http').createServer((q, s) => { console.log('request ' + q.url); s.end('node ' + q.url + '\\n'); })"
            + ".listen(Number(process.argv[1]), '127.0.0.1', () => console.log('listening'));";
        using var server = ax.StartUnderAx(["--name", "peek-node", "--labels", "app=peek-node"], ["node", "-e", Server, port.ToString()]);
        await server.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));

        var admin = await CurlAsync($"http://127.0.0.1:{port}/admin");
        var oks = await Task.WhenAll(Enumerable.Range(0, 5).Select(i => CurlAsync($"http://127.0.0.1:{port}/ok{i}")));

        Assert.NotEqual(0, admin.ExitCode);
        Assert.All(oks.Select((r, i) => (r, i)), x => Assert.Equal($"node /ok{x.i}\n", x.r.Stdout));
        Assert.DoesNotContain("request /admin", server.Stdout, StringComparison.Ordinal);
        var counters = await ax.AppCountersAsync("peek-node");
        Assert.Equal(1, counters.GetProperty("acceptDenied").GetInt64());
        Assert.Equal(5, counters.GetProperty("acceptAllowed").GetInt64());
    }

    [Fact]
    public async Task TlsServerName_DeniedFromThePeekedClientHello_OfCurlAndOpensslSClient()
    {
        var port = AxEnvironment.FreePort();
        const string DenyForbidden = """
            {"engines": [{"action": "deny", "policies": [{"name": "deny-sni",
              "permissions": [{"requestedServerName": {"suffix": "forbidden.example"}}], "principals": [{"any": true}]}]}]}
            """;
        await ax.ProgramInboundAsync("app=peek-tls", port, DenyForbidden);
        // A plain TCP server is enough: the decision is made on the ClientHello, before any handshake.
        using var server = ax.StartUnderAx(["--name", "peek-tls", "--labels", "app=peek-tls"],
            ["python3", Path.Combine(Programs, "inbound_server.py"), "127.0.0.1", port.ToString(), "tls"]);
        await server.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));

        Task<ProcessResult> Curl(string host) =>
            CurlAsync("-k", "--max-time", "3", $"https://{host}:{port}/", "--resolve", $"{host}:{port}:127.0.0.1");
        Task<ProcessResult> SClient(string host) => ExternalProcess.RunAsync("bash",
            ["-c", $"openssl s_client -connect 127.0.0.1:{port} -servername {host} </dev/null"], TimeSpan.FromSeconds(30));

        await Curl("www.forbidden.example");
        await SClient("forbidden.example");
        var countersAfterDenied = await ax.AppCountersAsync("peek-tls");
        Assert.Equal(2, countersAfterDenied.GetProperty("acceptDenied").GetInt64());
        Assert.Equal(0, countersAfterDenied.GetProperty("acceptAllowed").GetInt64());
        Assert.DoesNotContain("accepted", server.Stdout, StringComparison.Ordinal);

        await Curl("allowed.example");
        await SClient("allowed.example");
        var counters = await ax.AppCountersAsync("peek-tls");
        Assert.Equal(2, counters.GetProperty("acceptDenied").GetInt64());
        Assert.Equal(2, counters.GetProperty("acceptAllowed").GetInt64());
        await server.WaitForOutputAsync("accepted 127.0.0.1:", TimeSpan.FromSeconds(10));
    }
}
