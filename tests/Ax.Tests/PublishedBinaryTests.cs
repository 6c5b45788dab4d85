using System.Diagnostics;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Ax.Tests;

/// <summary>
/// Publishes ax exactly as it ships (self-contained, single file, trimmed, ReadyToRun) and runs the result,
/// because trimming can break a binary that works when built normally.
/// </summary>
public sealed class PublishedBinaryTests
{
    [Fact]
    public async Task Publish_SingleFileTrimmedReadyToRun_AnswersHelpAndVersion()
    {
        var outputDir = Directory.CreateTempSubdirectory("ax-publish-").FullName;
        try
        {
            var publish = await ExternalProcess.RunAsync(
                "dotnet",
                ["publish", Path.Combine(RepositoryPaths.Root, "dataplane", "Ax", "Ax.csproj"), "-c", "Release", "-o", outputDir, "--nologo", "-v:q"],
                TimeSpan.FromMinutes(5));
            Assert.True(publish.ExitCode == 0, $"dotnet publish failed:\n{publish.Stdout}\n{publish.Stderr}");

            // One self-contained file (plus symbols), no runtime or assemblies beside it.
            var files = Directory.GetFiles(outputDir).Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal).ToArray();
            Assert.Equal(["ax", "ax.pdb"], files);

            var help = await ExternalProcess.RunAsync(Path.Combine(outputDir, "ax"), ["--help"], TimeSpan.FromSeconds(30));
            Assert.Equal(0, help.ExitCode);
            Assert.Contains("AppSwitch for Istio", help.Stdout, StringComparison.Ordinal);

            var version = await ExternalProcess.RunAsync(Path.Combine(outputDir, "ax"), ["version"], TimeSpan.FromSeconds(30));
            Assert.Equal(0, version.ExitCode);
            Assert.StartsWith("ax 0.", version.Stdout, StringComparison.Ordinal);
            Assert.Contains("(linux-x64)", version.Stdout, StringComparison.Ordinal);

            var bad = await ExternalProcess.RunAsync(Path.Combine(outputDir, "ax"), ["--bogus"], TimeSpan.FromSeconds(30));
            Assert.Equal(2, bad.ExitCode);

            await AssertRunsUnderItsOwnDaemon(Path.Combine(outputDir, "ax"), outputDir);
        }
        finally
        {
            Directory.Delete(outputDir, recursive: true);
        }
    }

    // `ax run`'s start-up path (hand-parsed arguments, hand-written launch messages, libc's environ) as trimmed.
    private static async Task AssertRunsUnderItsOwnDaemon(string ax, string directory)
    {
        var api = Path.Combine(directory, "ax.sock");
        var environment = new Dictionary<string, string> { ["AX_API"] = api };

        var usage = await ExternalProcess.RunAsync(ax, ["run"], TimeSpan.FromSeconds(30), environment: environment);
        Assert.Equal(2, usage.ExitCode);
        var unreachable = await ExternalProcess.RunAsync(ax, ["run", "--", "/bin/true"], TimeSpan.FromSeconds(30), environment: environment);
        Assert.Equal(125, unreachable.ExitCode);
        Assert.Contains("cannot reach the ax daemon", unreachable.Stderr, StringComparison.Ordinal);

        using var daemon = ExternalProcess.Start(ax, ["daemon", "--keeper-linger", "0s"], environment: environment);
        try
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (!File.Exists(api + ".launch"))
            {
                Assert.False(daemon.HasExited || DateTime.UtcNow > deadline, $"ax daemon did not start.\n{daemon.Stderr}");
                await Task.Delay(25);
            }

            var run = await ExternalProcess.RunAsync(
                ax, ["run", "--name", "published", "--labels=app=published", "--", "sh", "-c", "echo \"$AX_API\"; exit 7"], TimeSpan.FromSeconds(30), environment: environment);

            Assert.True(run.ExitCode == 7, run.ToString());
            Assert.Equal(api, run.Stdout.Trim());
        }
        finally
        {
            daemon.Signal();
            await daemon.WaitForExitAsync(TimeSpan.FromSeconds(10));
        }
    }
}
