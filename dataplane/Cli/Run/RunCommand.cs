using System.CommandLine;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Dataplane.Delegation;
using Istio.AppSwitch.Dataplane.Interception;
using Istio.AppSwitch.Dataplane.Registry;

namespace Istio.AppSwitch.Cli.Run;

/// <summary><c>ax run [--name NAME] [--labels k=v,k=v] [--ip IP] [--netns PATH | --new-netns] [--ports HOST:APP,…] [--udp connect|sendto|msg] [--sidecar NAME] [--api PATH] -- CMD [ARGS…]</c>.</summary>
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
        var netns = new Option<string?>("--netns") { Description = "Run in the network namespace at PATH (e.g. /run/netns/NAME); ax still connects it to services, from the host's namespace." };
        var newNetns = new Option<bool>("--new-netns") { Description = "Run in a new network namespace that holds only lo; ax connects it to services from the host's namespace." };
        var ports = new Option<string[]>("--ports")
        {
            Description = "With --netns or --new-netns: HOST:APP[,HOST:APP], repeatable. A TCP bind of port APP is made in the host's namespace on port HOST.",
            AllowMultipleArgumentsPerToken = false,
        };
        var udp = new Option<string?>("--udp")
        {
            Description = "Which UDP calls ax traps: sendto (default: connect, and sendto/recvfrom with an address), connect (connect only: no datagram is trapped), or msg (also every sendmsg/recvmsg, for unconnected sockets that use them).",
            HelpName = "connect|sendto|msg",
        };
        var sidecar = new Option<string?>("--sidecar")
        {
            Description = "Launch the program as the delegation sidecar NAME (e.g. ax proxy): it may then register for socket delegation under that name from under ax. Only root and the daemon's uid, outside ax, may.",
            HelpName = "NAME",
        };
        var command = new Argument<string[]>("command") { Arity = ArgumentArity.OneOrMore, Description = "The program and its arguments, after --." };

        var run = new Command("run", "Run a program under ax: its connect, bind, listen, getsockname and getpeername calls go through the daemon. Its exit code is the program's.")
        {
            name, labels, ip, netns, newNetns, ports, udp, sidecar, api, command,
        };
        run.SetAction(result => execute(new RunArguments(
            result.GetValue(command)!, result.GetValue(name), result.GetValue(labels), result.GetValue(ip), result.GetValue(api),
            result.GetValue(netns), result.GetValue(newNetns), result.GetValue(ports), result.GetValue(udp), result.GetValue(sidecar))));
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
        if (!TryParseNamespace(arguments, out var network, out var networkError))
        {
            stderr.WriteLine($"ax: {networkError}");
            return UsageError;
        }
        if (!TryParseUdp(arguments.Udp, out var udp))
        {
            stderr.WriteLine($"ax: invalid --udp \"{arguments.Udp}\": expected connect, sendto or msg");
            return UsageError;
        }
        if (arguments.Sidecar is not null && !SidecarRoles.IsValidName(arguments.Sidecar))
        {
            stderr.WriteLine($"ax: invalid --sidecar \"{arguments.Sidecar}\": a sidecar name is {SidecarRoles.NameRule}");
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
        var plan = new LaunchPlan(arguments.Command, arguments.Name, parsed, arguments.Ip, apiPath, network, udp, arguments.Sidecar);
        return Launcher.Run(plan, stderr);
    }

    /// <summary>Parses <c>--udp</c>; none given is the default, <see cref="UdpInterception.SendTo"/>.</summary>
    internal static bool TryParseUdp(string? text, out UdpInterception udp)
    {
        udp = UdpInterception.SendTo;
        switch (text)
        {
            case null or "sendto":
                return true;
            case "connect":
                udp = UdpInterception.Connect;
                return true;
            case "msg":
                udp = UdpInterception.Message;
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// Checks <c>--netns</c>, <c>--new-netns</c> and <c>--ports</c> together: at most one namespace option, ports only
    /// with one, a path that exists. Whether the path is a network namespace, and whether ax may enter it, only
    /// setns(2) tells: the launcher reports that.
    /// </summary>
    internal static bool TryParseNamespace(RunArguments arguments, out NetworkPlan? plan, out string? error)
    {
        plan = null;
        error = null;
        if (arguments.Netns is not null && arguments.NewNetns)
        {
            error = "--netns and --new-netns cannot be given together";
            return false;
        }
        var portValues = arguments.Ports ?? [];
        if (arguments.Netns is null && !arguments.NewNetns)
        {
            if (portValues.Count > 0)
            {
                error = "--ports maps the ports of a network namespace: give --netns PATH or --new-netns with it";
                return false;
            }
            return true;
        }
        if (arguments.Netns is not null && (arguments.Netns.Length == 0 || !File.Exists(arguments.Netns)))
        {
            error = $"invalid --netns \"{arguments.Netns}\": no such file (a network namespace is a file such as /run/netns/NAME or /proc/PID/ns/net)";
            return false;
        }
        if (!PortMapping.TryParse(portValues, out var mappings, out var portError))
        {
            error = $"invalid --ports: {portError}";
            return false;
        }
        plan = new NetworkPlan(arguments.Netns, mappings);
        return true;
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
