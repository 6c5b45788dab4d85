using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;

namespace Istio.AppSwitch.Daemon.Tests;

public sealed class ApiErrorMiddlewareTests
{
    [Fact]
    public async Task InvokeAsync_HandlerThrows_500WithoutStackTrace()
    {
        var middleware = new ApiErrorMiddleware(
            _ => throw new InvalidOperationException("secret detail at Some.Type.Method()"),
            NullLogger<ApiErrorMiddleware>.Instance);
        var context = new DefaultHttpContext();
        context.Response.Body = new MemoryStream();

        await middleware.InvokeAsync(context);

        Assert.Equal(500, context.Response.StatusCode);
        var text = System.Text.Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray());
        Assert.DoesNotContain("secret", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Some.Type", text, StringComparison.Ordinal);
        var error = JsonDocument.Parse(text).RootElement.GetProperty("error");
        Assert.Equal("internal", error.GetProperty("code").GetString());
        Assert.Equal(500, error.GetProperty("status").GetInt32());
    }
}
