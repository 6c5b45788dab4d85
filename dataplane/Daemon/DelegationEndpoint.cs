using System.Net.Sockets;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Dataplane.Delegation;
using Istio.AppSwitch.Delegation;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Daemon;

/// <summary>
/// <c>POST /v1/delegation</c>: a sidecar registers for socket delegation with an HTTP/1.1 upgrade to
/// <c>ax-delegation/1</c> (docs/delegation.md), and the connection then carries frames with live fds. Since the sidecar
/// receives the applications' sockets, a process outside ax must be root or the daemon's uid, and a process under ax
/// must belong to an application launched as that very sidecar (<c>ax run --sidecar NAME</c>).
/// <c>GET /v1/delegation</c> lists the sidecars.
/// </summary>
internal static partial class DelegationEndpoint
{
    /// <summary>How long a sidecar has to send the ready byte after the 101.</summary>
    internal static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(10);

    internal static JsonHttpResult<List<SidecarDto>> GetSidecars([FromServices] DelegationHub hub) =>
        TypedResults.Json(hub.Sidecars.Select(SidecarDto.From).ToList(), DelegationJsonContext.Default.ListSidecarDto);

    internal static async Task RegisterAsync(HttpContext context, [FromServices] DelegationHub hub, [FromServices] ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger("Istio.AppSwitch.Daemon.Delegation");
        var query = context.Request.Query;
        var name = query["name"].ToString();
        if (!SidecarRoles.IsValidName(name))
        {
            await BadRequestAsync(context, $"name must be {SidecarRoles.NameRule}").ConfigureAwait(false);
            return;
        }
        if (WriteAuthorizationMiddleware.ApplicationOf(context) is { } underAx && RoleRefusal(hub.Roles, underAx, name) is { } refusal)
        {
            Log.RoleRefused(logger, name, underAx.Pid, underAx.AppId);
            await ApiErrors.WriteAsync(context, StatusCodes.Status403Forbidden, ApiErrorCodes.PermissionDenied, refusal).ConfigureAwait(false);
            return;
        }
        if (!DelegationNames.TryParseDirections(query["directions"].ToString(), out var directions))
        {
            await BadRequestAsync(context, "directions must be \"outbound\", \"inbound\" or \"outbound,inbound\"").ConfigureAwait(false);
            return;
        }
        var upgrade = context.Features.Get<IHttpUpgradeFeature>();
        if (upgrade is null || !upgrade.IsUpgradableRequest
            || !string.Equals(context.Request.Headers.Upgrade.ToString(), DelegationClient.Protocol, StringComparison.OrdinalIgnoreCase))
        {
            await BadRequestAsync(context, $"registration is an HTTP/1.1 upgrade: send \"Connection: Upgrade\" and \"Upgrade: {DelegationClient.Protocol}\"").ConfigureAwait(false);
            return;
        }
        var socket = context.Features.Get<IConnectionSocketFeature>()?.Socket;
        if (socket is null || socket.AddressFamily != AddressFamily.Unix)
        {
            await BadRequestAsync(context, "delegation needs the daemon's Unix socket: fds cannot travel over anything else").ConfigureAwait(false);
            return;
        }

        using var registration = hub.TryReserve(name, directions, WriteAuthorizationMiddleware.ReadPeerCredentials(context)?.Pid ?? 0);
        if (registration is null)
        {
            var holder = hub.HolderOf(directions);
            await ApiErrors.WriteAsync(context, StatusCodes.Status409Conflict, ApiErrorCodes.AlreadyExists,
                $"sidecar \"{holder}\" is already registered for {directions.ToQuery()} (or part of it)").ConfigureAwait(false);
            return;
        }

        context.Response.Headers.Upgrade = DelegationClient.Protocol;
        var stream = await upgrade.UpgradeAsync().ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            // Kestrel writes the 101 through its own output loop, so a frame sent on the raw socket now could
            // overtake it. The sidecar's ready byte proves that it read the 101: only then is anything delegated.
            var buffer = new byte[256];
            using (var ready = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted))
            {
                ready.CancelAfter(ReadyTimeout);
                int read;
                try
                {
                    read = await stream.ReadAsync(buffer.AsMemory(0, 1), ready.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    read = 0;
                }
                if (read == 0 || buffer[0] != DelegationClient.ReadyByte)
                {
                    Log.NotReady(logger, name);
                    context.Abort();
                    return;
                }
            }

            var channel = new DelegationChannel(socket.SafeHandle);
            registration.Activate(channel);
            Log.Registered(logger, name, directions.ToQuery());
            try
            {
                // The sidecar sends nothing more yet (the direction is reserved): read and drop until it closes or
                // a send breaks the channel.
                var closed = DrainUntilClosedAsync(stream, buffer, context.RequestAborted);
                await Task.WhenAny(closed, channel.Completion).ConfigureAwait(false);
            }
            finally
            {
                registration.Dispose();
                Log.Unregistered(logger, name);
                context.Abort();
            }
        }
    }

    /// <summary>Why a process under ax may not register as <paramref name="name"/>, or null when its application's role allows it.</summary>
    private static string? RoleRefusal(SidecarRoles roles, ApplicationUnderAx underAx, string name)
    {
        var role = roles.RoleOf(underAx.AppId);
        if (role is null)
        {
            return $"permission denied: pid {underAx.Pid} runs under ax (application {underAx.AppId}), which was not launched as a delegation sidecar; "
                + $"only an application started with 'ax run --sidecar {name}' (by {roles.Launchers}, from outside ax) may register as \"{name}\" from under ax";
        }
        if (!string.Equals(role, name, StringComparison.Ordinal))
        {
            return $"permission denied: application {underAx.AppId} was launched as sidecar \"{role}\" and may register only under that name, not as \"{name}\"";
        }
        return null;
    }

    private static async Task DrainUntilClosedAsync(Stream stream, byte[] buffer, CancellationToken cancellationToken)
    {
        try
        {
            while (await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false) > 0)
            {
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // A reset or an abort ends the registration like a close does.
        }
    }

    private static Task BadRequestAsync(HttpContext context, string message) =>
        ApiErrors.WriteAsync(context, StatusCodes.Status400BadRequest, ApiErrorCodes.InvalidArgument, message);

    private static partial class Log
    {
        [LoggerMessage(EventId = 6001, Level = LogLevel.Information, Message = "Sidecar \"{Name}\" registered for delegation ({Directions})")]
        public static partial void Registered(ILogger logger, string name, string directions);

        [LoggerMessage(EventId = 6002, Level = LogLevel.Information, Message = "Sidecar \"{Name}\" unregistered")]
        public static partial void Unregistered(ILogger logger, string name);

        [LoggerMessage(EventId = 6004, Level = LogLevel.Warning, Message = "Refused sidecar \"{Name}\" to pid {Pid} of application {AppId}: not its sidecar role")]
        public static partial void RoleRefused(ILogger logger, string name, int pid, string appId);

        [LoggerMessage(EventId = 6003, Level = LogLevel.Warning, Message = "Sidecar \"{Name}\" did not send the ready byte after the upgrade; closing")]
        public static partial void NotReady(ILogger logger, string name);
    }
}
