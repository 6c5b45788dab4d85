using System.Collections.Immutable;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Xds.Client;

/// <summary>
/// Runs watcher callbacks one at a time, in the order they were posted, on one task of its own (grpc-go's
/// serializer): the ADS loop posts and moves on, so a slow watcher never holds up ACKs.
/// </summary>
internal sealed partial class XdsWatcherDispatcher : IAsyncDisposable
{
    private readonly Channel<(IXdsWatcher? Target, Action<IXdsWatcher> Callback)> _queue =
        Channel.CreateUnbounded<(IXdsWatcher?, Action<IXdsWatcher>)>(new UnboundedChannelOptions { SingleReader = true });

    private readonly ILogger _logger;
    private readonly Task _loop;
    private ImmutableList<IXdsWatcher> _watchers = [];

    public XdsWatcherDispatcher(ILogger logger)
    {
        _logger = logger;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Adds a watcher; <paramref name="initial"/>, when set, is posted to it alone first.</summary>
    public IDisposable Add(IXdsWatcher watcher, Action<IXdsWatcher>? initial)
    {
        ImmutableInterlocked.Update(ref _watchers, w => w.Add(watcher));
        if (initial is not null)
        {
            _queue.Writer.TryWrite((watcher, initial));
        }

        return new Registration(this, watcher);
    }

    /// <summary>Posts a callback for every watcher registered when it runs.</summary>
    public void Post(Action<IXdsWatcher> callback) => _queue.Writer.TryWrite((null, callback));

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }

    private async Task RunAsync()
    {
        await foreach (var (target, callback) in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            var watchers = Volatile.Read(ref _watchers);
            foreach (var watcher in watchers)
            {
                if (target is not null && !ReferenceEquals(target, watcher))
                {
                    continue;
                }

                try
                {
                    callback(watcher);
                }
#pragma warning disable CA1031 // A failing watcher must not stop the others, nor the events that follow.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    Log.WatcherFailed(_logger, watcher.GetType().Name, ex);
                }
            }
        }
    }

    private sealed class Registration(XdsWatcherDispatcher owner, IXdsWatcher watcher) : IDisposable
    {
        public void Dispose() => ImmutableInterlocked.Update(ref owner._watchers, w => w.Remove(watcher));
    }
}
