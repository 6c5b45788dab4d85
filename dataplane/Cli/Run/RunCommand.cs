using System.CommandLine;
using Istio.AppSwitch.Dataplane.Api;

namespace Istio.AppSwitch.Cli.Run;

/// <summary><c>ax run [--name NAME] [--labels k=v,k=v] [--ip IP] [--api PATH] -- CMD [ARGS…]</c>.</summary>
public static class RunCommand
{
    /// <summary>Builds the command; its action never returns when the program starts (the process becomes it).</summary>
    public static Command Create(TextWriter stderr)
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
        run.SetAction(result =>
        {
            if (!TryParseLabels(result.GetValue(labels), out var parsed, out var labelError))
            {
                stderr.WriteLine($"ax: invalid --labels: {labelError}");
                return 2;
            }
            string apiPath;
            try
            {
                apiPath = ApiSocketPath.Resolve(result.GetValue(api));
            }
            catch (InvalidOperationException ex)
            {
                stderr.WriteLine($"ax: {ex.Message}");
                return Launcher.DaemonUnavailable;
            }
            var plan = new LaunchPlan(result.GetValue(command)!, result.GetValue(name), parsed, result.GetValue(ip), apiPath);
            return Launcher.Run(plan, stderr);
        });
        return run;
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
