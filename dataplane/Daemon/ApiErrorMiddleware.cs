using Istio.AppSwitch.Dataplane.Api;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Daemon;

/// <summary>
/// The outermost middleware. Turns an unhandled exception into a 500 with a generic message (the stack trace goes
/// to the log, never to the client), and gives the bodiless errors of the routing layer (404 for an unknown path,
/// 405 for a wrong method) the API's JSON error shape.
/// </summary>
internal sealed partial class ApiErrorMiddleware
{
    private readonly RequestDelegate _next;
    private readonly ILogger _logger;

    public ApiErrorMiddleware(RequestDelegate next, ILogger<ApiErrorMiddleware> logger)
    {
        _next = next;
        _logger = logger;
    }

    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await _next(context).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e) when (!context.Response.HasStarted)
        {
            // Kestrel's own limits (a body over MaxRequestBodySize, a truncated body).
            await ApiErrors.WriteAsync(context, e.StatusCode, ApiErrorCodes.InvalidArgument, e.Message).ConfigureAwait(false);
            return;
        }
        catch (Exception e) when (!context.RequestAborted.IsCancellationRequested)
        {
            Log.UnhandledException(_logger, context.Request.Method, context.Request.Path, e);
            if (!context.Response.HasStarted)
            {
                await ApiErrors.WriteAsync(context, StatusCodes.Status500InternalServerError, ApiErrorCodes.Internal,
                    "internal error in the ax daemon; its log has the details").ConfigureAwait(false);
            }
            return;
        }

        var response = context.Response;
        if (response.HasStarted || response.StatusCode < 400 || response.ContentLength is not null || response.ContentType is not null)
        {
            return;
        }
        if (response.StatusCode == StatusCodes.Status404NotFound)
        {
            await ApiErrors.WriteAsync(context, 404, ApiErrorCodes.NotFound, $"no such endpoint: {context.Request.Path}").ConfigureAwait(false);
        }
        else if (response.StatusCode == StatusCodes.Status405MethodNotAllowed)
        {
            await ApiErrors.WriteAsync(context, 405, ApiErrorCodes.MethodNotAllowed, $"{context.Request.Path} does not support {context.Request.Method}").ConfigureAwait(false);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3010, EventName = "UnhandledException", Level = LogLevel.Error, Message = "Unhandled exception in {Method} {Path}")]
        public static partial void UnhandledException(ILogger logger, string method, PathString path, Exception exception);
    }
}
