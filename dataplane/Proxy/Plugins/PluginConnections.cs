using System.Net;
using System.Net.Sockets;
using Istio.AppSwitch.Delegation;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Proxy.Plugins;

/// <summary>What the plugins that open TCP connections share.</summary>
internal static class PluginConnections
{
    /// <summary>Connects to <paramref name="endpoint"/> over TCP, nonblocking, within <paramref name="timeout"/>.</summary>
    /// <exception cref="SocketException">Refused, unreachable, or timed out (<see cref="SocketError.TimedOut"/>).</exception>
    public static async Task<SafeFd> ConnectTcpAsync(IPEndPoint endpoint, TimeSpan timeout, EpollReactor reactor, CancellationToken cancellationToken)
    {
        var target = InetEndpoint.FromIPEndPoint(endpoint);
        var sockaddr = new byte[target.SockaddrLength];
        target.Write(sockaddr);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            var socket = await AsyncSocket.ConnectAsync(target.Family, sockaddr, reactor, deadline.Token).ConfigureAwait(false);
            // Interactive protocols (redis, memcached) would otherwise wait on Nagle for their small replies.
            Sockets.SetIntOption(socket, SocketConstants.IPPROTO_TCP, SocketConstants.TCP_NODELAY, 1);
            return socket;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new SocketException((int)SocketError.TimedOut);
        }
    }
}
