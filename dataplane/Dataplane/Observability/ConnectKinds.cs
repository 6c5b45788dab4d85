namespace Istio.AppSwitch.Dataplane.Observability;

/// <summary>How ax carried out an outbound connect: the <c>mode</c> label of <c>ax_connections_total</c>.</summary>
public enum ConnectMode
{
    /// <summary>ax connected the application's socket straight to the backend (loopback or a mesh endpoint).</summary>
    Fast,

    /// <summary>A co-located backend: ax installed one end of a Unix socket pair (docs/unix-switch.md).</summary>
    Unix,

    /// <summary>ax connected the socket to the chained proxy (Envoy) or handed it to a delegation sidecar.</summary>
    Chain,

    /// <summary>ax left the connect to the kernel, as asked.</summary>
    Passthrough,
}

/// <summary>What became of a connect: the <c>decision</c> label of <c>ax_connections_total</c>.</summary>
public enum ConnectOutcome
{
    /// <summary>Connected (or connecting: EINPROGRESS), or left to the kernel.</summary>
    Allowed,

    /// <summary>Refused by policy: an inbound RBAC deny at accept.</summary>
    Denied,

    /// <summary>Answered with an error: no backend in time, a black hole, a circuit breaker, or the backend refused.</summary>
    Refused,

    /// <summary>Parked until its ref has a backend; counted again with its final decision when it is settled.</summary>
    Held,
}

/// <summary>Lower-case label values, allocated once.</summary>
public static class ConnectLabels
{
    private static readonly string[] Modes = ["fast", "unix", "chain", "passthrough"];
    private static readonly string[] Outcomes = ["allowed", "denied", "refused", "held"];

    /// <summary>The label value of a mode.</summary>
    public static string Of(ConnectMode mode) => Modes[(int)mode];

    /// <summary>The label value of a decision.</summary>
    public static string Of(ConnectOutcome outcome) => Outcomes[(int)outcome];

    internal const int ModeCount = 4;
    internal const int OutcomeCount = 4;
}
