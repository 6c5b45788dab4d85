namespace Istio.AppSwitch.Dataplane.Registry;

/// <summary>
/// Counts of an application's trapped calls and what ax made of its connects. Fields, so that the notification
/// path updates them with <see cref="Interlocked"/> in place, with no lock and no allocation; readers see
/// each count exactly but the counts not as one consistent set.
/// </summary>
public sealed class ConnectCounters
{
    /// <summary>Trapped calls answered, of every kind.</summary>
    public long Notifications;

    /// <summary>Connects sent to a ref's backend (or to an <c>--ip</c> service).</summary>
    public long Redirected;

    /// <summary>Of the redirected connects, those to a co-located service that ax switched to a Unix socket pair (docs/unix-switch.md).</summary>
    public long Switched;

    /// <summary>Connects held until their ref had a backend (dependency ordering), however they ended.</summary>
    public long Held;

    /// <summary>Redirected connects that failed: no live backend, or the backend refused.</summary>
    public long Refused;

    /// <summary>Connects ax left to the kernel (no ref matched).</summary>
    public long Passthrough;

    /// <summary>Connects of <c>chain</c> services that ax connected to the chained proxy (Envoy) with a PROXY header.</summary>
    public long Chained;

    /// <summary>Connections handed to the delegation sidecar as live sockets, either way (docs/delegation.md).</summary>
    public long Delegated;

    /// <summary>Accepted connections that arrived through a trusted proxy, whose PROXY header ax took off.</summary>
    public long AcceptProxied;

    /// <summary>Connections ax accepted for the app on a port with inbound policy and handed to it.</summary>
    public long AcceptAllowed;

    /// <summary>Connections ax accepted on a port with inbound policy and reset before the app saw them.</summary>
    public long AcceptDenied;

    /// <summary>
    /// For an app in its own network namespace: sockets ax made in the host's namespace and installed at the app's fds
    /// (its TCP connects and mapped binds, docs/netns.md).
    /// </summary>
    public long Devirtualised;

    /// <summary>Calls a handler failed on (answered ENOSYS); non-zero means a bug in ax.</summary>
    public long Failed;
}
