using System.Net;
using System.Net.Sockets;
using Istio.AppSwitch.Delegation;
using Istio.AppSwitch.Interop;
using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Proxy.Plugins;

/// <summary>
/// <c>forward-proxy</c>: connects over TCP to the next proxy (Envoy, HAProxy), writes the connection's PROXY v2
/// header as the daemon sent it (same source, destination and TLVs), then splices between that connection and the
/// socketpair end (outbound) or the accepted TCP socket (inbound; the next proxy then reaches the application on its
/// own, and the socketpair end is closed). A proxy that cannot be reached drops the connection.
/// </summary>
internal sealed partial class ForwardProxyPlugin(IPEndPoint address, TimeSpan connectTimeout, ILogger logger) : IProxyPlugin
{
    public string Name => "forward-proxy";

    public async ValueTask<PluginVerdict> InspectAsync(DelegatedConnection connection, CancellationToken cancellationToken)
    {
        SafeFd upstream;
        try
        {
            upstream = await PluginConnections.ConnectTcpAsync(address, connectTimeout, connection.Reactor, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            Log.ConnectFailed(logger, connection, address, e.SocketErrorCode);
            return PluginVerdict.Drop;
        }
        using (upstream)
        {
            try
            {
                await AsyncSocket.SendAllAsync(upstream, connection.Metadata, connection.Reactor, cancellationToken).ConfigureAwait(false);
                var client = connection.Direction == DelegationKind.Inbound ? connection.AcceptedSocket! : connection.PeerEnd;
                if (connection.Direction == DelegationKind.Inbound)
                {
                    connection.PeerEnd.Dispose();
                }
                var (forward, backward) = await BytePump.RunAsync(client, upstream, connection.Reactor, cancellationToken).ConfigureAwait(false);
                Log.Finished(logger, connection, address, forward, backward);
            }
            catch (SocketException e)
            {
                Log.PumpFailed(logger, connection, address, e.SocketErrorCode);
            }
        }
        return PluginVerdict.Handle;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 7201, Level = LogLevel.Warning, Message = "forward-proxy: {Connection}: connect to {Address} failed ({Error}); dropped")]
        public static partial void ConnectFailed(ILogger logger, DelegatedConnection connection, IPEndPoint address, SocketError error);

        [LoggerMessage(EventId = 7202, Level = LogLevel.Debug, Message = "forward-proxy: {Connection} via {Address}: done, {Forward} bytes out and {Backward} back")]
        public static partial void Finished(ILogger logger, DelegatedConnection connection, IPEndPoint address, long forward, long backward);

        [LoggerMessage(EventId = 7203, Level = LogLevel.Debug, Message = "forward-proxy: {Connection} via {Address}: ended with {Error}")]
        public static partial void PumpFailed(ILogger logger, DelegatedConnection connection, IPEndPoint address, SocketError error);
    }
}
