using System.Globalization;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Istio.AppSwitch.Grpc;
using Istio.AppSwitch.Tests.Common.Tls;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace Istio.AppSwitch.Tests.Common.Grpc;

/// <summary>
/// A gRPC server on Kestrel and nothing else from ASP.NET Core (Grpc.AspNetCore cannot be restored here): HTTP/2
/// only, on 127.0.0.1 (h2c, or TLS when a certificate is given) and optionally on a Unix socket. Handlers are
/// registered per method path through <see cref="GrpcHandlerRegistry"/>; unknown paths get UNIMPLEMENTED.
/// </summary>
/// <remarks>
/// The status goes in trailers after the response has started, or alone in the headers (trailers-only) when it
/// has not, as in https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md. <c>grpc-timeout</c> becomes
/// the deadline of <see cref="GrpcServerCallContext.CancellationToken"/>; a handler cancelled by it ends the call
/// with DEADLINE_EXCEEDED.
/// </remarks>
public sealed class GrpcTestServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly IReadOnlyDictionary<string, Func<GrpcServerCallContext, Task>> _handlers;
    private readonly GrpcTestServerOptions _options;

    private GrpcTestServer(WebApplication app, GrpcHandlerRegistry registry, GrpcTestServerOptions options)
    {
        _app = app;
        _handlers = registry.Handlers;
        _options = options;
    }

    /// <summary>The loopback port, or 0 when the server listens on a Unix socket only.</summary>
    public int Port { get; private set; }

    /// <summary>The loopback address: <c>http://127.0.0.1:port</c>, or <c>https://</c> with TLS.</summary>
    public Uri Address => new($"{(_options.ServerCertificate is null ? "http" : "https")}://127.0.0.1:{Port}");

    /// <summary>The Unix socket address, <c>unix:///path</c>, when the server listens on one.</summary>
    public Uri? UnixSocketAddress => _options.UnixSocketPath is { } path ? new Uri("unix://" + path) : null;

    /// <summary>Starts a server with the handlers that <paramref name="configure"/> registers.</summary>
    public static async Task<GrpcTestServer> StartAsync(
        Action<GrpcHandlerRegistry> configure, GrpcTestServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(configure);
        options ??= new GrpcTestServerOptions();
        var registry = new GrpcHandlerRegistry();
        configure(registry);

        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel => ConfigureKestrel(kestrel, options));
        var app = builder.Build();
        var server = new GrpcTestServer(app, registry, options);
        app.Run(server.DispatchAsync);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var loopback = app.Urls.FirstOrDefault(u => u.Contains("127.0.0.1", StringComparison.Ordinal));
        server.Port = loopback is null ? 0 : new Uri(loopback).Port;
        return server;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        // Streaming calls never end by themselves: give them no grace period.
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try
        {
            await _app.StopAsync(stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Open connections were aborted, which is what stopping a test server should do.
        }

        await _app.DisposeAsync().ConfigureAwait(false);
        if (_options.UnixSocketPath is { } path)
        {
            File.Delete(path);
        }
    }

    private static void ConfigureKestrel(KestrelServerOptions kestrel, GrpcTestServerOptions options)
    {
        // Streaming calls are long and mostly idle: Kestrel's body size cap and minimum data rates would abort them
        // (Grpc.AspNetCore lifts these per call for the same reason).
        kestrel.Limits.MaxRequestBodySize = null;
        kestrel.Limits.MinRequestBodyDataRate = null;
        kestrel.Limits.MinResponseDataRate = null;
        if (options.ListenOnLoopback)
        {
            kestrel.Listen(IPAddress.Loopback, options.LoopbackPort, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                if (options.ServerCertificate is { } certificate)
                {
                    listen.UseHttps(https => ConfigureTls(https, certificate, options.ClientCertificateRoots));
                }
            });
        }

        if (options.UnixSocketPath is { } path)
        {
            File.Delete(path);
            kestrel.ListenUnixSocket(path, listen => listen.Protocols = HttpProtocols.Http2);
        }
    }

    private static void ConfigureTls(
        HttpsConnectionAdapterOptions https, X509Certificate2 certificate, X509Certificate2Collection? clientRoots)
    {
        https.ServerCertificate = certificate;
        if (clientRoots is not null)
        {
            https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
            https.ClientCertificateValidation = (clientCertificate, _, _) =>
                TestCertificateAuthority.ChainsTo(clientCertificate, clientRoots);
        }
    }

    private async Task DispatchAsync(HttpContext http)
    {
        var request = http.Request;
        if (!HttpMethods.IsPost(request.Method))
        {
            http.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            return;
        }

        if (!GrpcProtocol.IsGrpcContentType(request.ContentType))
        {
            http.Response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            return;
        }

        http.Response.ContentType = GrpcProtocol.ContentType;
        var path = request.Path.Value ?? string.Empty;
        if (!_handlers.TryGetValue(path, out var handler))
        {
            WriteStatus(http, new GrpcStatus(GrpcStatusCode.Unimplemented, $"Method not found: {path}"), trailers: null);
            return;
        }

        using var callCancellation = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        DateTimeOffset? deadline = null;
        if (GrpcProtocol.TryParseTimeout(request.Headers[GrpcProtocol.TimeoutHeader], out var timeout))
        {
            deadline = DateTimeOffset.UtcNow + timeout;
            callCancellation.CancelAfter(timeout);
        }

        var context = new GrpcServerCallContext(http, deadline, callCancellation.Token, _options.MaxReceiveMessageSize);
        GrpcStatus status;
        try
        {
            await handler(context).ConfigureAwait(false);
            status = context.Status;
        }
        catch (Exception) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client reset the stream or went away: nobody is left to read a status.
            return;
        }
        catch (GrpcException ex)
        {
            status = ex.Status;
            context.ResponseTrailers.AddRange(ex.Trailers);
        }
        catch (OperationCanceledException) when (callCancellation.IsCancellationRequested)
        {
            status = new GrpcStatus(GrpcStatusCode.DeadlineExceeded, "Deadline Exceeded");
        }
        catch (Exception ex)
        {
            // Any other handler failure is UNKNOWN, as in gRPC servers.
            status = new GrpcStatus(GrpcStatusCode.Unknown, $"Exception was thrown by handler. {ex.GetType().Name}: {ex.Message}");
        }

        WriteStatus(http, status, context.ResponseTrailers);
    }

    private static void WriteStatus(HttpContext http, GrpcStatus status, GrpcMetadata? trailers)
    {
        var response = http.Response;
        var code = ((int)status.Code).ToString(CultureInfo.InvariantCulture);
        Action<string, string> add = response.HasStarted
            ? (key, value) => response.AppendTrailer(key, value)
            : (key, value) => response.Headers.Append(key, value); // trailers-only
        add(GrpcProtocol.StatusHeader, code);
        if (!string.IsNullOrEmpty(status.Detail))
        {
            add(GrpcProtocol.MessageHeader, GrpcProtocol.EncodeStatusMessage(status.Detail));
        }

        foreach (var entry in trailers ?? [])
        {
            add(entry.Key, entry.ToHeaderValue());
        }
    }
}
