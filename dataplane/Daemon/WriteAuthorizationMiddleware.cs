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
    private WriteAccess(bool applicationsUnderAx)
    {
        ApplicationsUnderAx = applicationsUnderAx;
    }

    /// <summary>Root and the daemon's uid, and never a process under ax.</summary>
    public static WriteAccess Required { get; } = new(applicationsUnderAx: false);

    /// <summary>
    /// Root and the daemon's uid, under ax or not: a sidecar's delegation registration (<c>ax proxy</c> runs under ax so
    /// that its own upstream connects take the fast path, docs/delegation.md).
    /// </summary>
    public static WriteAccess RequiredAllowingApplications { get; } = new(applicationsUnderAx: true);

    /// <summary>Whether a process under ax may make the call (with the uid it needs).</summary>
    public bool ApplicationsUnderAx { get; }
}

/// <summary>
/// Lets a request to a <see cref="WriteAccess"/> endpoint through only when the peer's uid, read from the
/// connection with <c>SO_PEERCRED</c>, is root or the daemon's own, and the peer is not a process under ax
/// (<see cref="ApiClientsUnderAx"/>). The kernel fills <c>SO_PEERCRED</c> at
/// <c>connect</c>, so the peer cannot forge it; reads need no check, since the socket's mode already decides who
/// may connect.
/// </summary>
internal sealed partial class WriteAuthorizationMiddleware
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

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
        if (!access.ApplicationsUnderAx && peer is { } underAx && _underAx?.ApplicationOf(underAx.Pid) is { } appId)
        {
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

/// <summary>The credentials the kernel recorded for the peer of a Unix socket at <c>connect</c>.</summary>
internal readonly record struct PeerCredentials(int Pid, uint Uid, uint Gid);
