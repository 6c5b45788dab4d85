using System.CommandLine;
using System.Reflection;
using System.Runtime.InteropServices;
using Istio.AppSwitch.Cli;
using Istio.AppSwitch.Cli.Inject;
using Istio.AppSwitch.Cli.Run;
using Istio.AppSwitch.Cli.Translate;
using Istio.AppSwitch.Daemon;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Dataplane.Continuity;
using Istio.AppSwitch.Dataplane.Interception;
using Istio.AppSwitch.Dataplane.Mesh;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.XdsAgent;
using Istio.AppSwitch.XdsAgent.Sinks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Ax;

/// <summary>
/// The command tree of the <c>ax</c> executable. Every command is a thin front end: the daemon, the REST API
/// and the xDS agent live in libraries, so the same tree serves the published binary and the tests.
/// </summary>
internal static class AxCommandLine
{
    /// <summary>Exit code for a command line that does not parse (unknown flag, missing argument), as in BSD sysexits' usage convention.</summary>
    public const int UsageError = 2;

    /// <summary>The informational version stamped at build time (for example <c>0.1.0+abc1234</c>).</summary>
    public static string Version { get; } =
        typeof(AxCommandLine).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? "unknown";

    /// <summary>The process's entry point: <see cref="Run"/> on the console.</summary>
    public static int RunOnConsole(string[] args)
    {
        // `ax run` is on every application's start-up path. In its plain forms it is parsed by hand and the
        // console is not opened unless there is an error to report (see RunArguments.TryParse).
        if (RunArguments.TryParse(args) is { } run)
        {
            return ExecuteRun(run, new DeferredWriter(static () => Console.Error));
        }
        return Run(args, Console.Out, Console.Error);
    }

    /// <summary>Parses and runs one command line; returns the process exit code.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (RunArguments.TryParse(args) is { } run)
        {
            return ExecuteRun(run, stderr);
        }

        // For `ax run` in forms the fast path leaves alone (help, errors), build only its command, so that the
        // daemon's and the API client's assemblies (ASP.NET Core among them) are never loaded for it.
        var root = args.Length > 0 && args[0] == "run" ? CreateForRun(stderr) : Create(stdout, stderr);
        var result = root.Parse(args);
        var configuration = new InvocationConfiguration { Output = stdout, Error = stderr };

        if (result.Errors.Count == 0)
        {
            if (args.Length > 0 && args[0] == "run" && RunArguments.FindUnknownOption(args) is { } unknown)
            {
                stderr.WriteLine($"ax: Unrecognized command or argument '{unknown}'.");
                stderr.WriteLine("Run 'ax run --help' for usage.");
                return UsageError;
            }
            return result.Invoke(configuration);
        }

