using System.Text.Json;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Dataplane.Configuration;
using Microsoft.AspNetCore.Http;

namespace Istio.AppSwitch.Daemon;

/// <summary>Builds the API's error bodies: <c>{"error": {"status", "code", "message", "field"?, "details"?}}</c>.</summary>
internal static class ApiErrors
{
    /// <summary>An error result for a handler.</summary>
    public static IResult Result(int status, string code, string message, string? field = null, List<ErrorDetail>? details = null) =>
        TypedResults.Json(Body(status, code, message, field, details), ApiJsonContext.Relaxed.ErrorResponse, statusCode: status);

    /// <summary>
    /// 400 for a failed validation: every problem in <c>details</c>; <c>field</c> and <c>message</c> name the
    /// problem when there is only one.
    /// </summary>
    public static IResult Validation(ValidationException exception) => Validation(exception.Errors);

    /// <summary>400 for a list of field problems (at least one).</summary>
    public static IResult Validation(IReadOnlyList<FieldError> errors)
    {
        var details = errors.Select(e => new ErrorDetail { Field = e.Field, Message = e.Message }).ToList();
        return errors.Count == 1
            ? Result(StatusCodes.Status400BadRequest, ApiErrorCodes.InvalidArgument, errors[0].Message, errors[0].Field, details)
            : Result(StatusCodes.Status400BadRequest, ApiErrorCodes.InvalidArgument,
                $"{errors.Count} invalid fields: {string.Join("; ", errors.Select(e => e.Message))}", null, details);
    }

    /// <summary>Writes an error directly to a response that has not started (for middleware).</summary>
    public static Task WriteAsync(HttpContext context, int status, string code, string message)
    {
        context.Response.Clear();
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        return JsonSerializer.SerializeAsync(context.Response.Body, Body(status, code, message, null, null), ApiJsonContext.Relaxed.ErrorResponse, context.RequestAborted);
    }

    private static ErrorResponse Body(int status, string code, string message, string? field, List<ErrorDetail>? details) =>
        new() { Error = new ErrorBody { Status = status, Code = code, Message = message, Field = field, Details = details } };
}
