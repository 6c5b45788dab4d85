namespace Istio.AppSwitch.Dataplane.Policy;

/// <summary>What a nonblocking <c>connect</c> to a ref with no live backend gets while the ref waits for one.</summary>
public enum NonblockingConnectMode
{
    /// <summary>
    /// The call is held like a blocking one, until a backend listens or the ref's wait ends; the runtime then
    /// carries on as after a slow handshake. See docs/dependency-ordering.md for what each runtime does.
    /// </summary>
    Hold,

    /// <summary>
    /// <c>EAGAIN</c> at once, as the original AppSwitch answered; what the application makes of it is up to its
    /// runtime. See docs/dependency-ordering.md for what each runtime does.
    /// </summary>
    EAgain,
}

/// <summary>Whether ax writes a PROXY protocol header into the connections it opens for a ref.</summary>
public enum ProxyProtocolMode
{
    /// <summary>No header: the backend sees the application's bytes only.</summary>
    None,

    /// <summary>
    /// A PROXY protocol v2 header carrying the original destination and the source, written before the socket is
    /// handed to the application. The default for a catch-all VIP (<c>0.0.0.0/0:*</c>, <c>::/0:*</c>), whose backend
    /// (a sidecar) cannot know otherwise where the application meant to go.
    /// </summary>
    V2,
}
