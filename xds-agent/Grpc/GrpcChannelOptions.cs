using System.Security.Cryptography.X509Certificates;

namespace Istio.AppSwitch.Grpc;

/// <summary>
/// How an <see cref="Http2GrpcChannel"/> reaches its server. Immutable; a channel reads it once.
/// </summary>
public sealed record GrpcChannelOptions
{
    /// <summary>
    /// Where the server is: <c>http://host:port</c> for cleartext HTTP/2 with prior knowledge (h2c),
    /// <c>https://host:port</c> for TLS with ALPN <c>h2</c>, or <c>unix:///absolute/path</c> for h2c over a Unix
    /// domain socket (sent with <c>:authority</c> <c>localhost</c>, as gRPC does).
    /// </summary>
    public required Uri Address { get; init; }

    /// <summary>
    /// When set, the server's certificate chain is validated against these roots only (not the system store),
    /// and its name must still match the address's host. Only with <c>https</c>.
    /// </summary>
    public X509Certificate2Collection? TrustedCertificates { get; init; }

    /// <summary>A PEM file of trusted roots, read when the channel is created; the alternative to
    /// <see cref="TrustedCertificates"/>.</summary>
    public string? TrustedCertificatesPemFile { get; init; }

    /// <summary>The certificate (with its private key) to present when the server asks for one. Only with
    /// <c>https</c>.</summary>
    public X509Certificate2? ClientCertificate { get; init; }

    /// <summary>
    /// How long a connection may be idle before an HTTP/2 PING checks it; null (the default) sends no keepalive.
    /// SocketsHttpHandler accepts one second at least.
    /// </summary>
    public TimeSpan? KeepAlivePingDelay { get; init; }

    /// <summary>How long to wait for the PING's acknowledgement before the connection is closed.</summary>
    public TimeSpan KeepAlivePingTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Whether to ping with no call open. gRPC's default is false (<c>keepalive_permit_without_calls</c>), because
    /// servers may treat such pings as abuse.
    /// </summary>
    public bool KeepAliveWithoutCalls { get; init; }

    /// <summary>Metadata sent on every call, before the call's own.</summary>
    public GrpcMetadata? DefaultMetadata { get; init; }

    /// <summary>The largest response message accepted; larger ones fail the call with RESOURCE_EXHAUSTED.</summary>
    public int MaxReceiveMessageSize { get; init; } = GrpcFraming.DefaultMaxMessageSize;

    /// <summary>How long establishing a connection (and its TLS handshake) may take.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>The clock that deadlines are measured and enforced with.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
