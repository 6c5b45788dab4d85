using System.CommandLine;
using Istio.AppSwitch.Dataplane.Api;

namespace Istio.AppSwitch.Cli.Run;

/// <summary><c>ax run [--name NAME] [--labels k=v,k=v] [--ip IP] [--api PATH] -- CMD [ARGS…]</c>.</summary>
public static class RunCommand
{
    /// <summary>Exit code for a command line that does not parse or holds an invalid value.</summary>
    public const int UsageError = 2;

    /// <summary>Builds the command; its action never returns when the program starts (the process becomes it).</summary>
    public static Command Create(TextWriter stderr) => Create(arguments => Execute(arguments, stderr));

    /// <summary>Builds the command with the action given (tests look at what System.CommandLine parsed).</summary>
    internal static Command Create(Func<RunArguments, int> execute)
    {
        var name = new Option<string?>("--name") { Description = "The application's name in the registry (default: the command's base name)." };
        var labels = new Option<string?>("--labels") { Description = "Labels of the application, as k=v[,k=v]: refs select services and clients by them." };
        var ip = new Option<string?>("--ip") { Description = "The address the application believes it has: its services are reachable at IP:port, and binds of IP are served." };
        var api = new Option<string?>("--api") { Description = "The daemon's API socket (default: $AX_API, else /run/ax/ax.sock for root, else $XDG_RUNTIME_DIR/ax/ax.sock)." };
        var command = new Argument<string[]>("command") { Arity = ArgumentArity.OneOrMore, Description = "The program and its arguments, after --." };

        var run = new Command("run", "Run a program under ax: its connect, bind, listen, getsockname and getpeername calls go through the daemon. Its exit code is the program's.")
        {
            name, labels, ip, api, command,
        };
        run.SetAction(result => execute(new RunArguments(
            result.GetValue(command)!, result.GetValue(name), result.GetValue(labels), result.GetValue(ip), result.GetValue(api))));
        return run;
    }

    /// <summary>
    /// Validates the arguments, then starts the program under ax (see <see cref="Launcher"/>): returns only when it
    /// did not start, with <see cref="UsageError"/> for invalid labels and the launcher's codes otherwise.
    /// </summary>
    public static int Execute(RunArguments arguments, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        ArgumentNullException.ThrowIfNull(stderr);
        if (!TryParseLabels(arguments.Labels, out var parsed, out var labelError))
        {
            stderr.WriteLine($"ax: invalid --labels: {labelError}");
            return UsageError;
        }
        string apiPath;
        try
        {
            apiPath = ApiSocketPath.Resolve(arguments.Api);
        }
        catch (InvalidOperationException ex)
        {
            stderr.WriteLine($"ax: {ex.Message}");
            return Launcher.DaemonUnavailable;
        }
        var plan = new LaunchPlan(arguments.Command, arguments.Name, parsed, arguments.Ip, apiPath);
        return Launcher.Run(plan, stderr);
    }

    /// <summary>Parses <c>k=v[,k=v]</c>. Syntax only: the daemon validates keys and values.</summary>
    internal static bool TryParseLabels(string? text, out Dictionary<string, string> labels, out string? error)
    {
        labels = new Dictionary<string, string>(StringComparer.Ordinal);
        error = null;
        if (string.IsNullOrEmpty(text))
        {
            return true;
        }
        foreach (var pair in text.Split(','))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                error = $"\"{pair}\" is not of the form key=value";
                return false;
            }
            var key = pair[..equals];
            if (!labels.TryAdd(key, pair[(equals + 1)..]))
            {
                error = $"label \"{key}\" is given twice";
                return false;
            }
        }
        return true;
    }
}
