namespace Istio.AppSwitch.Ax.Tests.Run;

/// <summary>
/// <c>ax run</c> through <see cref="AxCommandLine.Run"/>, on paths that end before any program starts: usage
/// errors, an unreachable daemon, a missing program. Each outcome is checked in a form the hand-written parser
/// takes and in one it leaves to System.CommandLine, so that the two cannot drift apart.
/// </summary>
public sealed class RunCommandLineTests
{
    private const string NoDaemon = "/nonexistent/ax.sock";

    private static (int ExitCode, string Stdout, string Stderr) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exitCode = AxCommandLine.Run(args, stdout, stderr);
        return (exitCode, stdout.ToString(), stderr.ToString());
    }

    [Theory]
    [InlineData("run")]
    [InlineData("run", "--")]
    [InlineData("run", "--name", "n")]
    [InlineData("run", "--api=/tmp/ax.sock", "--")]
    public void Run_NoCommand_ExitsTwoWithUsageHint(params string[] args)
    {
        var (exitCode, stdout, stderr) = Run(args);

        Assert.Equal(AxCommandLine.UsageError, exitCode);
        Assert.Empty(stdout);
        Assert.Contains("ax: Required argument missing for command: 'run'.", stderr, StringComparison.Ordinal);
        Assert.Contains("Run 'ax run --help' for usage.", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--name")]
    [InlineData("--labels")]
    [InlineData("--ip")]
    [InlineData("--api")]
    public void Run_OptionWithoutValue_ExitsTwoNamingIt(string option)
    {
        foreach (var args in new[] { new[] { "run", option, "--", "/bin/true" }, ["run", $"{option}=", "--", "/bin/true"], ["run", "/bin/true", option] })
        {
            var (exitCode, _, stderr) = Run(args);

            Assert.Equal(AxCommandLine.UsageError, exitCode);
            Assert.Contains($"ax: Required argument missing for option: '{option}'.", stderr, StringComparison.Ordinal);
            Assert.Contains("Run 'ax run --help' for usage.", stderr, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("run", "--name", "a", "--name", "b", "--", "/bin/true")]
    [InlineData("run", "--ip=127.0.0.1", "--ip:127.0.0.2", "--", "/bin/true")]
    public void Run_RepeatedOption_ExitsTwo(params string[] args)
    {
        var (exitCode, _, stderr) = Run(args);

        Assert.Equal(AxCommandLine.UsageError, exitCode);
        Assert.Contains("expects a single argument but 2 were provided", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("run", "--labels", "bad", "--", "/bin/true")] // the fast path
    [InlineData("run", "--labels=bad", "--", "/bin/true")]
    [InlineData("run", "--labels:bad", "/bin/true")]
    [InlineData("run", "--labels", "bad", "/bin/true", "-x")] // System.CommandLine
    public void Run_InvalidLabels_ExitsTwoWithoutContactingTheDaemon(params string[] args)
    {
        var (exitCode, stdout, stderr) = Run(args);

        Assert.Equal(AxCommandLine.UsageError, exitCode);
        Assert.Empty(stdout);
        Assert.Equal("ax: invalid --labels: \"bad\" is not of the form key=value" + Environment.NewLine, stderr);
    }

    [Theory]
    [InlineData("run", "--api", NoDaemon, "--", "/bin/true")] // the fast path, in each form
    [InlineData("run", "--api=" + NoDaemon, "--", "/bin/true")]
    [InlineData("run", "--api:" + NoDaemon, "/bin/true")]
    [InlineData("run", "--name", "n", "--labels", "a=b", "--ip", "127.96.0.1", "--api", NoDaemon, "--", "/bin/true")]
    [InlineData("run", "--api", NoDaemon, "/bin/true", "-x")] // System.CommandLine
    [InlineData("run", "/bin/true", "--api", NoDaemon)]
    public void Run_DaemonUnreachable_Exits125WithoutStarting(params string[] args)
    {
        var (exitCode, stdout, stderr) = Run(args);

        Assert.Equal(125, exitCode);
        Assert.Empty(stdout);
        Assert.Equal(
            $"ax: cannot reach the ax daemon at {NoDaemon}: No such file or directory (is 'ax daemon' running?); not starting /bin/true without interception" + Environment.NewLine,
            stderr);
    }

    [Theory]
    [InlineData("run", "--api", NoDaemon, "--", "ax-no-such-program")]
    [InlineData("run", "--api", NoDaemon, "ax-no-such-program", "-x")]
    public void Run_ProgramNotFound_Exits127(params string[] args)
    {
        var (exitCode, _, stderr) = Run(args);

        Assert.Equal(127, exitCode);
        Assert.Equal("ax: ax-no-such-program: command not found" + Environment.NewLine, stderr);
    }

    [Theory]
    [InlineData("run", "--api", NoDaemon, "--bogus", "--", "/bin/true")]
    [InlineData("run", "--bogus=1", "--", "/bin/true")]
    [InlineData("run", "--name", "n", "-x", "/bin/true")]
    public void Run_UnknownOptionBeforeTheCommand_UsageErrorAndNothingStarts(params string[] args)
    {
        // System.CommandLine would give the unknown word to the command argument and try to run it.
        var (exitCode, _, stderr) = Run(args);

        Assert.Equal(2, exitCode);
        Assert.StartsWith("ax: Unrecognized command or argument '-", stderr, StringComparison.Ordinal);
        Assert.Contains("Run 'ax run --help' for usage.", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("run", "--help")]
    [InlineData("run", "-h")]
    [InlineData("run", "/?")]
    [InlineData("run", "--name", "n", "-?")]
    public void Run_Help_PrintsRunUsage(params string[] args)
    {
        var (exitCode, stdout, stderr) = Run(args);

        Assert.Equal(0, exitCode);
        Assert.Empty(stderr);
        Assert.Contains(" run <command>... [options]", stdout, StringComparison.Ordinal);
        Assert.Contains("--labels <labels>", stdout, StringComparison.Ordinal);
    }
}
