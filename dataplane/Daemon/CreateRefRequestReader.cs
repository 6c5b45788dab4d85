using System.Text;
using System.Text.Json;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Dataplane.Configuration;
using Istio.AppSwitch.Dataplane.Policy;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Istio.AppSwitch.Daemon;

/// <summary>
/// Reads the body of <c>POST /v1/refs</c>. Walks the JSON by hand rather than binding it, so that every problem
/// is reported by field: a value of the wrong type, an unknown field (a typo such as <c>selecter</c> would
/// otherwise be dropped silently), and syntax errors with their position.
/// </summary>
internal static class CreateRefRequestReader
{
    private static readonly string[] KnownFields = ["name", "vip", "selector", "clients", "dns", "wait", "nonblocking", "exclude", "proxyProtocol", "noUnix"];

    /// <summary>Returns the spec, or the error response to send instead.</summary>
    public static async Task<(RefSpec? Spec, IResult? Error)> ReadAsync(HttpRequest request)
    {
        if (!IsJson(request.ContentType))
        {
            return (null, ApiErrors.Result(StatusCodes.Status415UnsupportedMediaType, ApiErrorCodes.UnsupportedMediaType,
                $"the request body must be JSON (Content-Type: application/json), not {(string.IsNullOrEmpty(request.ContentType) ? "no content type" : $"\"{request.ContentType}\"")}"));
        }

        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, default, request.HttpContext.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            return (null, ApiErrors.Result(StatusCodes.Status400BadRequest, ApiErrorCodes.InvalidArgument, DescribeSyntaxError(e)));
        }

        using (document)
        {
            try
            {
                return Read(document.RootElement);
            }
            catch (InvalidOperationException e) when (e.InnerException is DecoderFallbackException)
            {
                // JsonDocument checks the structure but not the UTF-8 inside strings: a bad sequence surfaces only when
                // a name or value is read, and is the client's error, not the daemon's.
                return (null, ApiErrors.Result(StatusCodes.Status400BadRequest, ApiErrorCodes.InvalidArgument,
                    "the request body is not valid UTF-8 JSON: a string holds an invalid UTF-8 sequence"));
            }
        }
    }

    /// <summary>Maps a parsed body to a spec, collecting every field problem.</summary>
    internal static (RefSpec? Spec, IResult? Error) Read(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return (null, ApiErrors.Result(StatusCodes.Status400BadRequest, ApiErrorCodes.InvalidArgument,
                $"the request body must be a JSON object, not {Describe(root.ValueKind)}"));
        }

        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        var errors = new List<FieldError>();
        var noUnix = false;
        foreach (var property in root.EnumerateObject())
        {
            var field = KnownFields.FirstOrDefault(f => string.Equals(f, property.Name, StringComparison.OrdinalIgnoreCase));
            if (field is null)
            {
                errors.Add(new FieldError(property.Name, $"unknown field \"{property.Name}\" (known: {string.Join(", ", KnownFields)})"));
                continue;
            }
            if (field == "noUnix")
            {
                // The one boolean field.
                switch (property.Value.ValueKind)
                {
                    case JsonValueKind.True or JsonValueKind.False:
                        noUnix = property.Value.GetBoolean();
                        break;
                    case JsonValueKind.Null:
                        break;
                    default:
                        errors.Add(new FieldError(field, $"noUnix must be a boolean (true or false), not {Describe(property.Value.ValueKind)}"));
                        break;
                }
                continue;
            }
            switch (property.Value.ValueKind)
            {
                case JsonValueKind.String:
                    values[field] = property.Value.GetString();
                    break;
                case JsonValueKind.Null:
                    values[field] = null;
                    break;
                default:
                    errors.Add(new FieldError(field, $"{field} must be a string, not {Describe(property.Value.ValueKind)}"));
                    break;
            }
        }
        if (errors.Count > 0)
        {
            return (null, ApiErrors.Validation(errors));
        }
        var spec = new RefSpec(
            values.GetValueOrDefault("name"),
            values.GetValueOrDefault("vip"),
            values.GetValueOrDefault("selector"),
            values.GetValueOrDefault("clients"),
            values.GetValueOrDefault("dns"),
            values.GetValueOrDefault("wait"),
            values.GetValueOrDefault("nonblocking"),
            values.GetValueOrDefault("exclude"),
            values.GetValueOrDefault("proxyProtocol"),
            noUnix);
        return (spec, null);
    }

    internal static bool IsJson(string? contentType)
    {
        if (!MediaTypeHeaderValue.TryParse(contentType, out var mediaType))
        {
            return false;
        }
        var type = mediaType.MediaType.Value;
        return string.Equals(type, "application/json", StringComparison.OrdinalIgnoreCase)
            || (type?.StartsWith("application/", StringComparison.OrdinalIgnoreCase) == true && type.EndsWith("+json", StringComparison.OrdinalIgnoreCase));
    }

    private static string DescribeSyntaxError(JsonException e)
    {
        // The reader's message ends with its own " LineNumber: 0 | BytePositionInLine: 7." (zero-based); say it once, one-based.
        var reason = e.Message;
        var cut = reason.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (cut > 0)
        {
            reason = reason[..cut];
        }
        var where = e.LineNumber is { } line ? $" at line {line + 1}, column {(e.BytePositionInLine ?? 0) + 1}" : "";
        return $"malformed JSON in the request body{where}: {reason}";
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };
}
