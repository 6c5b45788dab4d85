using System.CommandLine;
using System.Runtime.InteropServices;
using Istio.AppSwitch.Cli;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.XdsAgent.Sinks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Istio.AppSwitch.Ax;

/// <summary>
/// <c>ax xds-agent --pilot HOST:PORT --node-id ID [...] [--api PATH]</c>: subscribes to istiod and programs a running
/// daemon through its REST API, in the foreground until SIGINT or SIGTERM.
/// </summary>
internal static class XdsAgentCommand
{
    public static Command Create()
    {
        var api = ApiCommands.CreateApiOption();
        var command = new Command(
            "xds-agent",
            "Subscribe to istiod over ADS as a sidecar would, translate its configuration, and program the ax daemon's mesh " +
            "rules (POST /v1/mesh). Runs in the foreground; logs go to stderr; SIGINT or SIGTERM stops it, and the daemon " +
            "keeps the rules it has.")
        {
            api,
        };
        var pilot = PilotCommandOptions.AddTo(command, pilotRequired: true);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var stderr = parse.InvocationConfiguration.Error;
            var options = pilot.Build(parse)!;
            string socket;
            try
            {
                socket = ApiSocketPath.Resolve(parse.GetValue(api));
            }
            catch (InvalidOperationException e)
            {
                await stderr.WriteLineAsync($"ax: {e.Message}").ConfigureAwait(false);
                return ApiCommands.Failure;
            }

            using var loggers = CreateLoggerFactory();
            using var sink = new ApiMeshSink(socket);
            await using var agent = new XdsAgent.XdsAgent(options, sink, loggers);
            using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
            using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
            agent.Start();
            try
            {
                await Task.Delay(Timeout.Infinite, stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            await agent.StopAsync().ConfigureAwait(false);
            return 0;

            void Stop(PosixSignalContext context)
            {
                // Stop cleanly rather than let the runtime end the process mid-push.
                context.Cancel = true;
                stopping.Cancel();
            }
        });
        return command;
    }

    /// <summary>Single-line logs on stderr with UTC timestamps, as the daemon writes them.</summary>
    internal static ILoggerFactory CreateLoggerFactory() => LoggerFactory.Create(logging =>
    {
        logging.SetMinimumLevel(LogLevel.Information);
        logging.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            console.UseUtcTimestamp = true;
        });
        logging.Services.Configure<ConsoleLoggerOptions>(
            console => console.LogToStandardErrorThreshold = LogLevel.Trace);
    });
}
