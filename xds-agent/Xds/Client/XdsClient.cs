using Istio.AppSwitch.Grpc;
using Istio.AppSwitch.Xds.Ads;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Istio.AppSwitch.Xds.Client;

/// <summary>
/// Subscribes to a management server (istiod) over one ADS stream, as an Envoy sidecar does, and keeps the last
/// good resources of CDS, EDS, LDS and RDS. Reconnects with backoff on its own; resources stay in force while the
/// server is away. Knows nothing of what the resources are used for.
/// </summary>
/// <remarks>
/// Read <see cref="Snapshot"/> at any time (lock-free), or <see cref="Watch"/> to be told of each change. Events
/// run one at a time on the client's own task, never on the caller's.
/// </remarks>
public sealed partial class XdsClient : IAsyncDisposable
{
    private readonly IGrpcCallInvoker _invoker;
    private readonly XdsClientOptions _options;
    private readonly ILogger _logger;
    private readonly XdsWatcherDispatcher _dispatcher;
    private readonly XdsResourceCache _cache;
    private readonly Uri? _address;
    private readonly Lock _gate = new();
    private CancellationTokenSource? _stopping;
    private Task? _loop;

    /// <summary>Creates a client that starts its calls on <paramref name="invoker"/> (the caller owns the invoker).</summary>
    /// <param name="invoker">The channel to the server.</param>
    /// <param name="options">Node, variant, headers, backoff.</param>
    /// <param name="logger">Where to log; null logs nothing.</param>
    /// <param name="address">The server's address, for logs only.</param>
    public XdsClient(IGrpcCallInvoker invoker, XdsClientOptions options, ILogger? logger = null, Uri? address = null)
    {
        ArgumentNullException.ThrowIfNull(invoker);
        ArgumentNullException.ThrowIfNull(options);
        _invoker = invoker;
        _options = options;
        _logger = logger ?? NullLogger.Instance;
        _address = address;
        _dispatcher = new XdsWatcherDispatcher(_logger);
        _cache = new XdsResourceCache(_dispatcher);
    }

    /// <summary>Pushes, ACKs and NACKs per type URL since the client was made, across reconnects.</summary>
    public Ads.AdsStatistics Statistics => _cache.Statistics;

    /// <summary>The last good resources of every type, as one consistent view.</summary>
    public XdsSnapshot Snapshot => _cache.Current;

    /// <summary>Whether the client is running (between <see cref="Start"/> and <see cref="StopAsync"/>).</summary>
    public bool IsRunning
    {
        get
        {
            lock (_gate)
            {
                return _loop is not null;
            }
        }
    }

    /// <summary>
    /// Registers a watcher. If anything has arrived already, the watcher first gets the current snapshot through
    /// <see cref="IXdsWatcher.OnChanged"/>, with an <see cref="XdsChange"/> whose type URL is empty (nothing changed:
    /// this is what there is). Dispose the result to stop watching.
    /// </summary>
    public IDisposable Watch(IXdsWatcher watcher)
    {
        ArgumentNullException.ThrowIfNull(watcher);
        var snapshot = Snapshot;
        return _dispatcher.Add(
            watcher,
            snapshot.Revision == 0 ? null : w => w.OnChanged(snapshot, new XdsChange(string.Empty, string.Empty, [], [])));
    }

    /// <summary>Starts connecting; returns at once. The first snapshot arrives through watchers.</summary>
    /// <exception cref="InvalidOperationException">The client is running already.</exception>
    public void Start()
    {
        lock (_gate)
        {
            if (_loop is not null)
            {
                throw new InvalidOperationException("The xDS client is running already.");
            }

            _stopping = new CancellationTokenSource();
            var token = _stopping.Token;
            _loop = Task.Run(() => RunAsync(token), CancellationToken.None);
        }
    }

    /// <summary>Closes the stream and stops reconnecting. The snapshot stays as it was; the client can start again.</summary>
    public async Task StopAsync()
    {
        Task? loop;
        CancellationTokenSource? stopping;
        lock (_gate)
        {
            (loop, stopping, _loop, _stopping) = (_loop, _stopping, null, null);
        }

        if (loop is null)
        {
            return;
        }

        await stopping!.CancelAsync().ConfigureAwait(false);
        await loop.ConfigureAwait(false);
        stopping.Dispose();
        Log.Stopped(_logger);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        await _dispatcher.DisposeAsync().ConfigureAwait(false);
    }

    // The reconnect loop: one stream at a time, so the cache has one writer.
    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var backoff = new XdsBackoff(_options.Backoff, _options.Random);
        while (!cancellationToken.IsCancellationRequested)
        {
            bool receivedResponse;
            string reason;
            try
            {
                Log.Connecting(_logger, _address ?? new Uri("about:invoker"), _options.Variant);
                (receivedResponse, reason) = _options.Variant == AdsVariant.Delta
                    ? await RunStreamAsync(
                        AdsMethods.DeltaAggregatedResources, new DeltaAdsStream(_cache, _options.Node, _logger), cancellationToken)
                        .ConfigureAwait(false)
                    : await RunStreamAsync(
                        AdsMethods.StreamAggregatedResources, new SotwAdsStream(_cache, _options.Node, _logger), cancellationToken)
                        .ConfigureAwait(false);
            }
            catch (Exception ex) when (cancellationToken.IsCancellationRequested &&
                ex is OperationCanceledException or GrpcException or IOException or InvalidOperationException)
            {
                // Stopping: the call ends as CANCELLED (or the token's own exception), which is no failure.
                return;
            }

            if (receivedResponse)
            {
                backoff.Reset();
            }

            var delay = backoff.Next();
            Log.StreamEnded(_logger, reason, delay);
            _cache.ReportAmbientError(new XdsAmbientError(XdsAmbientErrorKind.ConnectionLost, null, reason));
            try
            {
                await Task.Delay(delay, _options.TimeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task<(bool ReceivedResponse, string Reason)> RunStreamAsync<TRequest, TResponse>(
        GrpcMethod<TRequest, TResponse> method, AdsStream<TRequest, TResponse> stream, CancellationToken cancellationToken)
        where TRequest : Google.Protobuf.IMessage<TRequest>
        where TResponse : Google.Protobuf.IMessage<TResponse>
    {
        try
        {
            var headers = _options.CallHeaders?.Invoke();
            using var call = _invoker.StartDuplexStreaming(method, new GrpcCallOptions(headers, CancellationToken: cancellationToken));
            await stream.RunAsync(call, cancellationToken).ConfigureAwait(false);
            return (stream.ReceivedResponse, "the server ended the stream");
        }
        catch (GrpcException ex) when (!cancellationToken.IsCancellationRequested)
        {
            return (stream.ReceivedResponse, $"{ex.StatusCode}: {ex.Status.Detail}");
        }
        catch (IOException ex) when (!cancellationToken.IsCancellationRequested)
        {
            // The token file could not be read: retried like a connection failure, since it may yet appear.
            return (stream.ReceivedResponse, ex.Message);
        }
        catch (InvalidOperationException ex) when (!cancellationToken.IsCancellationRequested)
        {
            // A write raced the end of the call (the call ended OK while a request was being sent).
            return (stream.ReceivedResponse, ex.Message);
        }
    }
}
