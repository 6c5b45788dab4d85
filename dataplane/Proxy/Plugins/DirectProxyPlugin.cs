using System.Net.Sockets;
using Istio.AppSwitch.Delegation;
using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Proxy.Plugins;

/// <summary>
/// <c>direct</c>, the fast path. Outbound: connects to the original destination itself and splices between it and
/// the socketpair end. Inbound: splices between the accepted TCP socket and the socketpair end. A destination that
/// cannot be reached drops the connection (the application sees end of stream).
/// </summary>
internal sealed partial class DirectProxyPlugin(TimeSpan connectTimeout, ILogger logger) : IProxyPlugin
{
    public string Name => "direct";

    public async ValueTask<PluginVerdict> InspectAsync(DelegatedConnection connection, CancellationToken cancellationToken)
    {
        if (connection.Direction == DelegationKind.Inbound)
        {
            await PumpAsync(connection, connection.AcceptedSocket!, connection.PeerEnd, cancellationToken).ConfigureAwait(false);
            return PluginVerdict.Handle;
        }
        if (connection.Destination is not { } destination)
        {
            Log.NoDestination(logger, connection);
            return PluginVerdict.Drop;
        }
        Interop.SafeFd upstream;
        try
        {
            upstream = await PluginConnections.ConnectTcpAsync(destination, connectTimeout, connection.Reactor, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            Log.ConnectFailed(logger, connection, e.SocketErrorCode);
            return PluginVerdict.Drop;
        }
        using (upstream)
        {
            await PumpAsync(connection, connection.PeerEnd, upstream, cancellationToken).ConfigureAwait(false);
        }
        return PluginVerdict.Handle;
    }

    private async Task PumpAsync(DelegatedConnection connection, Interop.SafeFd first, Interop.SafeFd second, CancellationToken cancellationToken)
    {
        try
        {
            var (forward, backward) = await BytePump.RunAsync(first, second, connection.Reactor, cancellationToken).ConfigureAwait(false);
            Log.Finished(logger, connection, forward, backward);
        }
        catch (SocketException e)
        {
            Log.PumpFailed(logger, connection, e.SocketErrorCode);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 7101, Level = LogLevel.Warning, Message = "direct: {Connection}: the metadata has no IP destination; dropped")]
        public static partial void NoDestination(ILogger logger, DelegatedConnection connection);

        [LoggerMessage(EventId = 7102, Level = LogLevel.Information, Message = "direct: {Connection}: connect failed ({Error}); dropped")]
        public static partial void ConnectFailed(ILogger logger, DelegatedConnection connection, SocketError error);

        [LoggerMessage(EventId = 7103, Level = LogLevel.Debug, Message = "direct: {Connection}: done, {Forward} bytes out and {Backward} back")]
        public static partial void Finished(ILogger logger, DelegatedConnection connection, long forward, long backward);

        [LoggerMessage(EventId = 7104, Level = LogLevel.Debug, Message = "direct: {Connection}: ended with {Error}")]
        public static partial void PumpFailed(ILogger logger, DelegatedConnection connection, SocketError error);
    }
}
