using Istio.AppSwitch.Delegation;
using Istio.AppSwitch.Interop;
using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Proxy;

/// <summary>
/// Serves one delegation connection (from the daemon, or from another proxy's forward-delegation): reads frames
/// and runs each connection through the chain, concurrently. Ends when the sender closes the connection, once the
/// connections in flight have ended, or when cancelled (which stops them too).
/// </summary>
public sealed partial class DelegationProxy(ProxyChain chain, EpollReactor reactor, ILogger logger)
{
    /// <summary>Connections received so far.</summary>
    public long Received => Interlocked.Read(ref _received);

    private long _received;

    /// <summary>Reads frames from <paramref name="reader"/> until it ends, and serves them.</summary>
    /// <exception cref="DelegationProtocolException">The sender sent a malformed frame (its fds were closed).</exception>
    public async Task RunAsync(DelegationReader reader, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var inFlight = new HashSet<Task>();
        var gate = new Lock();
        try
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false) is { } frame)
            {
                Interlocked.Increment(ref _received);
                var connection = new DelegatedConnection(frame, reactor);
                var task = Task.Run(() => chain.RunAsync(connection, cancellationToken), CancellationToken.None);
                lock (gate)
                {
                    inFlight.Add(task);
                }
                _ = task.ContinueWith(done =>
                {
                    lock (gate)
                    {
                        inFlight.Remove(done);
                    }
                }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
            Log.SenderClosed(logger);
        }
        finally
        {
            Task[] remaining;
            lock (gate)
            {
                remaining = [.. inFlight];
            }
            await Task.WhenAll(remaining).ConfigureAwait(false);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 7010, Level = LogLevel.Information, Message = "The delegation sender closed the connection")]
        public static partial void SenderClosed(ILogger logger);
    }
}
