using System.Globalization;
using Istio.AppSwitch.Grpc;

namespace Istio.AppSwitch.Xds.Sidecar;

/// <summary>
/// How to reach Pilot (istiod), from <c>--pilot HOST:PORT</c>. Port 15010 is istiod's plaintext gRPC port (h2c);
/// 15012 its TLS port, where istiod wants a bearer token (the pod's projected service account token) and the
/// <c>clusterid</c> header, as pilot-agent sends them.
/// </summary>
public sealed record PilotConnectionOptions
{
    /// <summary>istiod's plaintext xDS port.</summary>
    public const int PlaintextPort = 15010;

    /// <summary>istiod's TLS xDS port.</summary>
    public const int TlsPort = 15012;

    /// <summary>The host name or IP address.</summary>
    public required string Host { get; init; }

    /// <summary>The port.</summary>
    public required int Port { get; init; }

    /// <summary>Whether to speak TLS; null means by port: TLS on <see cref="TlsPort"/> or when a CA file is set.</summary>
    public bool? UseTls { get; init; }

    /// <summary>A PEM file of the roots istiod's certificate must chain to (istio-ca-root-cert); null means the system store.</summary>
    public string? CaCertificateFile { get; init; }

    /// <summary>A file holding the bearer token; read again on every connection, since Kubernetes rotates it.</summary>
    public string? TokenFile { get; init; }

    /// <summary>The cluster id sent as the <c>clusterid</c> header (istiod uses it to pick the token's authenticator).</summary>
    public string? ClusterId { get; init; }

    /// <summary>Whether the connection is TLS, with the default applied.</summary>
    public bool IsTls => UseTls ?? (Port == TlsPort || CaCertificateFile is not null);

    /// <summary>The server address as a URI: <c>http://host:port</c> or <c>https://host:port</c>.</summary>
    public Uri Address => new UriBuilder(IsTls ? "https" : "http", Host, Port).Uri;

    /// <summary>Parses <c>HOST:PORT</c> (an IPv6 address in brackets: <c>[::1]:15010</c>).</summary>
    /// <exception cref="FormatException">The text has no host or no valid port.</exception>
    public static PilotConnectionOptions Parse(string hostAndPort)
    {
        ArgumentNullException.ThrowIfNull(hostAndPort);
        var colon = hostAndPort.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(hostAndPort.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) ||
            port is < 1 or > 65535)
        {
            throw new FormatException($"--pilot '{hostAndPort}' must be HOST:PORT, e.g. istiod.istio-system.svc:15012");
        }

        var host = hostAndPort[..colon];
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }
        else if (host.Contains(':', StringComparison.Ordinal))
        {
            throw new FormatException($"--pilot '{hostAndPort}': put an IPv6 address in brackets, e.g. [::1]:15010");
        }

        return new PilotConnectionOptions { Host = host, Port = port };
    }

    /// <summary>The channel options: address, trusted roots, keepalive.</summary>
    public GrpcChannelOptions ToChannelOptions(TimeProvider? timeProvider = null) => new()
    {
        Address = Address,
        TrustedCertificatesPemFile = IsTls ? CaCertificateFile : null,

        // A dead istiod behind a silent network would otherwise hold the stream open forever.
        KeepAlivePingDelay = TimeSpan.FromSeconds(30),
        KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
        TimeProvider = timeProvider ?? TimeProvider.System,
    };

    /// <summary>
    /// The metadata of each ADS call: <c>authorization: Bearer …</c> (TLS only: a token must never cross a plaintext
    /// connection) and <c>clusterid</c>.
    /// </summary>
    /// <exception cref="IOException">The token file cannot be read.</exception>
    public GrpcMetadata CreateCallHeaders()
    {
        var headers = new GrpcMetadata();
        if (IsTls && TokenFile is not null)
        {
            var token = File.ReadAllText(TokenFile).Trim();
            if (token.Length == 0)
            {
                throw new IOException($"The token file '{TokenFile}' is empty.");
            }

            headers.Add("authorization", "Bearer " + token);
        }

        if (!string.IsNullOrEmpty(ClusterId))
        {
            headers.Add("clusterid", ClusterId);
        }

        return headers;
    }
}
