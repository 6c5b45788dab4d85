using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;
using Envoy.Service.Discovery.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Istio.AppSwitch.Grpc;
using Istio.AppSwitch.Tests.Common.Grpc;

namespace Istio.AppSwitch.Tests.Common.Xds;

/// <summary>One request the management server received, with the stream it came on and that stream's headers.</summary>
/// <param name="Stream">The stream's sequence number, from 1; a new number means the client reconnected.</param>
/// <param name="Sotw">The request, on a <c>StreamAggregatedResources</c> stream.</param>
/// <param name="Delta">The request, on a <c>DeltaAggregatedResources</c> stream.</param>
/// <param name="Headers">The stream's request metadata.</param>
public sealed record XdsRecordedRequest(int Stream, DiscoveryRequest? Sotw, DeltaDiscoveryRequest? Delta, GrpcMetadata Headers)
{
    /// <summary>The type URL of either kind of request.</summary>
    public string TypeUrl => Sotw?.TypeUrl ?? Delta!.TypeUrl;
}

/// <summary>Where and how an <see cref="XdsManagementServer"/> listens.</summary>
public sealed record XdsManagementServerOptions
{
    /// <summary>The loopback port; 0 picks one. Pass the old port to restart a server in place.</summary>
    public int Port { get; init; }

    /// <summary>When set, TLS (as istiod's port 15012) with this certificate.</summary>
    public X509Certificate2? ServerCertificate { get; init; }
}

/// <summary>
/// A real xDS management server for tests (grpc-go's <c>testutils/fakeserver</c>): serves both ADS methods on the
/// Kestrel gRPC test server, records every request it receives, and sends the responses a test scripts, with real
/// <c>DiscoveryResponse</c> / <c>DeltaDiscoveryResponse</c> protos, Any-packed resources, nonces and versions.
/// </summary>
/// <remarks>
/// Tests drive it step by step: wait for the request the protocol calls for (<see cref="NextRequestAsync"/>), push a
/// response to the current stream (<see cref="PushAsync(DiscoveryResponse)"/>), wait for its ACK or NACK. Each push
/// gets a fresh nonce unless it carries one.
/// </remarks>
public sealed class XdsManagementServer : IAsyncDisposable
{
    /// <summary>The ADS service name.</summary>
    public const string ServiceName = "envoy.service.discovery.v3.AggregatedDiscoveryService";

    private static readonly GrpcMethod<DiscoveryRequest, DiscoveryResponse> Sotw =
        new(GrpcMethodType.DuplexStreaming, ServiceName, "StreamAggregatedResources", DiscoveryRequest.Parser, DiscoveryResponse.Parser);

    private static readonly GrpcMethod<DeltaDiscoveryRequest, DeltaDiscoveryResponse> Delta =
        new(GrpcMethodType.DuplexStreaming, ServiceName, "DeltaAggregatedResources", DeltaDiscoveryRequest.Parser, DeltaDiscoveryResponse.Parser);

    private readonly Channel<XdsRecordedRequest> _pending = Channel.CreateUnbounded<XdsRecordedRequest>();
    private readonly ConcurrentQueue<XdsRecordedRequest> _all = new();
    private GrpcTestServer? _server;
    private int _streams;
    private int _nonce;
    private volatile GrpcServerStreamWriter<DiscoveryResponse>? _sotwWriter;
    private volatile GrpcServerStreamWriter<DeltaDiscoveryResponse>? _deltaWriter;

    private XdsManagementServer()
    {
    }

    /// <summary>The loopback port.</summary>
    public int Port => _server?.Port ?? throw new InvalidOperationException("The server is stopped.");

    /// <summary>The address: <c>http://127.0.0.1:port</c>, or <c>https://</c> with TLS.</summary>
    public Uri Address => _server?.Address ?? throw new InvalidOperationException("The server is stopped.");

    /// <summary>Every request received so far, in order, across restarts.</summary>
    public IReadOnlyList<XdsRecordedRequest> Requests => [.. _all];

    /// <summary>How many streams have been opened, across restarts.</summary>
    public int StreamCount => Volatile.Read(ref _streams);

    /// <summary>Starts a server.</summary>
    public static async Task<XdsManagementServer> StartAsync(XdsManagementServerOptions? options = null)
    {
        var server = new XdsManagementServer();
        await server.RestartAsync(options).ConfigureAwait(false);
        return server;
    }

