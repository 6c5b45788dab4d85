using System.Globalization;
using Istio.AppSwitch.Functional.Tests.Harness;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Functional.Tests;

/// <summary>
/// Outbound capture without iptables: a catch-all ref sends every connect of matching clients to a sidecar,
/// with a PROXY protocol v2 header that tells the sidecar the original destination. HAProxy is the sidecar: it
/// accepts the header (<c>accept-proxy</c>) and forwards to the original destination (<c>server 0.0.0.0:0</c>).
/// Every destination is on loopback.
/// </summary>
[Collection(DependencyOrderingCollection.Name)]
public sealed class CaptureTests(AxEnvironment ax)
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task CatchAllRef_ClientReachesItsDestinationThroughHaproxy_WhichLogsTheOriginalDestination(bool sidecarStartsLate)
    {
        var tag = sidecarStartsLate ? "late" : "early";
        var (serverPort, sidecarPort) = (AxEnvironment.FreePort(), AxEnvironment.FreePort());
        var root = Directory.CreateTempSubdirectory("ax-capture-").FullName;
        await File.WriteAllTextAsync(Path.Combine(root, "index.html"), $"origin-{tag}");
        // The origin server is not under ax: the sidecar reaches it by its real address.
        using var origin = ExternalProcess.Start("python3", ["-m", "http.server", $"{serverPort}", "--bind", "127.0.0.1", "--directory", root]);
        await WaitForPortAsync(serverPort);
        await ax.CreateRefAsync($"sidecar-{tag}", "0.0.0.0/0:*", $"app=sidecar-{tag}", $"app=web-{tag}");
        var config = WriteHaproxyConfig(root, sidecarPort);

        ExternalProcess? sidecar = null;
        try
        {
            if (!sidecarStartsLate)
            {
                sidecar = await StartSidecarAsync(tag, config, sidecarPort);
            }
            using var client = ax.StartUnderAx(["--labels", $"app=web-{tag}"],
                ["curl", "-sS", "--max-time", "20", "-w", "\\n%{remote_ip}:%{remote_port}", $"http://127.0.0.1:{serverPort}/index.html"]);
            if (sidecarStartsLate)
            {
                await ax.WaitForHeldAsync($"sidecar-{tag}", 1);
                await Task.Delay(1000);
                sidecar = await StartSidecarAsync(tag, config, sidecarPort);
            }

            Assert.True(await client.WaitForExitAsync(TimeSpan.FromSeconds(30)) == 0, client.Output + sidecar?.Output);
            var lines = client.Stdout.Split('\n');
            Assert.Equal($"origin-{tag}", lines[0]);
            // curl's getpeername: the destination it asked for, not the sidecar.
            Assert.Equal($"127.0.0.1:{serverPort}", lines[1]);
            await sidecar!.WaitForOutputAsync($"-> 127.0.0.1:{serverPort}", TimeSpan.FromSeconds(10));
            Assert.Matches($@"captured 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:{serverPort}", sidecar.Stdout);
        }
        finally
        {
            sidecar?.Dispose();
            await ax.AxAsync("delete", "ref", $"sidecar-{tag}");
        }
    }

    [Fact]
    public async Task CatchAllRefV6_Ipv6ClientReachesItsIpv6DestinationThroughHaproxy()
    {
        var (serverPort, sidecarPort) = (AxEnvironment.FreePort(), AxEnvironment.FreePort());
        var root = Directory.CreateTempSubdirectory("ax-capture-").FullName;
        await File.WriteAllTextAsync(Path.Combine(root, "index.html"), "origin-v6");
        using var origin = ExternalProcess.Start("python3", ["-m", "http.server", $"{serverPort}", "--bind", "::1", "--directory", root]);
        await WaitForPortAsync(serverPort, System.Net.IPAddress.IPv6Loopback);
        await ax.CreateRefAsync("sidecar-v6", "::/0:*", "app=sidecar-v6", "app=web-v6");
        var config = WriteHaproxyConfig(root, sidecarPort);
        using var sidecar = await StartSidecarAsync("v6", config, sidecarPort);
        try
        {
            var result = await ax.RunUnderAxAsync(["--labels", "app=web-v6"],
                ["curl", "-sS", "--max-time", "20", "-w", "\\n%{remote_ip}:%{remote_port}", $"http://[::1]:{serverPort}/index.html"]);

            Assert.True(result.ExitCode == 0, result + sidecar.Output);
            Assert.Equal(["origin-v6", $"::1:{serverPort}"], result.Stdout.Trim().Split('\n'));
            await sidecar.WaitForOutputAsync($"-> ::1:{serverPort}", TimeSpan.FromSeconds(10));
        }
        finally
        {
            await ax.AxAsync("delete", "ref", "sidecar-v6");
        }
    }

    [Fact]
    public async Task CatchAllRef_ExcludedDestinationAndOtherClients_ConnectDirectly()
    {
        var (serverPort, sidecarPort) = (AxEnvironment.FreePort(), AxEnvironment.FreePort());
        var root = Directory.CreateTempSubdirectory("ax-capture-").FullName;
        await File.WriteAllTextAsync(Path.Combine(root, "index.html"), "direct");
        using var origin = ExternalProcess.Start("python3", ["-m", "http.server", $"{serverPort}", "--bind", "127.0.0.1", "--directory", root]);
        await WaitForPortAsync(serverPort);
        // The sidecar never starts: a captured connect would be held and then refused.
        await ax.CreateRefAsync("sidecar-excl", "0.0.0.0/0:*", "app=sidecar-excl", "app=web-excl", "--exclude", "127.0.0.0/8", "--wait", "1s");
        try
        {
            var excluded = await ax.RunUnderAxAsync(["--labels", "app=web-excl"], ["curl", "-sS", "--max-time", "10", $"http://127.0.0.1:{serverPort}/index.html"]);
            var otherClient = await ax.RunUnderAxAsync(["--labels", "app=not-web"], ["curl", "-sS", "--max-time", "10", $"http://127.0.0.1:{serverPort}/index.html"]);

            Assert.True(excluded.ExitCode == 0 && excluded.Stdout.Trim() == "direct", excluded.ToString());
            Assert.True(otherClient.ExitCode == 0 && otherClient.Stdout.Trim() == "direct", otherClient.ToString());
        }
        finally
        {
            await ax.AxAsync("delete", "ref", "sidecar-excl");
        }
    }

    private async Task<ExternalProcess> StartSidecarAsync(string tag, string config, int port)
    {
        var sidecar = ax.StartUnderAx(["--labels", $"app=sidecar-{tag}"], ["haproxy", "-db", "-f", config]);
        await ax.WaitForServiceAsync(port, sidecar);
        return sidecar;
    }

    private static string WriteHaproxyConfig(string directory, int port)
    {
        var path = Path.Combine(directory, "haproxy.cfg");
        File.WriteAllText(path, string.Create(CultureInfo.InvariantCulture, $"""
            global
                log stdout format raw local0
            defaults
                mode tcp
                log global
                timeout connect 5s
                timeout client 30s
                timeout server 30s
            frontend sidecar
                bind 127.0.0.1:{port} accept-proxy
                log-format "captured %ci:%cp -> %fi:%fp"
                default_backend original_destination
            backend original_destination
                server original 0.0.0.0:0

            """));
        return path;
    }

    private static async Task WaitForPortAsync(int port, System.Net.IPAddress? address = null)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            try
            {
                using var probe = new System.Net.Sockets.TcpClient();
                await probe.ConnectAsync(address ?? System.Net.IPAddress.Loopback, port);
                return;
            }
            catch (System.Net.Sockets.SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
    }
}
