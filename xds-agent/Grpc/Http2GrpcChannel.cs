using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;

namespace Istio.AppSwitch.Grpc;

/// <summary>
/// A gRPC channel over .NET's own HTTP/2 client (<see cref="SocketsHttpHandler"/>): the stand-in for
/// Grpc.Net.Client's <c>GrpcChannel</c>. One channel owns one connection pool to one server; calls are
/// multiplexed as HTTP/2 streams, and new connections are opened only when a connection's stream limit is reached.
/// </summary>
/// <remarks>
/// Thread-safe. Disposing the channel cancels the calls still running and closes its connections.
/// </remarks>
public sealed class Http2GrpcChannel : IGrpcCallInvoker, IDisposable
{
    private static readonly string UserAgent =
        $"ax-grpc/{typeof(Http2GrpcChannel).Assembly.GetName().Version?.ToString(3) ?? "0.0.0"}";

    // HttpMessageInvoker rather than HttpClient: it never buffers the response (the equivalent of
    // HttpCompletionOption.ResponseHeadersRead, which streaming needs) and has no 100-second default timeout
    // that would cut long-lived ADS streams; gRPC has deadlines for that.
    private readonly HttpMessageInvoker _invoker;
    private readonly Uri _baseAddress;
    private readonly GrpcMetadata _defaultMetadata = new();
    private readonly CancellationTokenSource _disposal = new();
    private volatile bool _disposed;

    /// <summary>Creates a channel; no connection is made until the first call.</summary>
    /// <exception cref="ArgumentException">The options are inconsistent (see the message).</exception>
    public Http2GrpcChannel(GrpcChannelOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.MaxReceiveMessageSize, 0, nameof(options));
        if (options.DefaultMetadata is not null)
        {
            _defaultMetadata.AddRange(options.DefaultMetadata);
        }

        var handler = new SocketsHttpHandler
        {
            // gRPC talks to one server: no proxy, cookies, redirects or decompression may get in between.
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = options.ConnectTimeout,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            // Without it, calls beyond the server's SETTINGS_MAX_CONCURRENT_STREAMS queue instead of connecting anew.
            EnableMultipleHttp2Connections = true,
            KeepAlivePingDelay = options.KeepAlivePingDelay ?? Timeout.InfiniteTimeSpan,
            KeepAlivePingTimeout = options.KeepAlivePingTimeout,
            KeepAlivePingPolicy = options.KeepAliveWithoutCalls
                ? HttpKeepAlivePingPolicy.Always
                : HttpKeepAlivePingPolicy.WithActiveRequests,
        };
        try
        {
            _baseAddress = ConfigureEndpoint(handler, options);
        }
        catch
        {
            handler.Dispose();
            throw;
        }

