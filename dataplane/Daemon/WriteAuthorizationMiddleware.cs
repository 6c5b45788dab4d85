using System.Net.Sockets;
using System.Runtime.InteropServices;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Dataplane.Interception;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Daemon;

/// <summary>Endpoint metadata: the endpoint changes the daemon's state, so only root and the daemon's uid may call it.</summary>
internal sealed class WriteAccess
{
    private WriteAccess(bool letsApplicationsThrough)
    {
        LetsApplicationsThrough = letsApplicationsThrough;
    }

    /// <summary>Root and the daemon's uid, and never a process under ax.</summary>
    public static WriteAccess Required { get; } = new(letsApplicationsThrough: false);

    /// <summary>
    /// A delegation sidecar's registration: root and the daemon's uid outside ax, as <see cref="Required"/>; and a
    /// process under ax is let through to the endpoint, which admits it only when its application was launched with
    /// the sidecar role, under that role's name (<c>ax run --sidecar NAME</c>, <see cref="Dataplane.Delegation.SidecarRoles"/>).
    /// <c>ax proxy</c> runs under ax so that its own upstream connects take the fast path (docs/delegation.md).
    /// </summary>
    public static WriteAccess SidecarRegistration { get; } = new(letsApplicationsThrough: true);

    /// <summary>Whether a process under ax reaches the endpoint, which then decides by the application's role.</summary>
    public bool LetsApplicationsThrough { get; }
}

/// <summary>
/// Lets a request to a <see cref="WriteAccess"/> endpoint through only when the peer's uid, read from the
/// connection with <c>SO_PEERCRED</c>, is root or the daemon's own, and the peer is not a process under ax
/// (<see cref="ApiClientsUnderAx"/>). The kernel fills <c>SO_PEERCRED</c> at
/// <c>connect</c>, so the peer cannot forge it; reads need no check, since the socket's mode already decides who
/// may connect. The one exception is <see cref="WriteAccess.SidecarRegistration"/>: a process under ax goes on to the
/// endpoint, named by <see cref="ApplicationOf"/>, and the endpoint checks its application's sidecar role.
/// </summary>
internal sealed partial class WriteAuthorizationMiddleware
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    private static readonly object ApplicationUnderAxKey = new();

    private readonly RequestDelegate _next;
    private readonly ILogger _logger;
    private readonly uint _daemonUid;
    private readonly ApiClientsUnderAx? _underAx;

    public WriteAuthorizationMiddleware(RequestDelegate next, ILogger<WriteAuthorizationMiddleware> logger, IServiceProvider services)
    {
        _next = next;
        _logger = logger;
        _daemonUid = ProcessIdentity.EffectiveUserId;
        _underAx = services.GetService<ApiClientsUnderAx>();
    }

    public Task InvokeAsync(HttpContext context)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<WriteAccess>() is not { } access)
        {
            return _next(context);
        }
        var peer = ReadPeerCredentials(context);
        if (peer is { } underAx && _underAx?.ApplicationOf(underAx.Pid) is { } appId)
        {
            if (access.LetsApplicationsThrough)
            {
                // Not on its uid: the endpoint admits it by the role its application was launched with.
                context.Items[ApplicationUnderAxKey] = new ApplicationUnderAx(underAx.Pid, appId);
                return _next(context);
            }
            // Whatever its uid: an application must not relabel itself or change what other applications reach.
            Log.WriteDenied(_logger, context.Request.Method, context.Request.Path, $"pid {underAx.Pid} of application {appId}");
            return ApiErrors.WriteAsync(context, StatusCodes.Status403Forbidden, ApiErrorCodes.PermissionDenied,
                $"permission denied: pid {underAx.Pid} runs under ax (application {appId}); applications under ax may read the ax daemon's state, not change it");
        }
        if (peer is { } credentials && (credentials.Uid == 0 || credentials.Uid == _daemonUid))
        {
            return _next(context);
        }
        var who = peer is { } p ? $"uid {p.Uid} (pid {p.Pid})" : "a peer whose credentials cannot be read";
        Log.WriteDenied(_logger, context.Request.Method, context.Request.Path, who);
        return ApiErrors.WriteAsync(context, StatusCodes.Status403Forbidden, ApiErrorCodes.PermissionDenied,
            $"permission denied: {who} may not change the ax daemon's state; only root and uid {_daemonUid} may");
    }

    /// <summary>
    /// The process under ax that made a request to a <see cref="WriteAccess.SidecarRegistration"/> endpoint, or null
    /// when the peer is not under ax (and passed the uid check).
    /// </summary>
    internal static ApplicationUnderAx? ApplicationOf(HttpContext context) =>
        context.Items.TryGetValue(ApplicationUnderAxKey, out var value) ? value as ApplicationUnderAx : null;

    /// <summary>The <c>struct ucred</c> of the connection, or null when the transport has no Unix socket.</summary>
    internal static PeerCredentials? ReadPeerCredentials(HttpContext context)
    {
        var socket = context.Features.Get<IConnectionSocketFeature>()?.Socket;
        if (socket is null || socket.AddressFamily != AddressFamily.Unix)
        {
            return null;
        }
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; }, in host byte order.
        Span<byte> ucred = stackalloc byte[12];
        try
        {
            if (socket.GetRawSocketOption(SolSocket, SoPeerCred, ucred) < ucred.Length)
            {
                return null;
            }
        }
        catch (SocketException)
        {
            return null;
        }
        catch (ObjectDisposedException)
        {
            return null;
        }
        return new PeerCredentials(
            MemoryMarshal.Read<int>(ucred),
            MemoryMarshal.Read<uint>(ucred[4..]),
            MemoryMarshal.Read<uint>(ucred[8..]));
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3020, EventName = "WriteDenied", Level = LogLevel.Warning, Message = "Denied {Method} {Path} to {Peer}")]
        public static partial void WriteDenied(ILogger logger, string method, PathString path, string peer);
    }
}

/// <summary>A request's peer that runs under ax: its pid (<c>SO_PEERCRED</c>) and its application's id.</summary>
internal sealed record ApplicationUnderAx(int Pid, string AppId);

/// <summary>The credentials the kernel recorded for the peer of a Unix socket at <c>connect</c>.</summary>
internal readonly record struct PeerCredentials(int Pid, uint Uid, uint Gid);
