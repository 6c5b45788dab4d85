using System.Net.Sockets;
using Istio.AppSwitch.Delegation;
using Istio.AppSwitch.Interop;
using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Proxy;

/// <summary>
/// A Unix socket on which other ax-aware proxies deliver connections with their <c>forward-delegation</c> plugin:
/// each accepted connection carries frames, as the daemon's does, but with no HTTP registration in front. The
/// socket file is made 0600: whoever can connect can hand this proxy sockets.
/// </summary>
public sealed partial class DelegationListener : IDisposable
{
    private readonly SafeFd _listener;
    private readonly string _path;

    private DelegationListener(SafeFd listener, string path)
    {
        _listener = listener;
        _path = path;
    }

    /// <summary>Binds and listens on <paramref name="path"/>, replacing a stale socket file.</summary>
    /// <exception cref="SocketException">bind or listen failed.</exception>
    public static DelegationListener Bind(string path)
    {
        var sockaddr = new byte[110];
        if (Sockets.WriteUnixSockaddr(path, sockaddr, out var length) != Errno.Success)
        {
            throw new ArgumentException($"\"{path}\" is not a valid Unix socket path (1 to 107 bytes).", nameof(path));
        }
        Check(Sockets.Create(SocketConstants.AF_UNIX, SocketConstants.SOCK_STREAM, 0, nonBlocking: true, closeOnExec: true, out var socket));
        try
        {
            if (File.Exists(path))
            {
                File.Delete(path);
            }
            Check(Sockets.Bind(socket!, sockaddr.AsSpan(0, length)));
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            Check(Sockets.Listen(socket!, 64));
            return new DelegationListener(socket!, path);
        }
        catch
        {
            socket!.Dispose();
            throw;
        }
    }

    /// <summary>Accepts connections and serves each with <paramref name="proxy"/> until cancelled.</summary>
    public async Task RunAsync(DelegationProxy proxy, EpollReactor reactor, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(proxy);
        ArgumentNullException.ThrowIfNull(reactor);
        while (!cancellationToken.IsCancellationRequested)
        {
            var error = Sockets.Accept(_listener, [], out _, nonBlocking: true, closeOnExec: true, out var accepted);
            if (error == Errno.EAGAIN)
            {
                await reactor.WaitAsync(_listener, EpollEvents.In, cancellationToken).ConfigureAwait(false);
                continue;
            }
            if (error != Errno.Success)
            {
                Log.AcceptFailed(logger, _path, error.ToString());
                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
                continue;
            }
            _ = ServeAsync(new DelegationReader(accepted!, reactor), proxy, logger, cancellationToken);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _listener.Dispose();
        try
        {
            File.Delete(_path);
        }
        catch (IOException)
        {
        }
    }

    private async Task ServeAsync(DelegationReader reader, DelegationProxy proxy, ILogger logger, CancellationToken cancellationToken)
    {
        using (reader)
        {
            try
            {
                await proxy.RunAsync(reader, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is DelegationProtocolException or SocketException)
            {
                Log.SenderFailed(logger, _path, e.Message);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private static void Check(Errno error)
    {
        if (error != Errno.Success)
        {
            throw new SocketException((int)error.ToSocketError());
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 7020, Level = LogLevel.Warning, Message = "accept on {Path} failed: {Error}")]
        public static partial void AcceptFailed(ILogger logger, string path, string error);

        [LoggerMessage(EventId = 7021, Level = LogLevel.Warning, Message = "a sender on {Path} failed: {Message}")]
        public static partial void SenderFailed(ILogger logger, string path, string message);
    }
}
