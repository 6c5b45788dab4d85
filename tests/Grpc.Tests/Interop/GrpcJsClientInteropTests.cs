using Istio.AppSwitch.Grpc.Tests.Support;
using Istio.AppSwitch.Tests.Common.Grpc;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Grpc.Tests.Interop;

// Interop: @grpc/grpc-js's client (node tests/interop/grpc-js/client.js) against the Kestrel test server, which
// checks the test server itself against an independent implementation.
public sealed class GrpcJsClientInteropTests(EchoServerFixture fixture) : IClassFixture<EchoServerFixture>
{
    [Fact]
    public async Task GrpcJsClient_AgainstKestrelEchoServer_AllChecksPass()
    {
        await NodeJs.EnsurePackagesInstalledAsync(GrpcJsServerFixture.PackageDirectory);
        using var client = ExternalProcess.Start(
            NodeJs.Node, ["client.js", $"127.0.0.1:{fixture.Server.Port}"], GrpcJsServerFixture.PackageDirectory);

        var exitCode = await client.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.True(exitCode == 0, $"client.js exited with {exitCode}.\n{client.Output}");
        Assert.Contains("ok deadline", client.Output, StringComparison.Ordinal);
    }
}
