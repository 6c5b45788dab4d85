using System.Collections.Immutable;
using Envoy.Config.Core.V3;
using Google.Protobuf;
using Istio.AppSwitch.Grpc;
using Istio.AppSwitch.Xds.Client;
using Istio.AppSwitch.Xds.Resources;
using Istio.AppSwitch.Xds.Resources.Decoding;
using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Xds.Ads;

/// <summary>
/// One ADS stream, from its first request to its end (grpc-go's <c>ads_stream.go</c>). What must survive a
/// reconnect (accepted resources, versions) lives in the <see cref="XdsResourceCache"/>; what belongs to one stream
/// (nonces, what was subscribed on it, whether the node was sent) lives here and dies with it.
/// </summary>
/// <remarks>
/// Everything runs on the one task that reads responses: each response is decoded, applied (on ACK), answered and
/// followed by the subscription changes it causes before the next is read. So requests go out in a fixed order and
/// there is never more than one pending write.
/// </remarks>
internal abstract partial class AdsStream<TRequest, TResponse>
    where TRequest : IMessage<TRequest>
    where TResponse : IMessage<TResponse>
{
    private readonly Node _node;
    private readonly Dictionary<string, StreamTypeState> _types = XdsTypeUrls.All.ToDictionary(t => t, _ => new StreamTypeState());
    private GrpcDuplexCall<TRequest, TResponse>? _call;
    private bool _nodeSent;
    private bool _listenersRequested;

    protected AdsStream(XdsResourceCache cache, Node node, ILogger logger)
    {
        Cache = cache;
        _node = node;
        Logger = logger;
    }

    /// <summary>Whether the server sent at least one response on this stream (the backoff resets after such a stream).</summary>
    public bool ReceivedResponse { get; private set; }

    protected XdsResourceCache Cache { get; }

    protected ILogger Logger { get; }

    /// <summary>
    /// Subscribes and then serves the stream until the server ends it (returns) or it fails (throws
    /// <see cref="GrpcException"/>, or <see cref="OperationCanceledException"/> when <paramref name="cancellationToken"/> fires).
    /// </summary>
    public async Task RunAsync(GrpcDuplexCall<TRequest, TResponse> call, CancellationToken cancellationToken)
    {
        _call = call;
        var snapshot = Cache.Current;

        // Envoy's order: CDS, then EDS for the clusters' names; LDS, then RDS. On a fresh start LDS waits for the
        // first CDS answer (clusters before the listeners that use them); on a reconnect everything known is
        // resubscribed at once, with its versions.
        await SubscribeAsync(XdsTypeUrls.Cluster, [], initial: true, cancellationToken).ConfigureAwait(false);
        await FollowDependenciesAsync(XdsTypeUrls.Cluster, snapshot, cancellationToken).ConfigureAwait(false);
        if (snapshot.Clusters.Version.Length > 0 || !snapshot.Clusters.Resources.IsEmpty)
        {
            await RequestListenersAsync(snapshot, cancellationToken).ConfigureAwait(false);
        }

        while (await call.MoveNext(cancellationToken).ConfigureAwait(false))
        {
            ReceivedResponse = true;
            await HandleResponseAsync(call.Current, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Decodes, applies and answers one response.</summary>
    protected abstract Task HandleResponseAsync(TResponse response, CancellationToken cancellationToken);

    /// <summary>Builds the request that subscribes to a type on this stream for the first time, or changes its names.</summary>
    protected abstract TRequest BuildSubscription(
        string typeUrl, ImmutableSortedSet<string> names, ImmutableSortedSet<string> previous, bool initial, XdsSnapshot snapshot);

    /// <summary>Puts the node on the first request of the stream (<c>set_node_on_first_message_only</c>).</summary>
    protected abstract void SetNode(TRequest request, Node node);

    protected StreamTypeState StateOf(string typeUrl) => _types[typeUrl];

    protected async Task SendAsync(TRequest request, CancellationToken cancellationToken)
    {
        if (!_nodeSent)
        {
            SetNode(request, _node);
            _nodeSent = true;
        }

        await _call!.WriteAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// What every accepted or rejected response leads to after its ACK or NACK: the dependent type follows CDS or
    /// LDS, and LDS is requested once the first CDS answer has been handled.
    /// </summary>
    protected async Task AfterResponseAsync(string typeUrl, CancellationToken cancellationToken)
    {
        var snapshot = Cache.Current;
        await FollowDependenciesAsync(typeUrl, snapshot, cancellationToken).ConfigureAwait(false);
        if (typeUrl == XdsTypeUrls.Cluster)
        {
            await RequestListenersAsync(snapshot, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The combined <c>error_detail</c> of a NACK: INVALID_ARGUMENT, naming each rejected resource.</summary>
    protected static Google.Rpc.Status ErrorDetail(string typeUrl, int total, IReadOnlyList<XdsResourceError> errors) => new()
    {
        Code = (int)GrpcStatusCode.InvalidArgument,
        Message = $"{XdsTypeUrls.ShortName(typeUrl)}: rejected {errors.Count} of {total} resources: {string.Join("; ", errors)}",
    };

    private async Task RequestListenersAsync(XdsSnapshot snapshot, CancellationToken cancellationToken)
    {
        if (_listenersRequested)
        {
            return;
        }

        _listenersRequested = true;
        await SubscribeAsync(XdsTypeUrls.Listener, [], initial: true, cancellationToken).ConfigureAwait(false);
        await FollowDependenciesAsync(XdsTypeUrls.Listener, snapshot, cancellationToken).ConfigureAwait(false);
    }

    private async Task FollowDependenciesAsync(string typeUrl, XdsSnapshot snapshot, CancellationToken cancellationToken)
    {
        var dependent = typeUrl switch
        {
            XdsTypeUrls.Cluster => XdsTypeUrls.Endpoint,
            XdsTypeUrls.Listener => XdsTypeUrls.Route,
            _ => null,
        };
        if (dependent is null)
        {
            return;
        }

        var names = snapshot.SubscribedNames(dependent);

        // An EDS or RDS resource nobody references any more is dropped, as Envoy drops it with its cluster or
        // listener; before the request goes out, so that once the server has seen it, the cache agrees.
        Cache.RetainOnly(dependent, names);
        var state = StateOf(dependent);
        if (!state.Requested)
        {
            // An empty name list would be a wildcard request: ask only once there is a name to ask for.
            if (!names.IsEmpty)
            {
                await SubscribeAsync(dependent, names, initial: true, cancellationToken).ConfigureAwait(false);
            }
        }
        else if (!names.SetEquals(state.Names))
        {
            await SubscribeAsync(dependent, names, initial: false, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task SubscribeAsync(string typeUrl, ImmutableSortedSet<string> names, bool initial, CancellationToken cancellationToken)
    {
        var state = StateOf(typeUrl);
        var request = BuildSubscription(typeUrl, names, state.Names, initial, Cache.Current);
        state.Requested = true;
        state.Names = names;
        AdsLog.Subscribing(Logger, XdsTypeUrls.ShortName(typeUrl), names.Count, initial);
        await SendAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>What one stream knows of one type.</summary>
    protected sealed class StreamTypeState
    {
        /// <summary>Whether the type has been requested on this stream.</summary>
        public bool Requested { get; set; }

        /// <summary>The names subscribed on this stream; empty for a wildcard type.</summary>
        public ImmutableSortedSet<string> Names { get; set; } = ImmutableSortedSet.Create<string>(StringComparer.Ordinal);

        /// <summary>The nonce of the last response of this type, echoed by every request that follows.</summary>
        public string Nonce { get; set; } = string.Empty;
    }
}
