namespace Istio.AppSwitch.Ax.Tests;

/// <summary><c>ax xds-agent</c> and <c>ax daemon --pilot</c>: every flag is checked before anything connects.</summary>
public sealed class XdsAgentCommandLineTests
{
    private const string NodeId = "sidecar~127.0.0.5~client-1.default~default.svc.cluster.local";

    private static (int ExitCode, string Stdout, string Stderr) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exitCode = AxCommandLine.Run(args, stdout, stderr);
        return (exitCode, stdout.ToString(), stderr.ToString());
    }

    [Theory]
    [InlineData("router~127.0.0.5~client-1.default~default.svc.cluster.local", "the type is 'router', not 'sidecar'")]
    [InlineData("sidecar~not-an-ip~client-1.default~default.svc.cluster.local", "'not-an-ip' is not an IP address")]
    [InlineData("sidecar~127.0.0.5~client-1~default.svc.cluster.local", "'client-1' is not POD.NAMESPACE")]
    [InlineData("sidecar~127.0.0.5", "must have four '~'-separated parts")]
    public void XdsAgent_BadNodeId_ExitsTwoSayingWhichPart(string nodeId, string message)
    {
        var (exitCode, stdout, stderr) = Run("xds-agent", "--pilot", "127.0.0.1:15010", "--node-id", nodeId);

        Assert.Equal(AxCommandLine.UsageError, exitCode);
        Assert.Empty(stdout);
        Assert.Contains($"ax: --node-id: node id '{nodeId}'", stderr, StringComparison.Ordinal);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
        Assert.Contains("Run 'ax xds-agent --help' for usage.", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "--bogus" }, "Unrecognized command or argument '--bogus'")]
    [InlineData(new[] { "--delta", "--sotw" }, "--delta and --sotw cannot be used together")]
    [InlineData(new[] { "--labels", "app" }, "\"app\" is not of the form key=value")]
    [InlineData(new[] { "--meta", "=x" }, "--meta '=x' must be KEY=VALUE")]
    [InlineData(new[] { "--ca", "/nonexistent/root-cert.pem" }, "--ca '/nonexistent/root-cert.pem': no such file")]
    public void XdsAgent_BadFlag_ExitsTwoWithTheProblem(string[] extra, string message)
    {
        var (exitCode, _, stderr) = Run(["xds-agent", "--pilot", "127.0.0.1:15010", "--node-id", NodeId, .. extra]);

        Assert.Equal(AxCommandLine.UsageError, exitCode);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void XdsAgent_NoPilot_ExitsTwo()
    {
        var (exitCode, _, stderr) = Run("xds-agent", "--node-id", NodeId);

        Assert.Equal(AxCommandLine.UsageError, exitCode);
        Assert.Contains("--pilot", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("istiod:0")]
    [InlineData("::1:15010")]
    [InlineData("istiod")]
    public void XdsAgent_BadPilotAddress_ExitsTwo(string pilot)
    {
        var (exitCode, _, stderr) = Run("xds-agent", "--pilot", pilot, "--node-id", NodeId);

        Assert.Equal(AxCommandLine.UsageError, exitCode);
        Assert.Contains($"--pilot '{pilot}'", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Daemon_AgentFlagWithoutPilot_ExitsTwo()
    {
        var (exitCode, _, stderr) = Run("daemon", "--node-id", NodeId, "--sotw");

        Assert.Equal(AxCommandLine.UsageError, exitCode);
        Assert.Contains("ax: --node-id, --sotw need --pilot HOST:PORT", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Help_ListsXdsAgent()
    {
        var (exitCode, stdout, _) = Run("--help");

        Assert.Equal(0, exitCode);
        Assert.Matches(@"(?m)^\s+xds-agent\s+Subscribe to istiod", stdout);
    }
}
