using Istio.AppSwitch.Dataplane.Observability;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Interop;
using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>
/// Outbound chaining (docs/envoy-chaining.md): a connect to a <c>chain</c> service, one that needs what only a proxy
/// can do (an L7 mutation, fault injection, mTLS across hosts...), is connected by ax to the local Envoy, with a PROXY
/// v2 header that names the original destination and the application, and handed to the application. ax copies no
/// byte: the application's socket is connected to Envoy itself.
/// </summary>
internal sealed partial class SyscallHandler
{
    /// <summary>
    /// Acts on a <see cref="ConnectDecisionKind.Chain"/> decision. Returns true when a continuation now owns
    /// <paramref name="appSocket"/>, as <see cref="Redirect"/> does.
    /// </summary>
    /// <remarks>
    /// The chained proxy's own connects (it listens on the <c>--envoy</c> address, and runs under ax) are decided as if
    /// the service were fast: they have been through the proxy already, and chaining them again would loop.
    /// Without an Envoy, a chained service connects as the application asked, as before chaining existed, and the
    /// daemon says so once per app and service.
    /// </remarks>
    private bool Chain(InterceptedApp app, ulong id, SafeFd appSocket, in AppSocketInfo info, in Interop.InetEndpoint destination,
        in ConnectDecision decision)
    {
        var envoy = _chainTarget;
        if ((envoy is { } proxy && IsChainProxy(app, proxy.Port)) || IsDelegationSidecar(app))
        {
            var direct = _routing.Current.Resolve(app.Record, in destination, fromChainProxy: true);
            switch (direct.Kind)
            {
                case ConnectDecisionKind.Redirect:
                    return Redirect(app, id, appSocket, in info, in destination, in direct, writeHeader: false);
                case ConnectDecisionKind.NoBackend:
                    return WaitForBackend(app, id, appSocket, in info, in destination, direct.Ref!);
                case ConnectDecisionKind.Refuse:
                    Refuse(app, id, in destination, direct.Ref!.Name);
                    return false;
                default:
                    Interlocked.Increment(ref app.Counters.Passthrough);
                    _telemetry.Connect(app.Record, ConnectMode.Passthrough, ConnectOutcome.Allowed, direct.Ref?.Name, in destination, in destination);
                    Continue(app, id);
                    return false;
            }
        }
        // An ax-aware sidecar first: it takes the connection as live sockets, with no TCP hop to it.
        if (_delegation is { HasOutbound: true } hub && TryDelegateOutbound(app, id, appSocket, in info, in destination, decision.Ref!, hub))
        {
            return false;
        }
        if (envoy is null)
        {
            Interlocked.Increment(ref app.Counters.Passthrough);
            _telemetry.Connect(app.Record, ConnectMode.Passthrough, ConnectOutcome.Allowed, decision.Ref?.Name, in destination, in destination);
            // Once per service at Warning (an operator must learn that L7 policy is not applied), then at Debug: this
            // is the connect path. TryAdd of a name already present allocates nothing.
            if (decision.Ref is { } reference && _chainWarned.TryAdd(reference.Name, 0))
            {
                Log.ChainUnavailableOnce(_logger, app.Record.Id, destination, reference.Name);
            }
            else
            {
                Log.ChainUnavailable(_logger, app.Record.Id, destination, decision.Ref?.Name);
            }
            Continue(app, id);
            return false;
        }
        Interlocked.Increment(ref app.Counters.Chained);
        var toProxy = ConnectDecision.ToProxy(envoy.Value, decision.Ref!);
        return Redirect(app, id, appSocket, in info, in destination, in toProxy, writeHeader: true, ConnectMode.Chain);
    }

    /// <summary>
    /// Whether <paramref name="app"/> is the chained proxy: it listens on the proxy's port, on the proxy's address or
    /// on a wildcard. Asked only for chained connects, so a scan of the services is affordable.
    /// </summary>
    private bool IsChainProxy(InterceptedApp app, ushort proxyPort)
    {
        var proxy = _chainTarget.GetValueOrDefault();
        foreach (var service in _registry.Services)
        {
            if (service.App == app.Record && service.Bound.Port == proxyPort
                && (service.Bound.IsAnyAddress || service.Bound.Equals(proxy)))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>The <c>--envoy</c> endpoint in ax's own form, once; null without one.</summary>
    private static Interop.InetEndpoint? ChainTargetOf(ChainOptions options) =>
        options.Envoy is { } envoy ? Interop.InetEndpoint.FromIPEndPoint(envoy) : null;

    /// <summary>The chain services already warned about (no Envoy, no sidecar); bounded by the number of services.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _chainWarned = new(StringComparer.Ordinal);

    private static partial class Log
    {
        [LoggerMessage(1124, LogLevel.Warning, "{AppId}: connect to {Destination} (service {Ref}) needs a proxy (an L7 policy), but the daemon has neither a delegation sidecar nor --envoy: it connects as asked and the policy is not applied. Said once per service.")]
        public static partial void ChainUnavailableOnce(ILogger logger, string appId, Interop.InetEndpoint destination, string @ref);

        [LoggerMessage(1120, LogLevel.Debug, "{AppId}: connect to {Destination} (service {Ref}) needs the chained proxy, but the daemon has no --envoy: it connects as asked")]
        public static partial void ChainUnavailable(ILogger logger, string appId, Interop.InetEndpoint destination, string? @ref);
    }
}
