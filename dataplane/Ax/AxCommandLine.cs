using System.CommandLine;
using System.Reflection;

namespace Istio.AppSwitch.Ax;

/// <summary>
/// The command tree of the <c>ax</c> executable. Every command is a thin front end: the daemon, the REST API
/// and the xDS agent live in libraries, so the same tree serves the published binary and the tests.
/// </summary>
internal static class AxCommandLine
{
    /// <summary>Exit code for a command line that does not parse (unknown flag, missing argument).</summary>
    public const int UsageError = 2;

    public static RootCommand Create(TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand(
            "ax: AppSwitch for Istio. Puts the control path of an application's socket API under the mesh's " +
            "policy and hands the application sockets connected straight to their destination, with no proxy " +
            "in the data path.");
        root.Subcommands.Add(CreateVersionCommand(stdout));
        foreach (var action in root.Options.Select(o => o.Action).OfType<System.CommandLine.Invocation.ParseErrorAction>())
        {
            action.ShowTypoCorrections = true;
        }
        return root;
    }

    private static Command CreateVersionCommand(TextWriter stdout)
    {
        var command = new Command("version", "Print the version of ax and of the runtime it carries.");
        command.SetAction(_ =>
        {
            stdout.WriteLine($"ax {Version}");
            stdout.WriteLine($"runtime: .NET {Environment.Version} ({System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier})");
            return 0;
        });
        return command;
    }

    /// <summary>The informational version stamped at build time (for example <c>0.1.0+abc1234</c>).</summary>
    public static string Version { get; } =
        typeof(AxCommandLine).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? "unknown";
}
