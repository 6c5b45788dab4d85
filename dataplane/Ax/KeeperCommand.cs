using System.CommandLine;
using Istio.AppSwitch.Dataplane.Continuity;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Interop;
using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Ax;

/// <summary>
/// <c>ax keeper --socket PATH</c>: the process that holds the applications' seccomp listeners while no daemon runs
/// (docs/interception.md). <c>ax daemon</c> starts it when none serves its socket; run it yourself (a unit or a
/// container of its own) to give it a life apart from the daemon's.
/// </summary>
internal static class KeeperCommand
{
    public static Command Create()
    {
        var socket = new Option<string>("--socket")
        {
            Description = "The keeper's Unix socket: the daemon's API socket path followed by '.keeper'.",
            HelpName = "PATH",
            Required = true,
        };
        var linger = new Option<string>("--linger")
        {
            Description = "How long to stay with no daemon connected and nothing to hold before exiting.",
            HelpName = "DURATION",
            DefaultValueFactory = _ => "10m",
        };
        var command = new Command("keeper",
            "Hold the applications' seccomp listeners, refs and mesh rules across daemon restarts. Started by 'ax daemon' " +
            "(--keeper auto); it never answers a trapped call itself.\n\nExample:\n  ax keeper --socket /run/ax/ax.sock.keeper")
        {
            socket,
            linger,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            var stderr = parse.InvocationConfiguration.Error;
            if (!DurationText.TryParse(parse.GetValue(linger), TimeSpan.FromDays(3650), out var lingerValue, out var problem))
            {
                stderr.WriteLine($"ax: invalid --linger \"{parse.GetValue(linger)}\": {problem}");
                return Task.FromResult(1);
            }
            // Its own session: a terminal's Ctrl-C or a kill of the daemon's process group is not for the keeper.
            CurrentProcess.CreateSession();
            using var loggers = LoggerFactory.Create(builder => builder.AddSimpleConsole(console =>
            {
                console.SingleLine = true;
                console.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
                console.UseUtcTimestamp = true;
            }));
            try
            {
                using var keeper = new Keeper(new KeeperOptions { SocketPath = Path.GetFullPath(parse.GetValue(socket)!), Linger = lingerValue },
                    loggers.CreateLogger("Istio.AppSwitch.Keeper"));
                keeper.Run(cancellationToken);
                return Task.FromResult(0);
            }
            catch (Exception ex) when (ex is InvalidOperationException or IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException)
            {
                stderr.WriteLine($"ax: {ex.Message}");
                return Task.FromResult(1);
            }
        });
        return command;
    }
}