        // A bare `ax` is a request for help, not a mistake; anything else that does not parse is a usage error,
        // reported plainly and with exit code 2 so that scripts can tell it from a failed command.
        if (args.Length == 0)
        {
            root.Parse("--help").Invoke(configuration);
            return UsageError;
        }
        foreach (var error in result.Errors)
        {
            stderr.WriteLine($"ax: {error.Message}");
        }
        stderr.WriteLine($"Run '{string.Join(' ', CommandPath(result.CommandResult.Command))} --help' for usage.");
        return UsageError;
    }

    private const string Description =
        "ax: AppSwitch for Istio. Puts the control path of an application's socket API under the mesh's " +
        "policy and hands the application sockets connected straight to their destination, with no proxy " +
        "in the data path.";

    private static RootCommand CreateForRun(TextWriter stderr)
    {
        var root = new RootCommand(Description);
        root.Subcommands.Add(RunCommand.Create(stderr));
        return root;
    }

    internal static RootCommand Create(TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand(Description);
        root.Subcommands.Add(CreateVersionCommand(stdout));
        root.Subcommands.Add(CreateDaemonCommand());
        root.Subcommands.Add(ApiCommands.CreateGetCommand());
        root.Subcommands.Add(ApiCommands.CreateCreateCommand());
        root.Subcommands.Add(ApiCommands.CreateDeleteCommand());
        root.Subcommands.Add(RunCommand.Create(stderr));
        root.Subcommands.Add(TranslateCommand.Create());
        root.Subcommands.Add(XdsAgentCommand.Create());
        root.Subcommands.Add(ProxyCommand.Create());
        root.Subcommands.Add(InjectCommand.Create(static () => Console.In));
        root.Subcommands.Add(ObservabilityCommands.CreateDescribeCommand());
        root.Subcommands.Add(ObservabilityCommands.CreateEventsCommand());
        root.Subcommands.Add(CompletionCommand.Create());
        root.Subcommands.Add(KeeperCommand.Create());
        return root;
    }

    private static Command CreateVersionCommand(TextWriter stdout)
    {
        var command = new Command("version", "Print the version of ax and of the runtime it carries.");
        command.SetAction(_ =>
        {
            stdout.WriteLine($"ax {Version}");
            stdout.WriteLine($"runtime: .NET {Environment.Version} ({RuntimeInformation.RuntimeIdentifier})");
            return 0;
        });
        return command;
    }

    private static Command CreateDaemonCommand()
    {
        var api = ApiCommands.CreateApiOption();
        var command = new Command(
            "daemon",
            "Run the ax daemon in the foreground: the registry, the service references and the REST API on a Unix " +
            "socket. With --pilot, it also runs the xds-agent in-process and follows istiod's configuration. Logs go to " +
            "stderr; SIGINT or SIGTERM stops it and removes the socket.")
        {
            api,
        };
        var pilot = PilotCommandOptions.AddTo(command, pilotRequired: false);
        var chain = ChainCommandOptions.AddTo(command);
        var receive = new Option<string>("--seccomp-receive")
        {
            Description = "How the daemon waits for trapped calls: 'per-app' (default), a thread per application in the " +
                "kernel's synchronous hand-off mode, the lowest latency; or 'reactor', one epoll thread for every " +
                "application, no thread per application.",
            HelpName = "per-app|reactor",
            DefaultValueFactory = _ => "per-app",
        };
        receive.AcceptOnlyFromAmong("per-app", "reactor");
        command.Options.Add(receive);
        var noUnix = new Option<bool>("--no-unix")
        {
            Description = "Never switch a connection between two applications under this daemon to a Unix socket pair; keep it on loopback TCP (docs/unix-switch.md).",
        };
        command.Options.Add(noUnix);
        var metrics = new Option<string?>("--metrics")
        {
            Description = "Serve Prometheus metrics (text format 0.0.4) at /metrics on this address: IP:PORT, [IPv6]:PORT, :PORT, " +
                "localhost:PORT or unix:PATH, e.g. 127.0.0.1:9464 (docs/metrics.md). Off by default.",
            HelpName = "ADDR",
        };
        command.Options.Add(metrics);
        var keeper = new Option<string>("--keeper")
        {
            Description = "'auto' (default): hand the applications' seccomp listeners, refs and mesh rules to an 'ax keeper' " +
                "process (started if none serves API.keeper), so that a restarted daemon takes the applications over and no " +
                "trapped call fails meanwhile; 'off': a stopped daemon leaves its applications' trapped calls failing with " +
                "ENOSYS (docs/interception.md).",
            HelpName = "auto|off",
            DefaultValueFactory = _ => "auto",
        };
        keeper.AcceptOnlyFromAmong("auto", "off");
        command.Options.Add(keeper);
        var keeperLinger = new Option<string>("--keeper-linger")
        {
            Description = "How long a keeper this daemon starts stays with no daemon connected and no application to hold (it keeps the refs for a restart meanwhile).",
            HelpName = "DURATION",
            DefaultValueFactory = _ => "10m",
        };
        command.Options.Add(keeperLinger);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var stderr = parse.InvocationConfiguration.Error;
            if (!OperatingSystem.IsLinux())
            {
                await stderr.WriteLineAsync("ax: the ax daemon runs on Linux only").ConfigureAwait(false);
                return ApiCommands.Failure;
            }
            if (!DurationText.TryParse(parse.GetValue(keeperLinger), TimeSpan.FromDays(3650), out var linger, out var lingerProblem))
            {
                await stderr.WriteLineAsync($"ax: invalid --keeper-linger \"{parse.GetValue(keeperLinger)}\": {lingerProblem}").ConfigureAwait(false);
                return ApiCommands.Failure;
            }
            var keeping = parse.GetValue(keeper) == "auto" ? new KeeperSettings(Environment.ProcessPath, linger) : null;
            try
            {
                var options = new DaemonOptions
                {
                    ApiSocketPath = ApiSocketPath.Resolve(parse.GetValue(api)),
                    Metrics = parse.GetValue(metrics) is { } address ? MetricsAddress.Parse(address) : null,
                };
                var agent = pilot.Build(parse);
                var chaining = chain.Build(parse);
                var receiving = parse.GetValue(receive) == "reactor" ? NotificationReceiving.Reactor : NotificationReceiving.ThreadPerApp;
                var unixSwitch = !parse.GetValue(noUnix);
                await DaemonHost.RunAsync(options, services => ConfigureDaemonServices(services, agent, chaining, receiving, unixSwitch, keeping), cancellationToken).ConfigureAwait(false);
                return 0;
            }
            catch (Exception e) when (e is DaemonStartupException or InvalidOperationException or FormatException or IOException)
            {
                await stderr.WriteLineAsync($"ax: {e.Message}").ConfigureAwait(false);
                return ApiCommands.Failure;
            }
        });
        return command;
    }

    /// <summary>How the daemon finds or starts its keeper: the ax binary to run <c>ax keeper</c> with, and its linger.</summary>
    private sealed record KeeperSettings(string? AxPath, TimeSpan Linger);

    /// <summary>
    /// Adds the daemon's parts that live outside the Daemon project: the interception, and with <c>--pilot</c> the
    /// xds-agent programming the daemon's own <see cref="MeshStore"/>, both as hosted services.
    /// </summary>
    private static void ConfigureDaemonServices(IServiceCollection services, XdsAgentOptions? agent, ChainOptions chain,
        NotificationReceiving receiving, bool unixSwitch, KeeperSettings? keeping)
    {
        if (keeping is not null)
        {
            // Opened when the interception is built, before anything serves: the previous daemon's state comes first.
            services.AddSingleton(provider =>
            {
                var path = KeeperProtocol.KeeperSocketPath(provider.GetRequiredService<DaemonOptions>().ApiSocketPath);
                var logger = provider.GetRequiredService<ILoggerFactory>().CreateLogger("Istio.AppSwitch.Keeper");
                var (client, kept) = KeeperClient.Open(path, keeping.AxPath, keeping.Linger, logger);
                var config = ConfigKeeper.Start(client, kept, provider.GetRequiredService<RefStore>(), provider.GetRequiredService<MeshStore>(), logger);
                return new KeeperSession(client, kept, config);
            });
        }
        if (agent is not null)
        {
            services.AddSingleton(provider =>
            {
                var telemetry = provider.GetRequiredService<Dataplane.Observability.DataplaneTelemetry>();
                var xds = new XdsAgent.XdsAgent(
                    agent, new ObservedMeshSink(provider.GetRequiredService<MeshStore>(), telemetry), provider.GetRequiredService<ILoggerFactory>());
                XdsMetricsSource.PublishOutcomes(xds, telemetry);
                return new XdsAgentHostedService(xds);
            });
            services.AddHostedService(provider => provider.GetRequiredService<XdsAgentHostedService>());
            services.AddSingleton<Dataplane.Observability.IMetricsSource>(provider =>
                new XdsMetricsSource(provider.GetRequiredService<XdsAgentHostedService>().Agent));
        }

        services.AddSingleton(provider => new InterceptionOptions
        {
            LaunchSocketPath = LaunchProtocol.LaunchSocketPath(provider.GetRequiredService<DaemonOptions>().ApiSocketPath),
            LaunchSocketMode = provider.GetRequiredService<DaemonOptions>().SocketMode,
            Chain = chain,
            Receiving = receiving,
            UnixSwitch = unixSwitch,
            ApiSocketPaths = [provider.GetRequiredService<DaemonOptions>().ApiSocketPath],
            Keeper = provider.GetService<KeeperSession>()?.Client,
            Kept = provider.GetService<KeeperSession>()?.Kept ?? [],
        });
        services.AddSingleton<InterceptionService>();
        services.AddSingleton(provider => provider.GetRequiredService<InterceptionService>().ApiClients);
        services.AddHostedService(provider => provider.GetRequiredService<InterceptionService>());
    }

    // What System.CommandLine's default exception handler does for an action that throws, so that `ax run`
    // fails the same way whichever parser read its command line.
    private static int ExecuteRun(RunArguments run, TextWriter stderr)
    {
        try
        {
            return RunCommand.Execute(run, stderr);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            stderr.Write("Unhandled exception: ");
            stderr.WriteLine(ex.ToString());
            return 1;
        }
    }

    private static IEnumerable<string> CommandPath(Command command)
    {
        var names = new Stack<string>();
        for (Symbol? symbol = command; symbol is Command c; symbol = c.Parents.FirstOrDefault())
        {
            names.Push(c is RootCommand ? "ax" : c.Name);
        }
        return names;
    }
}
