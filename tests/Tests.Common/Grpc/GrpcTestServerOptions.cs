using System.Security.Cryptography.X509Certificates;
using Istio.AppSwitch.Grpc;

namespace Istio.AppSwitch.Tests.Common.Grpc;

/// <summary>Where and how a <see cref="GrpcTestServer"/> listens.</summary>
public sealed record GrpcTestServerOptions
{
    /// <summary>Listen on 127.0.0.1 on a port the system picks (see <see cref="GrpcTestServer.Port"/>).</summary>
    public bool ListenOnLoopback { get; init; } = true;

    /// <summary>The loopback port; 0 (the default) lets the system pick. A fixed port lets a test restart a server in place.</summary>
    public int LoopbackPort { get; init; }

    /// <summary>Also (or only) listen on this Unix domain socket path.</summary>
    public string? UnixSocketPath { get; init; }

    /// <summary>When set, the loopback listener speaks TLS (ALPN h2) with this certificate instead of h2c.</summary>
    public X509Certificate2? ServerCertificate { get; init; }

    /// <summary>
    /// When set (with <see cref="ServerCertificate"/>), a client certificate issued by one of these roots is
    /// required: the handshake fails without one.
    /// </summary>
    public X509Certificate2Collection? ClientCertificateRoots { get; init; }

    /// <summary>The largest request message accepted; larger ones end the call with RESOURCE_EXHAUSTED.</summary>
    public int MaxReceiveMessageSize { get; init; } = GrpcFraming.DefaultMaxMessageSize;
}
