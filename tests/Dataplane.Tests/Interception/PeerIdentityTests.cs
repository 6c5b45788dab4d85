using Istio.AppSwitch.Dataplane.Interception;
using Istio.AppSwitch.Dataplane.Registry;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Tests.Interception;

public sealed class PeerIdentityTests
{
    [Theory]
    [InlineData("127.0.0.1:8080", "0100007F:1F90")]
    [InlineData("127.0.0.3:80", "0300007F:0050")]
    [InlineData("[::1]:80", "00000000000000000000000001000000:0050")]
    public void Hex_Endpoint_IsTheKernelsProcNetTcpText(string endpoint, string expected) =>
        Assert.Equal(expected, PeerIdentity.Hex(TestWorld.Ep(endpoint)));

    [Fact]
    public void PrincipalOf_NamespaceAndServiceAccountLabels_SpiffeId()
    {
        Assert.Equal("spiffe://cluster.local/ns/default/sa/sleep", PeerIdentity.PrincipalOf(Labels.Parse("istio.io/namespace=default,istio.io/serviceaccount=sleep,app=x")));
        Assert.Null(PeerIdentity.PrincipalOf(Labels.Parse("istio.io/namespace=default")));
        Assert.Null(PeerIdentity.PrincipalOf(Labels.Parse("app=x")));
    }

    [Fact]
    public void TrappedSyscalls_IncludeAcceptAndAccept4()
    {
        Assert.Contains(SyscallNumbers.Accept, TrappedSyscalls.All.ToArray());
        Assert.Contains(SyscallNumbers.Accept4, TrappedSyscalls.All.ToArray());
    }
}
