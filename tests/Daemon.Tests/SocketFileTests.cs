using System.Net.Sockets;

namespace Istio.AppSwitch.Daemon.Tests;

/// <summary>The API socket file: its mode, its directory, stale and live sockets, removal at stop.</summary>
public sealed class SocketFileTests
{
    [Fact]
    public async Task Start_DefaultMode_Socket0660()
    {
        await using var daemon = await TestDaemon.StartAsync();

        Assert.Equal((UnixFileMode)0b110_110_000, File.GetUnixFileMode(daemon.SocketPath));
    }

    [Fact]
    public async Task Start_MissingDirectory_Created0755()
    {
        var parent = Directory.CreateTempSubdirectory("axd-").FullName;
        var socketPath = Path.Combine(parent, "run", "ax.sock");
        try
        {
            await using var daemon = await TestDaemon.StartAsync(socketPath: socketPath);

            Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(Path.Combine(parent, "run")));
            Assert.True(File.Exists(socketPath));
        }
        finally
        {
            Directory.Delete(parent, recursive: true);
        }
    }

    [Fact]
    public async Task Stop_Daemon_SocketFileRemoved()
    {
        var daemon = await TestDaemon.StartAsync();
        var path = daemon.SocketPath;
        Assert.True(File.Exists(path));

        await daemon.Host.StopAsync();

        Assert.False(File.Exists(path));
        await daemon.DisposeAsync();
    }

    [Fact]
    public async Task Start_StaleSocket_Replaced()
    {
        var path = TestDaemon.NewSocketPath();
        // A socket file whose listener is gone: what a daemon killed with SIGKILL leaves behind. .NET unlinks the
        // path a socket bound when it is disposed, so the file is moved away from that path first.
        using (var dead = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            dead.Bind(new UnixDomainSocketEndPoint(path + ".tmp"));
            dead.Listen();
            File.Move(path + ".tmp", path);
        }
        Assert.True(File.Exists(path));

        await using var daemon = await TestDaemon.StartAsync(socketPath: path);

        var (exitCode, _, _) = await CliRunner.RunAsync("get", "refs", "--api", path);
        Assert.Equal(0, exitCode);
    }

    [Fact]
    public async Task Start_LiveDaemonOnSocket_RefusesWithClearError()
    {
        await using var first = await TestDaemon.StartAsync();

        var e = await Assert.ThrowsAsync<DaemonStartupException>(() => TestDaemon.StartAsync(socketPath: first.SocketPath));

        Assert.Equal($"another ax daemon is already listening on {first.SocketPath}; stop it first, or pass --api PATH", e.Message);
        var (exitCode, _, _) = await CliRunner.RunAsync("get", "refs", "--api", first.SocketPath);
        Assert.Equal(0, exitCode);
    }

    [Fact]
    public async Task Start_FileWithContentAtPath_Refuses()
    {
        var path = TestDaemon.NewSocketPath();
        await File.WriteAllTextAsync(path, "precious");

        var e = await Assert.ThrowsAsync<DaemonStartupException>(() => TestDaemon.StartAsync(socketPath: path));

        Assert.Contains("is not a socket", e.Message, StringComparison.Ordinal);
        Assert.Equal("precious", await File.ReadAllTextAsync(path));
        Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
    }
}
