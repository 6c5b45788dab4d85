using System.Net.Sockets;
using Istio.AppSwitch.Delegation;
using Istio.AppSwitch.Interop;
using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Proxy.Plugins;

/// <summary>
/// <c>forward-delegation</c>: passes the connection on, fds and metadata unchanged, to another ax-aware proxy that
/// listens on a Unix socket, in the daemon's frame format (docs/delegation.md) without the HTTP registration. One
/// connection to it is kept and shared (sends are serialised); it is reopened once when it breaks. A full socket is
/// waited on for up to <see cref="SendTimeout"/>, since here, unlike in the daemon, nobody is trapped meanwhile.
/// </summary>
internal sealed partial class ForwardDelegationProxyPlugin(string path, ILogger logger) : IProxyPlugin, IDisposable
{
    /// <summary>How long a frame may wait for room in the socket.</summary>
    public static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private SafeFd? _socket;
    private DelegationChannel? _channel;

    public string Name => "forward-delegation";

    public async ValueTask<PluginVerdict> InspectAsync(DelegatedConnection connection, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            for (var attempt = 0; attempt < 2; attempt++)
            {
                if (_channel is null || _channel.IsBroken)
                {
                    Close();
                    try
                    {
                        _socket = await AsyncSocket.ConnectUnixAsync(path, connection.Reactor, cancellationToken).ConfigureAwait(false);
                    }
                    catch (SocketException e)
                    {
                        Log.ConnectFailed(logger, connection, path, e.SocketErrorCode);
                        return PluginVerdict.Drop;
                    }
                    _channel = new DelegationChannel(_socket);
                }
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                deadline.CancelAfter(SendTimeout);
                while (true)
                {
                    var result = _channel.TrySend(connection.Direction, connection.Id, connection.Metadata.Span, connection.PeerEnd, connection.AcceptedSocket);
                    if (result == DelegationSendResult.Sent)
                    {
                        return PluginVerdict.Handle;
                    }
                    if (result == DelegationSendResult.Failed)
                    {
                        break;
                    }
                    try
                    {
                        await connection.Reactor.WaitAsync(_socket!, EpollEvents.Out, deadline.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        Log.Full(logger, connection, path);
                        return PluginVerdict.Drop;
                    }
                }
            }
            Log.SendFailed(logger, connection, path);
            return PluginVerdict.Drop;
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose()
    {
        Close();
        _gate.Dispose();
    }

    private void Close()
    {
        _channel?.Fail();
        _channel = null;
        _socket?.Dispose();
        _socket = null;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 7301, Level = LogLevel.Warning, Message = "forward-delegation: {Connection}: connect to {Path} failed ({Error}); dropped")]
        public static partial void ConnectFailed(ILogger logger, DelegatedConnection connection, string path, SocketError error);

        [LoggerMessage(EventId = 7302, Level = LogLevel.Warning, Message = "forward-delegation: {Connection}: {Path} is not reading; dropped")]
        public static partial void Full(ILogger logger, DelegatedConnection connection, string path);

        [LoggerMessage(EventId = 7303, Level = LogLevel.Warning, Message = "forward-delegation: {Connection}: the connection to {Path} broke twice; dropped")]
        public static partial void SendFailed(ILogger logger, DelegatedConnection connection, string path);
    }
}
