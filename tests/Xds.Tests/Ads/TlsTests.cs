using Istio.AppSwitch.Tests.Common.Tls;
using Istio.AppSwitch.Tests.Common.Xds;
using Istio.AppSwitch.Xds.Ads;
using Istio.AppSwitch.Xds.Client;
using Istio.AppSwitch.Xds.Sidecar;
using static Istio.AppSwitch.Tests.Common.Xds.XdsTestResources;

namespace Istio.AppSwitch.Xds.Tests.Ads;

/// <summary>ADS over TLS, as to istiod's port 15012: a custom CA file, a bearer token file, the clusterid header.</summary>
public sealed class TlsTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("ax-ads-tls-").FullName;

    [Fact]
    public async Task SecurePort_CaFileTokenAndClusterId_ServerSeesHeadersAndStreamWorks()
    {
        using var authority = TestCertificateAuthority.Create("istio-ca");
        using var serverCertificate = authority.IssueServerCertificate("127.0.0.1");
        var caFile = Path.Combine(_directory, "root-cert.pem");
        var tokenFile = Path.Combine(_directory, "istio-token");
        await File.WriteAllTextAsync(caFile, authority.ExportPem());
        await File.WriteAllTextAsync(tokenFile, "token-1\n");

        PilotConnectionOptions? pilot = null;
        await using var harness = await AdsTestHarness.StartAsync(
            AdsVariant.Delta,
            new XdsManagementServerOptions { ServerCertificate = serverCertificate },
            address =>
            {
                pilot = PilotConnectionOptions.Parse($"127.0.0.1:{address.Port}") with
                {
                    UseTls = true,
                    CaCertificateFile = caFile,
                    TokenFile = tokenFile,
                    ClusterId = "Kubernetes",
                };
                return pilot.ToChannelOptions();
            },
            () => pilot!.CreateCallHeaders());

        var first = await harness.Server.NextRequestAsync();
        Assert.Equal(ClusterType, first.TypeUrl);
        Assert.Equal("Bearer token-1", first.Headers.GetValue("authorization"));
        Assert.Equal("Kubernetes", first.Headers.GetValue("clusterid"));
        Assert.StartsWith("https://", harness.Server.Address.ToString(), StringComparison.Ordinal);

        var nonce = await harness.Server.PushAsync(XdsManagementServer.DeltaResponse(ClusterType, "c1", [("a", "1", OriginalDstCluster("a"))]));
        AdsTestHarness.AssertDeltaAck(await harness.Server.NextDeltaRequestAsync(), ClusterType, nonce);

        // The token is read again for each stream: a rotated token is what the next connection presents.
        await File.WriteAllTextAsync(tokenFile, "token-2");
        var port = harness.Server.Port;
        await harness.Server.StopAsync();
        await harness.Server.RestartAsync(new XdsManagementServerOptions { Port = port, ServerCertificate = serverCertificate });
        XdsRecordedRequest next;
        do
        {
            next = await harness.Server.NextRequestAsync();
        }
        while (next.Stream == first.Stream);

        Assert.Equal("Bearer token-2", next.Headers.GetValue("authorization"));
        Assert.Equal("1", next.Delta!.InitialResourceVersions["a"]);
    }

    [Fact]
    public async Task SecurePort_UntrustedServer_ReportsConnectionLostAndKeepsRetrying()
    {
        using var authority = TestCertificateAuthority.Create("istio-ca");
        using var other = TestCertificateAuthority.Create("someone else");
        using var serverCertificate = other.IssueServerCertificate("127.0.0.1");
        var caFile = Path.Combine(_directory, "root-cert.pem");
        await File.WriteAllTextAsync(caFile, authority.ExportPem());

        await using var harness = await AdsTestHarness.StartAsync(
            AdsVariant.Delta,
            new XdsManagementServerOptions { ServerCertificate = serverCertificate },
            address => new PilotConnectionOptions { Host = "127.0.0.1", Port = address.Port, CaCertificateFile = caFile }.ToChannelOptions());

        var first = await harness.Watcher.WaitForAsync<XdsAmbientError>();
        var second = await harness.Watcher.WaitForAsync<XdsAmbientError>();
        Assert.Equal(XdsAmbientErrorKind.ConnectionLost, first.Kind);
        Assert.Contains("Unavailable", second.Message, StringComparison.Ordinal);
        Assert.Empty(harness.Server.Requests);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
