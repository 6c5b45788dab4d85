using System.Text.Json;
using System.Text.Json.Serialization;
using Istio.AppSwitch.Dataplane.Api;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Istio.AppSwitch.Daemon;

/// <summary>
/// Reads the body of <c>POST /v1/mesh</c>. Unlike a ref, a mesh update is written by a program (the xds-agent), so it
/// is bound by the source-generated serializer, strictly: an unknown field is an error (a field the daemon does not
/// know would otherwise be dropped, and a rule silently weakened).
/// </summary>
internal static class MeshRequestReader
{
    private static ApiJsonContext? _strict;

    private static ApiJsonContext Strict => _strict ??= new(new JsonSerializerOptions(ApiJsonContext.Default.Options)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        TypeInfoResolver = null,
    });

    /// <summary>Returns the request, or the error response to send instead.</summary>
    public static async Task<(MeshUpdateRequest? Request, IResult? Error)> ReadAsync(HttpRequest request, long maxBodyBytes)
    {
        // A whole mesh is far larger than any other body: raise the limit for this request only, before reading.
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = maxBodyBytes;
        }

        if (!CreateRefRequestReader.IsJson(request.ContentType))
        {
            return (null, ApiErrors.Result(StatusCodes.Status415UnsupportedMediaType, ApiErrorCodes.UnsupportedMediaType,
                $"the request body must be JSON (Content-Type: application/json), not {(string.IsNullOrEmpty(request.ContentType) ? "no content type" : $"\"{request.ContentType}\"")}"));
        }

        try
        {
            var body = await JsonSerializer.DeserializeAsync(request.Body, Strict.MeshUpdateRequest, request.HttpContext.RequestAborted)
                .ConfigureAwait(false);
            return body is null
                ? (null, ApiErrors.Result(StatusCodes.Status400BadRequest, ApiErrorCodes.InvalidArgument, "the request body must be a JSON object, not null"))
                : (body, null);
        }
        catch (JsonException e)
        {
            var where = e.Path is { Length: > 1 } path ? $" at {path}" : "";
            var reason = e.Message;
            var cut = reason.IndexOf(" Path:", StringComparison.Ordinal);
            if (cut > 0)
            {
                reason = reason[..cut];
            }

            return (null, ApiErrors.Result(StatusCodes.Status400BadRequest, ApiErrorCodes.InvalidArgument, $"invalid mesh update{where}: {reason}"));
        }
    }
}