        _invoker = new HttpMessageInvoker(handler, disposeHandler: true);
    }

    /// <summary>The options the channel was created with.</summary>
    public GrpcChannelOptions Options { get; }

    /// <inheritdoc />
    public async Task<TResponse> UnaryAsync<TRequest, TResponse>(
        GrpcMethod<TRequest, TResponse> method, TRequest request, GrpcCallOptions options = default)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(request);
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var call = new Http2GrpcCall<TRequest, TResponse>(method, Options, duplexContent: null);
        call.Start(_invoker, CreateRequest(method.FullName, new UnaryRequestContent(request), options.Headers), options, _disposal.Token);
        return await call.ReadSingleResponseAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    public GrpcDuplexCall<TRequest, TResponse> StartDuplexStreaming<TRequest, TResponse>(
        GrpcMethod<TRequest, TResponse> method, GrpcCallOptions options = default)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>
    {
        ArgumentNullException.ThrowIfNull(method);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var content = new DuplexRequestContent();
        var call = new Http2GrpcCall<TRequest, TResponse>(method, Options, content);
        call.Start(_invoker, CreateRequest(method.FullName, content, options.Headers), options, _disposal.Token);
        return call;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _disposed = true;
        // SocketsHttpHandler lets streams in flight finish after its disposal; a closed channel ends its calls.
        _disposal.Cancel();
        _invoker.Dispose();
    }

    private HttpRequestMessage CreateRequest(string path, HttpContent content, GrpcMetadata? metadata)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_baseAddress, path))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = content,
        };
        var headers = request.Headers;
        // Proxies drop trailers unless the client says it understands them; gRPC's status lives there.
        headers.TryAddWithoutValidation("te", "trailers");
        headers.TryAddWithoutValidation("user-agent", UserAgent);
        headers.TryAddWithoutValidation(GrpcProtocol.AcceptEncodingHeader, GrpcProtocol.IdentityEncoding);
        AddMetadata(headers, _defaultMetadata);
        if (metadata is not null)
        {
            AddMetadata(headers, metadata);
        }

        return request;
    }

    private static void AddMetadata(HttpRequestHeaders headers, GrpcMetadata metadata)
    {
        foreach (var entry in metadata)
        {
            headers.TryAddWithoutValidation(entry.Key, entry.ToHeaderValue());
        }
    }

    // Returns the base address of requests (scheme and :authority) and sets up how the handler reaches the server.
    private static Uri ConfigureEndpoint(SocketsHttpHandler handler, GrpcChannelOptions options)
    {
        var address = options.Address;
        var hasTlsOptions = options.TrustedCertificates is not null || options.TrustedCertificatesPemFile is not null ||
            options.ClientCertificate is not null;
        switch (address.Scheme)
        {
            case "http":
                ThrowIf(hasTlsOptions, "TLS options need an https:// address.");
                return new Uri(address.GetLeftPart(UriPartial.Authority));
            case "https":
                handler.SslOptions = CreateSslOptions(options);
                return new Uri(address.GetLeftPart(UriPartial.Authority));
            case "unix":
                ThrowIf(hasTlsOptions, "TLS options need an https:// address.");
                var path = Uri.UnescapeDataString(address.AbsolutePath);
                ThrowIf(!Path.IsPathRooted(path), "A unix: address needs an absolute path, e.g. unix:///run/ax.sock.");
                var endPoint = new UnixDomainSocketEndPoint(path);
                handler.ConnectCallback = (_, cancellationToken) => ConnectUnixSocketAsync(endPoint, cancellationToken);
                return new Uri("http://localhost");
            default:
                throw new ArgumentException(
                    $"Unsupported address scheme '{address.Scheme}': use http, https or unix.", nameof(options));
        }
    }

    private static SslClientAuthenticationOptions CreateSslOptions(GrpcChannelOptions options)
    {
        ThrowIf(
            options.TrustedCertificates is not null && options.TrustedCertificatesPemFile is not null,
            "Set TrustedCertificates or TrustedCertificatesPemFile, not both.");
        var ssl = new SslClientAuthenticationOptions();
        var roots = options.TrustedCertificates;
        if (options.TrustedCertificatesPemFile is { } pemFile)
        {
            roots = [];
            roots.ImportFromPemFile(pemFile);
            ThrowIf(roots.Count == 0, $"No certificate in '{pemFile}'.");
        }

        if (roots is not null)
        {
            // SslStream builds the chain with this policy and still checks the host name itself, so a certificate
            // from the system store, or for another name, is refused. Mesh CAs publish no revocation lists.
            var policy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
                DisableCertificateDownloads = true,
            };
            policy.CustomTrustStore.AddRange(roots);
            ssl.CertificateChainPolicy = policy;
        }

        if (options.ClientCertificate is { } clientCertificate)
        {
            ThrowIf(!clientCertificate.HasPrivateKey, "The client certificate has no private key.");
            ssl.ClientCertificateContext = SslStreamCertificateContext.Create(clientCertificate, additionalCertificates: null);
        }

        return ssl;
    }

    private static async ValueTask<Stream> ConnectUnixSocketAsync(UnixDomainSocketEndPoint endPoint, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static void ThrowIf(bool condition, string message)
    {
        if (condition)
        {
            throw new ArgumentException(message, "options");
        }
    }
}