    /// <summary>Stops the Kestrel server, which aborts every open stream; the recorded requests stay.</summary>
    public async Task StopAsync()
    {
        var server = _server;
        _server = null;
        _sotwWriter = null;
        _deltaWriter = null;
        if (server is not null)
        {
            await server.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Starts (again) on <paramref name="options"/>' port, keeping what was recorded.</summary>
    public async Task RestartAsync(XdsManagementServerOptions? options = null)
    {
        options ??= new XdsManagementServerOptions();
        await StopAsync().ConfigureAwait(false);
        _server = await GrpcTestServer.StartAsync(
            registry => registry.MapDuplexStreaming(Sotw, ServeSotwAsync).MapDuplexStreaming(Delta, ServeDeltaAsync),
            new GrpcTestServerOptions { LoopbackPort = options.Port, ServerCertificate = options.ServerCertificate })
            .ConfigureAwait(false);
    }

    /// <summary>The next request not yet taken, in arrival order.</summary>
    /// <exception cref="TimeoutException">None arrived in time (default 10 s).</exception>
    public async Task<XdsRecordedRequest> NextRequestAsync(TimeSpan? timeout = null)
    {
        using var cancellation = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        try
        {
            return await _pending.Reader.ReadAsync(cancellation.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"No xDS request arrived in time; received so far:\n{string.Join("\n", _all)}");
        }
    }

    /// <summary>The next request, which must be on a SotW stream.</summary>
    public async Task<DiscoveryRequest> NextSotwRequestAsync(TimeSpan? timeout = null) =>
        (await NextRequestAsync(timeout).ConfigureAwait(false)).Sotw ?? throw new InvalidOperationException("Expected a SotW request.");

    /// <summary>The next request, which must be on a Delta stream.</summary>
    public async Task<DeltaDiscoveryRequest> NextDeltaRequestAsync(TimeSpan? timeout = null) =>
        (await NextRequestAsync(timeout).ConfigureAwait(false)).Delta ?? throw new InvalidOperationException("Expected a Delta request.");

    /// <summary>Whether a request is waiting to be taken (to assert that nothing more was sent).</summary>
    public bool TryPeekRequest(out XdsRecordedRequest? request) => _pending.Reader.TryPeek(out request);

    /// <summary>Sends a SotW response on the current stream; returns its nonce.</summary>
    public async Task<string> PushAsync(DiscoveryResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        var writer = _sotwWriter ?? throw new InvalidOperationException("No SotW stream is open.");
        if (response.Nonce.Length == 0)
        {
            response.Nonce = NextNonce();
        }

        await writer.WriteAsync(response).ConfigureAwait(false);
        return response.Nonce;
    }

    /// <summary>Sends a Delta response on the current stream; returns its nonce.</summary>
    public async Task<string> PushAsync(DeltaDiscoveryResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        var writer = _deltaWriter ?? throw new InvalidOperationException("No Delta stream is open.");
        if (response.Nonce.Length == 0)
        {
            response.Nonce = NextNonce();
        }

        await writer.WriteAsync(response).ConfigureAwait(false);
        return response.Nonce;
    }

    /// <summary>A SotW response: every resource packed into an <c>Any</c> of its own type.</summary>
    public static DiscoveryResponse SotwResponse(string typeUrl, string version, params IMessage[] resources)
    {
        var response = new DiscoveryResponse { TypeUrl = typeUrl, VersionInfo = version };
        response.Resources.AddRange(resources.Select(Any.Pack));
        return response;
    }

    /// <summary>A Delta response: each resource named and versioned, and the names removed.</summary>
    public static DeltaDiscoveryResponse DeltaResponse(
        string typeUrl, string systemVersion, IEnumerable<(string Name, string Version, IMessage Resource)> resources, params string[] removed)
    {
        ArgumentNullException.ThrowIfNull(resources);
        var response = new DeltaDiscoveryResponse { TypeUrl = typeUrl, SystemVersionInfo = systemVersion };
        foreach (var (name, version, resource) in resources)
        {
            response.Resources.Add(new Resource { Name = name, Version = version, Resource_ = Any.Pack(resource) });
        }

        response.RemovedResources.AddRange(removed);
        return response;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private string NextNonce() => "nonce-" + Interlocked.Increment(ref _nonce).ToString(CultureInfo.InvariantCulture);

    private async Task ServeSotwAsync(
        GrpcServerStreamReader<DiscoveryRequest> requests, GrpcServerStreamWriter<DiscoveryResponse> responses, GrpcServerCallContext context)
    {
        var stream = Interlocked.Increment(ref _streams);
        _sotwWriter = responses;
        await context.WriteResponseHeadersAsync(new GrpcMetadata()).ConfigureAwait(false);
        await foreach (var request in requests.ReadAllAsync(context.CancellationToken).ConfigureAwait(false))
        {
            Record(new XdsRecordedRequest(stream, request, null, context.RequestHeaders));
        }
    }

    private async Task ServeDeltaAsync(
        GrpcServerStreamReader<DeltaDiscoveryRequest> requests, GrpcServerStreamWriter<DeltaDiscoveryResponse> responses, GrpcServerCallContext context)
    {
        var stream = Interlocked.Increment(ref _streams);
        _deltaWriter = responses;
        await context.WriteResponseHeadersAsync(new GrpcMetadata()).ConfigureAwait(false);
        await foreach (var request in requests.ReadAllAsync(context.CancellationToken).ConfigureAwait(false))
        {
            Record(new XdsRecordedRequest(stream, null, request, context.RequestHeaders));
        }
    }

    private void Record(XdsRecordedRequest request)
    {
        _all.Enqueue(request);
        _pending.Writer.TryWrite(request);
    }
}
