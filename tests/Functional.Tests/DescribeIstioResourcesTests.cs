using System.Text.Json;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Functional.Tests.Harness;

namespace Istio.AppSwitch.Functional.Tests;

/// <summary>
/// <c>ax describe ref</c> on a ref whose backend, a real server under ax, has an inbound port with Istio RBAC: the
/// AuthorizationPolicy behind the port is named. VIPs in 127.96.95.0/24.
/// </summary>
[Collection(AxCollection.Name)]
public sealed class DescribeIstioResourcesTests(AxEnvironment ax)
{
    private static readonly string Programs = Path.Combine(AppContext.BaseDirectory, "Programs");

    [Fact]
    public async Task DescribeRef_BackendPortUnderAuthorizationPolicy_NamesThePolicy()
    {
        var port = AxEnvironment.FreePort();
        using var rbac = JsonDocument.Parse("""
            {"engines": [{"action": "allow", "policies": [{"name": "ns[shop]-policy[cart-viewer]-rule[0]",
              "permissions": [{"any": true}], "principals": [{"sourceIp": "127.0.0.0/8"}]}]}]}
            """);
        await ax.UpdateMeshAsync(new MeshUpdateRequest
        {
            Inbound =
            [
                new MeshInboundPortDto
                {
                    Key = $"app=cart-describe:{port}",
                    Selector = "app=cart-describe",
                    Port = port,
                    Rbac = rbac.RootElement.Clone(),
                    IstioResources = [new MeshIstioResourceDto { Kind = "AuthorizationPolicy", Namespace = "shop", Name = "cart-viewer", Raw = "ns[shop]-policy[cart-viewer]-rule[0]" }],
                },
            ],
        });
        using var server = ax.StartUnderAx(["--name", "cart", "--labels", "app=cart-describe"],
            ["python3", Path.Combine(Programs, "inbound_server.py"), "127.0.0.1", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "cart"]);
        await server.WaitForOutputAsync("listening", TimeSpan.FromSeconds(20));
        await ax.CreateRefAsync("cart-describe", "127.96.95.1:8080", "app=cart-describe");

        var table = await ax.AxAsync("describe", "ref", "cart-describe");
        var json = await ax.AxAsync("describe", "ref", "cart-describe", "-o", "json");

        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Contains("Istio resources: AuthorizationPolicy shop/cart-viewer", table.Stdout, StringComparison.Ordinal);
        Assert.Contains("ns[shop]-policy[cart-viewer]-rule[0]", table.Stdout, StringComparison.Ordinal); // the RBAC line
        using var document = JsonDocument.Parse(json.Stdout);
        var resource = Assert.Single(document.RootElement.GetProperty("istioResources").EnumerateArray());
        Assert.Equal("ns[shop]-policy[cart-viewer]-rule[0]", resource.GetProperty("raw").GetString());
    }
}
