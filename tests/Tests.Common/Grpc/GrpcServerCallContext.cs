using System.Security.Cryptography.X509Certificates;
using Istio.AppSwitch.Grpc;
using Microsoft.AspNetCore.Http;

namespace Istio.AppSwitch.Tests.Common.Grpc;

/// <summary>
/// What a handler of the <see cref="GrpcTestServer"/> knows about its call, and how it shapes the answer:
/// response headers, trailers and the final status (Grpc.Core's <c>ServerCallContext</c>).
/// </summary>
public sealed class GrpcServerCallContext
{
    internal GrpcServerCallContext(HttpContext httpContext, DateTimeOffset? deadline, CancellationToken cancellationToken, int maxReceiveMessageSize)
    {
        HttpContext = httpContext;
        Deadline = deadline;
        CancellationToken = cancellationToken;
        MaxReceiveMessageSize = maxReceiveMessageSize;
        RequestHeaders = GrpcMetadata.FromHeaders(httpContext.Request.Headers.Select(
            h => new KeyValuePair<string, IEnumerable<string>>(h.Key, h.Value.Select(v => v ?? string.Empty))));
    }

    /// <summary>The underlying ASP.NET Core request, for anything this type does not surface.</summary>
    public HttpContext HttpContext { get; }

    /// <summary>The method path, <c>/package.Service/Method</c>.</summary>
    public string Method => HttpContext.Request.Path.Value ?? string.Empty;

    /// <summary>The request metadata (protocol headers such as <c>grpc-timeout</c> and <c>te</c> left out).</summary>
    public GrpcMetadata RequestHeaders { get; }

    /// <summary>The deadline from the client's <c>grpc-timeout</c>, or null.</summary>
    public DateTimeOffset? Deadline { get; }

    /// <summary>Fires when the client goes away or the deadline passes.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>The client's TLS certificate, when it sent one.</summary>
    public X509Certificate2? ClientCertificate => HttpContext.Connection.ClientCertificate;

    /// <summary>The status sent when the handler returns normally (a thrown <see cref="GrpcException"/> wins).</summary>
    public GrpcStatus Status { get; set; } = GrpcStatus.Ok;

    /// <summary>Trailers sent with the status (in the headers, when the answer is trailers-only).</summary>
    public GrpcMetadata ResponseTrailers { get; } = new();

    internal int MaxReceiveMessageSize { get; }

    /// <summary>Sends the response headers now, with <paramref name="headers"/> added.</summary>
    public async Task WriteResponseHeadersAsync(GrpcMetadata headers)
    {
        ArgumentNullException.ThrowIfNull(headers);
        var response = HttpContext.Response;
        foreach (var entry in headers)
        {
            response.Headers.Append(entry.Key, entry.ToHeaderValue());
        }

        await response.StartAsync(CancellationToken).ConfigureAwait(false);
        await response.BodyWriter.FlushAsync(CancellationToken).ConfigureAwait(false);
    }
}
