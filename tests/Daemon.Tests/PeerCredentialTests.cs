using System.Diagnostics;
using Istio.AppSwitch.Dataplane.Api;

namespace Istio.AppSwitch.Daemon.Tests;

/// <summary>
/// Writes are allowed only to root and the daemon's uid, by <c>SO_PEERCRED</c>. Tested for real: curl runs as
/// uid 65534 (nobody) through <c>setpriv</c> against a daemon whose socket is 0666 for the occasion. Needs root
/// (to change uid) and curl (scripts/test installs it).
/// </summary>
public sealed class PeerCredentialTests
{
    private const string Nobody = "65534";

    private static async Task<(int ExitCode, string Stdout, string Stderr)> CurlAsNobodyAsync(string socketPath, params string[] curlArgs)
    {
        var start = new ProcessStartInfo("setpriv")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in (string[])[$"--reuid={Nobody}", $"--regid={Nobody}", "--clear-groups", "curl", "-sS", "--unix-socket", socketPath, "-w", "\n%{http_code}", .. curlArgs])
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task Write_FromAnotherUid_403ButReadsAllowed()
    {
        if (ProcessIdentity.EffectiveUserId != 0)
        {
            // Only root can run a client as another uid; as anyone else, check that our own writes pass.
            await using var own = await TestDaemon.StartAsync();
            Assert.Equal(0, (await CliRunner.RunAsync("create", "ref", "own", "--vip", "10.0.0.1:80", "--selector", "app=x", "--api", own.SocketPath)).ExitCode);
            return;
        }
        await using var daemon = await TestDaemon.StartAsync(socketMode: (UnixFileMode)0b110_110_110);
        daemon.Refs.Create(new Dataplane.Policy.RefSpec("existing", "10.0.0.9:80", "app=x"));

        var post = await CurlAsNobodyAsync(daemon.SocketPath, "-X", "POST", "-H", "Content-Type: application/json",
            "-d", """{"name":"evil","vip":"10.0.0.1:80","selector":"app=x"}""", "http://ax/v1/refs");
        var delete = await CurlAsNobodyAsync(daemon.SocketPath, "-X", "DELETE", "http://ax/v1/refs/existing");
        var read = await CurlAsNobodyAsync(daemon.SocketPath, "http://ax/v1/refs");

        Assert.True(post.ExitCode == 0, $"curl failed: {post.Stderr}");
        Assert.EndsWith("\n403", post.Stdout, StringComparison.Ordinal);
        Assert.Contains("\"code\":\"permission_denied\"", post.Stdout, StringComparison.Ordinal);
        Assert.Contains("uid 65534", post.Stdout, StringComparison.Ordinal);
        Assert.EndsWith("\n403", delete.Stdout, StringComparison.Ordinal);
        Assert.EndsWith("\n200", read.Stdout, StringComparison.Ordinal);
        Assert.Contains("\"name\":\"existing\"", read.Stdout, StringComparison.Ordinal);
        Assert.Null(daemon.Refs.Find("evil"));
        Assert.NotNull(daemon.Refs.Find("existing"));
    }

    [Fact]
    public async Task Connect_DefaultMode0660_OtherUidCannotConnect()
    {
        if (ProcessIdentity.EffectiveUserId != 0)
        {
            return;
        }
        await using var daemon = await TestDaemon.StartAsync();

        var read = await CurlAsNobodyAsync(daemon.SocketPath, "http://ax/v1/refs");

        // curl exit 7: could not connect (EACCES on the socket file).
        Assert.Equal(7, read.ExitCode);
    }
}
