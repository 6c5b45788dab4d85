using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Istio.AppSwitch.Grpc.Tests.Support;

/// <summary>
/// An h2c Kestrel server on 127.0.0.1 that answers every request with one delegate, for responses a correct gRPC
/// server never sends (wrong HTTP status, wrong content type, missing status, broken frames, stream resets).
/// </summary>
internal sealed class RawHttp2Server : IAsyncDisposable
{
    private readonly WebApplication _app;

    private RawHttp2Server(WebApplication app, int port)
    {
        _app = app;
        Address = new Uri($"http://127.0.0.1:{port}");
    }

    public Uri Address { get; }

    public static async Task<RawHttp2Server> StartAsync(RequestDelegate handler)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(
            kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        var app = builder.Build();
        app.Run(handler);
        await app.StartAsync();
        return new RawHttp2Server(app, new Uri(app.Urls.Single()).Port);
    }

    public async ValueTask DisposeAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try
        {
            await _app.StopAsync(stop.Token);
        }
        catch (OperationCanceledException)
        {
        }

        await _app.DisposeAsync();
    }
}
