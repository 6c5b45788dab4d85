using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Istio.AppSwitch.Dataplane.Api;

/// <summary>
/// The REST API's client: HTTP/1.1 over the daemon's Unix socket (a <see cref="SocketsHttpHandler"/> whose
/// <c>ConnectCallback</c> dials the socket). Used by <c>ax get|create|delete</c>. Errors come back as
/// <see cref="AxApiException"/> (the daemon answered with an error) or <see cref="DaemonUnreachableException"/>
/// (nothing answered).
/// </summary>
public sealed class AxApiClient : IDisposable
{
    private readonly HttpClient _http;

    /// <summary>Creates a client for the daemon listening on <paramref name="socketPath"/>.</summary>
    public AxApiClient(string socketPath, TimeSpan? timeout = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        SocketPath = socketPath;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
            // One short-lived command, one connection: nothing to pool.
            PooledConnectionLifetime = TimeSpan.FromSeconds(30),
            UseProxy = false,
        };
        _http = new HttpClient(handler)
        {
            // The host is ignored by the daemon; a fixed one keeps the request line valid.
            BaseAddress = new Uri("http://ax/"),
            Timeout = timeout ?? TimeSpan.FromSeconds(30),
        };
        _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
    }

    /// <summary>The daemon's socket.</summary>
    public string SocketPath { get; }

    /// <summary><c>GET /v1/apps</c>.</summary>
    public Task<List<AppDto>> GetAppsAsync(CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, "v1/apps", null, ApiJsonContext.Default.ListAppDto, cancellationToken);

    /// <summary><c>GET /v1/apps/{id}</c>.</summary>
    public Task<AppDto> GetAppAsync(string id, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, $"v1/apps/{Uri.EscapeDataString(id)}", null, ApiJsonContext.Default.AppDto, cancellationToken);

    /// <summary><c>GET /v1/services</c>.</summary>
    public Task<List<ServiceDto>> GetServicesAsync(CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, "v1/services", null, ApiJsonContext.Default.ListServiceDto, cancellationToken);

    /// <summary><c>GET /v1/refs</c>.</summary>
    public Task<List<RefDto>> GetRefsAsync(CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, "v1/refs", null, ApiJsonContext.Default.ListRefDto, cancellationToken);

    /// <summary><c>GET /v1/refs/{name}</c>.</summary>
    public Task<RefDto> GetRefAsync(string name, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, $"v1/refs/{Uri.EscapeDataString(name)}", null, ApiJsonContext.Default.RefDto, cancellationToken);

    /// <summary><c>POST /v1/refs</c>.</summary>
    public Task<RefDto> CreateRefAsync(CreateRefRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var body = JsonSerializer.SerializeToUtf8Bytes(request, ApiJsonContext.Default.CreateRefRequest);
        return SendAsync(HttpMethod.Post, "v1/refs", body, ApiJsonContext.Default.RefDto, cancellationToken);
    }

    /// <summary><c>DELETE /v1/refs/{name}</c>.</summary>
    public Task DeleteRefAsync(string name, CancellationToken cancellationToken = default) =>
        SendAsync<object>(HttpMethod.Delete, $"v1/refs/{Uri.EscapeDataString(name)}", null, null, cancellationToken);

    /// <summary><c>GET /v1/mesh</c>: the mesh rules the xds-agent programmed.</summary>
    public Task<MeshStateDto> GetMeshAsync(CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, "v1/mesh", null, ApiJsonContext.Default.MeshStateDto, cancellationToken);

    /// <summary><c>GET /v1/delegation</c>: the sidecars registered for socket delegation.</summary>
    public Task<List<Delegation.SidecarDto>> GetSidecarsAsync(CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, "v1/delegation", null, Delegation.DelegationJsonContext.Default.ListSidecarDto, cancellationToken);

    /// <summary><c>POST /v1/mesh</c>: applies one atomic change of the mesh rules.</summary>
    public Task<MeshUpdateResponse> UpdateMeshAsync(MeshUpdateRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var body = JsonSerializer.SerializeToUtf8Bytes(request, ApiJsonContext.Default.MeshUpdateRequest);
        return SendAsync(HttpMethod.Post, "v1/mesh", body, ApiJsonContext.Default.MeshUpdateResponse, cancellationToken);
    }

    /// <summary><c>GET /v1/connections</c>: the recent connect decisions, newest first; of one app when <paramref name="app"/> is given.</summary>
    public Task<List<ConnectionDto>> GetConnectionsAsync(string? app = null, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, app is null ? "v1/connections" : $"v1/connections?app={Uri.EscapeDataString(app)}", null,
            ApiJsonContext.Default.ListConnectionDto, cancellationToken);

    /// <summary><c>GET /v1/refs/{name}/describe</c>.</summary>
    public Task<RefDescriptionDto> DescribeRefAsync(string name, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, $"v1/refs/{Uri.EscapeDataString(name)}/describe", null, ApiJsonContext.Default.RefDescriptionDto, cancellationToken);

    /// <summary><c>GET /v1/apps/{id}/describe</c>.</summary>
    public Task<AppDescriptionDto> DescribeAppAsync(string id, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, $"v1/apps/{Uri.EscapeDataString(id)}/describe", null, ApiJsonContext.Default.AppDescriptionDto, cancellationToken);

    /// <summary>
    /// <c>GET /v1/events</c>: the event stream, one JSON object a line, as the daemon writes them, until
    /// <paramref name="cancellationToken"/> or the daemon ends the stream. <paramref name="subscribed"/> runs once the
    /// daemon has answered, when no event can be missed any more.
    /// </summary>
    public async IAsyncEnumerable<string> StreamEventsAsync(Action? subscribed = null,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/events");
        HttpResponseMessage response;
        try
        {
            // Headers only: the body never ends, and the client's timeout covers the wait for the headers alone.
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e) when (e.InnerException is SocketException socketError)
        {
            throw new DaemonUnreachableException(SocketPath, Describe(socketError), e);
        }
        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                throw AxApiException.FromResponse(response.StatusCode, await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
            }
            subscribed?.Invoke();
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));
            while (await ReadLineOrEndAsync(reader, cancellationToken).ConfigureAwait(false) is { } line)
            {
                if (line.Length != 0)
                {
                    yield return line;
                }
            }
        }
    }

    private static async Task<string?> ReadLineOrEndAsync(StreamReader reader, CancellationToken cancellationToken)
    {
        try
        {
            return await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
        {
            return null; // the daemon stopped: the stream simply ends
        }
    }

    /// <summary><c>GET /v1/version</c>.</summary>
    public Task<VersionDto> GetVersionAsync(CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, "v1/version", null, ApiJsonContext.Default.VersionDto, cancellationToken);

    private async Task<T> SendAsync<T>(HttpMethod method, string path, byte[]? body, JsonTypeInfo<T>? typeInfo, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e) when (e.InnerException is SocketException socketError)
        {
            throw new DaemonUnreachableException(SocketPath, Describe(socketError), e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new DaemonUnreachableException(SocketPath, $"no answer within {_http.Timeout.TotalSeconds:0} s", e);
        }

        using (response)
        {
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw AxApiException.FromResponse(response.StatusCode, bytes);
            }
            if (typeInfo is null)
            {
                return default!;
            }
            try
            {
                return JsonSerializer.Deserialize(bytes, typeInfo)
                    ?? throw new AxApiException(response.StatusCode, ApiErrorCodes.Internal, "the daemon answered null", null, []);
            }
            catch (JsonException e)
            {
                throw new AxApiException(response.StatusCode, ApiErrorCodes.Internal, $"the daemon's answer is not the expected JSON: {e.Message}", null, []);
            }
        }
    }

    /// <summary>
    /// Says why a connect failed in the terms of a Unix socket. .NET maps errno to <see cref="SocketError"/> for
    /// IP sockets, so ENOENT (no socket file) reads "Cannot assign requested address" unless put back.
    /// </summary>
    private string Describe(SocketException e) => e.SocketErrorCode switch
    {
        _ when !File.Exists(SocketPath) => "no such file or directory",
        SocketError.ConnectionRefused => "connection refused (the socket file is there but nothing listens on it)",
        SocketError.AccessDenied => "permission denied (the socket's mode and owner decide who may connect)",
        SocketError.AddressNotAvailable => "no such file or directory",
        _ => e.Message,
    };

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();
}

