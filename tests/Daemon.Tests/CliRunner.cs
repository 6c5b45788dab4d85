using System.CommandLine;
using Istio.AppSwitch.Cli;

namespace Istio.AppSwitch.Daemon.Tests;

/// <summary>
/// Runs the real CLI commands in process with captured stdout and stderr, as <c>ax</c> does (a parse error is
/// exit code 2, as in <c>AxCommandLine.Run</c>).
/// </summary>
internal static class CliRunner
{
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        var root = new RootCommand("ax (test)");
        root.Subcommands.Add(ApiCommands.CreateGetCommand());
        root.Subcommands.Add(ApiCommands.CreateCreateCommand());
        root.Subcommands.Add(ApiCommands.CreateDeleteCommand());
        root.Subcommands.Add(ObservabilityCommands.CreateDescribeCommand());
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var result = root.Parse(args);
        if (result.Errors.Count > 0)
        {
            foreach (var error in result.Errors)
            {
                await stderr.WriteLineAsync($"ax: {error.Message}");
            }
            return (2, stdout.ToString(), stderr.ToString());
        }
        var exitCode = await result.InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr });
        return (exitCode, stdout.ToString(), stderr.ToString());
    }
}
