using System.Text;
using Istio.AppSwitch.Dataplane.Observability;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Istio.AppSwitch.Daemon;

/// <summary>
/// The <c>--metrics</c> listener. It shares the daemon's Kestrel, but a connection accepted on it is marked, and on a
/// marked connection this middleware answers <c>GET /metrics</c> and nothing else: the REST API (which trusts its Unix
/// socket's mode and peer credentials) is never reachable over the metrics address, and <c>/metrics</c> is not part of
/// the API socket.
/// </summary>
internal sealed class MetricsEndpoint(RequestDelegate next)
{
    private const string MarkKey = "ax.metrics";

    /// <summary>Adds the listener to Kestrel, marking its connections.</summary>
    public static void Listen(KestrelServerOptions kestrel, MetricsAddress address)
    {
        static void Configure(ListenOptions listen)
        {
            listen.Protocols = HttpProtocols.Http1;
            listen.Use(next => connection =>
            {
                connection.Items[MarkKey] = true;
                return next(connection);
            });
        }

        if (address.Tcp is { } tcp)
        {
            kestrel.Listen(tcp, Configure);
        }
        else
        {
            kestrel.ListenUnixSocket(address.UnixPath!, Configure);
        }
    }

    public async Task InvokeAsync(HttpContext context)
    {
        if (context.Features.Get<IConnectionItemsFeature>()?.Items.ContainsKey(MarkKey) != true)
        {
            await next(context).ConfigureAwait(false);
            return;
        }
        var response = context.Response;
        if (context.Request.Path != "/metrics")
        {
            response.StatusCode = StatusCodes.Status404NotFound;
            response.ContentType = "text/plain; charset=utf-8";
            await response.WriteAsync("only /metrics is served here\n", context.RequestAborted).ConfigureAwait(false);
            return;
        }
        if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
        {
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            response.Headers.Allow = "GET, HEAD";
            return;
        }

        // Rendered whole before the first byte: a source that throws yields a 500, never half a page.
        var text = new StringWriter(System.Globalization.CultureInfo.InvariantCulture) { NewLine = "\n" };
        var writer = new PrometheusTextWriter(text);
        foreach (var source in context.RequestServices.GetServices<IMetricsSource>())
        {
            source.WriteTo(writer);
        }
        var body = Encoding.UTF8.GetBytes(text.ToString());
        response.ContentType = PrometheusTextWriter.ContentType;
        response.ContentLength = body.Length;
        if (HttpMethods.IsGet(context.Request.Method))
        {
            await response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
        }
    }
}