/// <summary>The daemon answered a request with an error (<c>{"error": {...}}</c>).</summary>
public sealed class AxApiException : Exception
{
    /// <summary>Creates the exception from the parts of an error body.</summary>
    public AxApiException(HttpStatusCode status, string code, string message, string? field, IReadOnlyList<ErrorDetail> details)
        : base(message)
    {
        Status = status;
        Code = code;
        Field = field;
        Details = details;
    }

    /// <summary>The HTTP status.</summary>
    public HttpStatusCode Status { get; }

    /// <summary>The error code (<see cref="ApiErrorCodes"/>).</summary>
    public string Code { get; }

    /// <summary>The field at fault, if one.</summary>
    public string? Field { get; }

    /// <summary>Every field problem, possibly none.</summary>
    public IReadOnlyList<ErrorDetail> Details { get; }

    /// <summary>Reads an error response; a body that is not the API's error JSON becomes a generic message.</summary>
    internal static AxApiException FromResponse(HttpStatusCode status, byte[] body)
    {
        try
        {
            var error = JsonSerializer.Deserialize(body, ApiJsonContext.Default.ErrorResponse)?.Error;
            if (error is not null)
            {
                return new AxApiException(status, error.Code, error.Message, error.Field, error.Details ?? []);
            }
        }
        catch (JsonException)
        {
        }
        var text = Encoding.UTF8.GetString(body).Trim();
        var message = $"the daemon answered {(int)status} {status}" + (text.Length > 0 && text.Length < 200 ? $": {text}" : "");
        return new AxApiException(status, ApiErrorCodes.Internal, message, null, []);
    }
}

/// <summary>Nothing answered on the daemon's socket (no file, nobody listening, no permission, no answer).</summary>
public sealed class DaemonUnreachableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DaemonUnreachableException(string socketPath, string reason, Exception? inner)
        : base($"cannot reach the ax daemon at {socketPath}: {reason} (is 'ax daemon' running?)", inner)
    {
        SocketPath = socketPath;
        Reason = reason;
    }

    /// <summary>The socket that was tried.</summary>
    public string SocketPath { get; }

    /// <summary>Why, as the system said it.</summary>
    public string Reason { get; }
}
