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
        }
        finally
        {
            Directory.Delete(outputDir, recursive: true);
        }
    }
}
