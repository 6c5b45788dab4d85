using Istio.AppSwitch.Dataplane.Registry;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Policy;

/// <summary>What to do with one trapped <c>connect</c>.</summary>
public enum ConnectDecisionKind
{
    /// <summary>No ref or advertised service covers the destination: connect as the kernel would without ax.</summary>
    NoMatch,

    /// <summary>Connect to <see cref="ConnectDecision.Backend"/> instead.</summary>
    Redirect,

    /// <summary>
    /// A ref covers the destination but has no live backend yet: the connect waits for one to listen, up to the
    /// ref's <see cref="ServiceRef.Wait"/>, and then fails with <c>ECONNREFUSED</c>.
    /// </summary>
    NoBackend,
}

/// <summary>The routing decision for one connect. A value: deciding allocates nothing.</summary>
public readonly struct ConnectDecision
{
    private ConnectDecision(ConnectDecisionKind kind, InetEndpoint backend, ServiceRef? reference, ServiceRecord? service)
    {
        Kind = kind;
        Backend = backend;
        Ref = reference;
        Service = service;
    }

    /// <summary>No match; also <c>default</c>.</summary>
    public static ConnectDecision NoMatch => default;

    /// <summary>What to do.</summary>
    public ConnectDecisionKind Kind { get; }

    /// <summary>Where to connect, for <see cref="ConnectDecisionKind.Redirect"/>; <c>default</c> otherwise.</summary>
    public InetEndpoint Backend { get; }

    /// <summary>The ref that matched; null for no match, or for a service reached at its advertised (<c>--ip</c>) address.</summary>
    public ServiceRef? Ref { get; }

    /// <summary>The service picked, for <see cref="ConnectDecisionKind.Redirect"/>.</summary>
    public ServiceRecord? Service { get; }

    /// <summary>Redirect to <paramref name="service"/>'s target.</summary>
    internal static ConnectDecision Redirect(ServiceRecord service, ServiceRef? reference) =>
        new(ConnectDecisionKind.Redirect, service.Target, reference, service);

    /// <summary>Refuse: <paramref name="reference"/> has no live backend.</summary>
    internal static ConnectDecision NoBackend(ServiceRef reference) =>
        new(ConnectDecisionKind.NoBackend, default, reference, null);

    /// <summary>The kind and, when redirected, where to; for logs.</summary>
    public override string ToString() => Kind switch
    {
        ConnectDecisionKind.Redirect => $"redirect to {Backend} ({Service}{(Ref is null ? ", advertised" : $", ref {Ref.Name}")})",
        ConnectDecisionKind.NoBackend => $"no backend (ref {Ref?.Name} has no live backend)",
        _ => "no match",
    };
}
