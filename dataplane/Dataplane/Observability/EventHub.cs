using System.Threading.Channels;
using Istio.AppSwitch.Dataplane.Api;

namespace Istio.AppSwitch.Dataplane.Observability;

/// <summary>
/// Fans decision events out to the subscribers of <c>GET /v1/events</c>. Each subscriber has a bounded queue: when a
/// slow reader lets it fill, new events for that reader are dropped and counted, so a publisher (the notification path)
/// never waits for a reader. With no subscriber, <see cref="IsActive"/> is false and publishers build no event at all.
/// </summary>
public sealed class EventHub
{
    /// <summary>Events a subscriber may lag behind before its new events are dropped.</summary>
    public const int DefaultQueueCapacity = 1024;

    private Subscription[] _subscribers = [];
    private long _dropped;
    private long _published;

    /// <summary>True when someone listens: publishers check this before building an event.</summary>
    public bool IsActive => Volatile.Read(ref _subscribers).Length != 0;

    /// <summary>Events dropped across all subscribers since start.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Events published while someone listened.</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>The number of subscribers now.</summary>
    public int Subscribers => Volatile.Read(ref _subscribers).Length;

    /// <summary>Starts a subscription; dispose it to end it.</summary>
    public Subscription Subscribe(int capacity = DefaultQueueCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        var subscription = new Subscription(this, capacity);
        Swap(list => [.. list, subscription]);
        return subscription;
    }

    /// <summary>Hands <paramref name="e"/> to every subscriber that has room. Never blocks.</summary>
    public void Publish(EventDto e)
    {
        var subscribers = Volatile.Read(ref _subscribers);
        if (subscribers.Length == 0)
        {
            return;
        }
        Interlocked.Increment(ref _published);
        foreach (var subscriber in subscribers)
        {
            subscriber.Offer(e);
        }
    }

    private void Swap(Func<Subscription[], Subscription[]> change)
    {
        while (true)
        {
            var current = Volatile.Read(ref _subscribers);
            if (Interlocked.CompareExchange(ref _subscribers, change(current), current) == current)
            {
                return;
            }
        }
    }

    /// <summary>One reader's queue.</summary>
    public sealed class Subscription : IDisposable
    {
        private readonly EventHub _hub;
        private readonly Channel<EventDto> _queue;
        private long _dropped;

        internal Subscription(EventHub hub, int capacity)
        {
            _hub = hub;
            _queue = Channel.CreateBounded<EventDto>(new BoundedChannelOptions(capacity)
            {
                FullMode = BoundedChannelFullMode.Wait,
                SingleReader = true,
                SingleWriter = false,
            });
        }

        /// <summary>The events, in order, with gaps where this reader lagged (see <see cref="TakeDropped"/>).</summary>
        public ChannelReader<EventDto> Reader => _queue.Reader;

        /// <summary>Events dropped for this reader since the last call, and resets the count.</summary>
        public long TakeDropped() => Interlocked.Exchange(ref _dropped, 0);

        internal void Offer(EventDto e)
        {
            // FullMode.Wait applies to WriteAsync only: TryWrite on a full queue returns false at once, which is the drop.
            if (!_queue.Writer.TryWrite(e))
            {
                Interlocked.Increment(ref _dropped);
                Interlocked.Increment(ref _hub._dropped);
            }
        }

        /// <inheritdoc />
        public void Dispose()
        {
            _hub.Swap(list => Array.FindAll(list, s => s != this));
            _queue.Writer.TryComplete();
        }
    }
}
