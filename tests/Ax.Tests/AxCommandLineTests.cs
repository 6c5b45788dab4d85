namespace Istio.AppSwitch.Ax.Tests;

public sealed class AxCommandLineTests
{
    private static (int ExitCode, string Stdout, string Stderr) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exitCode = AxCommandLine.Run(args, stdout, stderr);
        return (exitCode, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Run_Help_DescribesAxAndListsCommands()
    {
        var (exitCode, stdout, stderr) = Run("--help");

        Assert.Equal(0, exitCode);
        Assert.Empty(stderr);
        Assert.Contains("AppSwitch for Istio", stdout, StringComparison.Ordinal);
        Assert.Contains("Usage:", stdout, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^\s+version\s+Print the version", stdout);
    }

    [Fact]
    public void Run_Version_PrintsInformationalVersionAndRuntime()
    {
        var (exitCode, stdout, _) = Run("version");

        Assert.Equal(0, exitCode);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal($"ax {AxCommandLine.Version}", lines[0]);
        Assert.Matches(@"^\d+\.\d+\.\d+", AxCommandLine.Version);
        Assert.StartsWith($"runtime: .NET {Environment.Version}", lines[1], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "--bogus" }, "'--bogus'", "ax --help")]
    [InlineData(new[] { "version", "--frobnicate" }, "'--frobnicate'", "ax version --help")]
    [InlineData(new[] { "nosuchcommand" }, "'nosuchcommand'", "ax --help")]
    public void Run_UnknownFlagOrCommand_ExitsTwoWithPlainErrorOnStderr(string[] args, string named, string hint)
    {
        var (exitCode, stdout, stderr) = Run(args);

        Assert.Equal(AxCommandLine.UsageError, exitCode);
        Assert.Empty(stdout);
        Assert.Contains(named, stderr, StringComparison.Ordinal);
        Assert.Contains($"Run '{hint}' for usage.", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_NoArguments_PrintsHelpAndExitsWithUsageError()
    {
        var (exitCode, stdout, _) = Run();

        Assert.Equal(AxCommandLine.UsageError, exitCode);
        Assert.Contains("Usage:", stdout, StringComparison.Ordinal);
    }
}
