using System.CommandLine;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Istio.AppSwitch.Cli;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Delegation;
using Istio.AppSwitch.Interop;
using Istio.AppSwitch.Proxy;
using Istio.AppSwitch.Proxy.Configuration;
using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Ax;

/// <summary>
/// <c>ax proxy --config FILE [--api PATH] [--name N] [--directions outbound,inbound] [--listen PATH]</c>: the built-in
/// proxy chain (docs/proxy-chain.md). Registers with the daemon for socket delegation and runs every delegated
/// connection through the configured plugins, in the foreground until SIGINT or SIGTERM.
/// </summary>
internal static class ProxyCommand
{
    /// <summary>Exit code for a configuration that does not validate.</summary>
    public const int BadConfiguration = 2;

    public static Command Create()
    {
        var api = ApiCommands.CreateApiOption();
        var config = new Option<string>("--config") { Description = "The JSON configuration: the plugin chain.", HelpName = "FILE", Required = true };
        var name = new Option<string>("--name") { Description = "The name to register with (default: ax-proxy).", DefaultValueFactory = _ => "ax-proxy" };
        var directions = new Option<string>("--directions")
        {
            Description = "The directions to take: outbound, inbound or outbound,inbound (the default).",
            DefaultValueFactory = _ => "outbound,inbound",
        };
        var listen = new Option<string>("--listen")
        {
            Description = "Also take connections from other ax proxies' forward-delegation on this Unix socket. Without --api, only this.",
            HelpName = "PATH",
        };
        var command = new Command(
            "proxy",
            "Run the built-in proxy chain: register with the ax daemon for socket delegation and pass each delegated connection " +
            "through the configured plugins (drop, direct, forward-proxy, forward-delegation). Exit code 2 for a bad configuration.")
        {
            api, config, name, directions, listen,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var stderr = parse.InvocationConfiguration.Error;
            ProxyConfig proxyConfig;
            try
            {
                proxyConfig = ProxyConfigReader.ReadFile(parse.GetValue(config)!);
            }
            catch (ProxyConfigException e)
            {
                foreach (var error in e.Errors)
                {
                    await stderr.WriteLineAsync($"ax proxy: {error}").ConfigureAwait(false);
                }
                return BadConfiguration;
            }
            if (!DelegationNames.TryParseDirections(parse.GetValue(directions), out var wanted))
            {
                await stderr.WriteLineAsync("ax proxy: --directions: outbound, inbound or outbound,inbound").ConfigureAwait(false);
                return BadConfiguration;
            }
            var listenPath = parse.GetValue(listen);
            string? socket = null;
            if (listenPath is null || parse.GetValue(api) is not null)
            {
                try
                {
                    socket = ApiSocketPath.Resolve(parse.GetValue(api));
                }
                catch (InvalidOperationException e)
                {
                    await stderr.WriteLineAsync($"ax proxy: {e.Message}").ConfigureAwait(false);
                    return ApiCommands.Failure;
                }
            }

            using var loggers = XdsAgentCommand.CreateLoggerFactory();
            var logger = loggers.CreateLogger("Istio.AppSwitch.Proxy");
            using var reactor = new EpollReactor("ax-proxy");
            using var chain = ProxyChain.Create(proxyConfig, logger);
            var proxy = new DelegationProxy(chain, reactor, logger);
            using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
            using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);

            var tasks = new List<Task<int>>();
            DelegationListener? listener = null;
            try
            {
                if (listenPath is not null)
                {
                    listener = DelegationListener.Bind(listenPath);
                    tasks.Add(ListenAsync(listener, proxy, reactor, logger, stopping.Token));
                }
                if (socket is not null)
                {
                    DelegationReader reader;
                    try
                    {
                        reader = await DelegationClient.RegisterAsync(socket, parse.GetValue(name)!, wanted, reactor, stopping.Token).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is DelegationRegistrationException or SocketException)
                    {
                        await stderr.WriteLineAsync($"ax proxy: {e.Message}").ConfigureAwait(false);
                        return ApiCommands.Failure;
                    }
                    await stderr.WriteLineAsync($"ax proxy: registered with {socket} as \"{parse.GetValue(name)}\" for {wanted.ToQuery()}").ConfigureAwait(false);
                    tasks.Add(ServeDaemonAsync(reader, proxy, stderr, stopping.Token));
                }
                else
                {
                    await stderr.WriteLineAsync($"ax proxy: listening on {listenPath}").ConfigureAwait(false);
                }
                // The first to end decides: the daemon closing the connection (1), or a signal (0).
                var first = await Task.WhenAny(tasks).ConfigureAwait(false);
                await stopping.CancelAsync().ConfigureAwait(false);
                return await first.ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                await stderr.WriteLineAsync($"ax proxy: --listen {listenPath}: {e.Message}").ConfigureAwait(false);
                return ApiCommands.Failure;
            }
            finally
            {
                listener?.Dispose();
            }

            void Stop(PosixSignalContext context)
            {
                context.Cancel = true;
                stopping.Cancel();
            }
        });
        return command;
    }

    private static async Task<int> ServeDaemonAsync(DelegationReader reader, DelegationProxy proxy, TextWriter stderr, CancellationToken cancellationToken)
    {
        using (reader)
        {
            try
            {
                await proxy.RunAsync(reader, cancellationToken).ConfigureAwait(false);
                await stderr.WriteLineAsync("ax proxy: the daemon closed the delegation connection").ConfigureAwait(false);
                return ApiCommands.Failure;
            }
            catch (OperationCanceledException)
            {
                return 0;
            }
            catch (Exception e) when (e is DelegationProtocolException or SocketException)
            {
                await stderr.WriteLineAsync($"ax proxy: the delegation connection failed: {e.Message}").ConfigureAwait(false);
                return ApiCommands.Failure;
            }
        }
    }

    private static async Task<int> ListenAsync(DelegationListener listener, DelegationProxy proxy, EpollReactor reactor, ILogger logger,
        CancellationToken cancellationToken)
    {
        try
        {
            await listener.RunAsync(proxy, reactor, logger, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        return 0;
    }
}
