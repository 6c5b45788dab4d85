using Istio.AppSwitch.Dataplane.Delegation;

namespace Istio.AppSwitch.Dataplane.Tests.Delegation;

/// <summary>Who may launch an application as a delegation sidecar, and the role's life (docs/delegation.md, "Who may register").</summary>
public sealed class SidecarRolesTests
{
    [Theory]
    [InlineData(0u)] // root
    [InlineData(995u)] // the daemon's own uid
    public void CheckLaunch_RootOrTheDaemonsUidOutsideAx_Allowed(uint launcher)
    {
        var roles = new SidecarRoles(daemonUid: 995);

        Assert.Null(roles.CheckLaunch("ax-proxy", launcher, launcherPid: 42, launcherApplication: null));
    }

    [Fact]
    public void CheckLaunch_AnotherUid_RefusedNamingWhoMay()
    {
        Assert.Equal(
            "--sidecar ax-proxy refused: uid 1000 may not launch a delegation sidecar, which receives other applications' sockets; only root and uid 995 (the daemon's) may",
            new SidecarRoles(daemonUid: 995).CheckLaunch("ax-proxy", 1000, 42, null));
        Assert.EndsWith("only root may", new SidecarRoles(daemonUid: 0).CheckLaunch("ax-proxy", 1000, 42, null), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(995u)]
    public void CheckLaunch_LauncherUnderAx_RefusedWhateverItsUid(uint launcher)
    {
        var refusal = new SidecarRoles(daemonUid: 995).CheckLaunch("ax-proxy", launcher, 42, "app-7");

        Assert.Equal("--sidecar ax-proxy refused: the launcher (pid 42) runs under ax (application app-7), and an application under ax may not launch a delegation sidecar", refusal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("bad/name")]
    [InlineData("with space")]
    [InlineData("ünï")]
    [InlineData("a1234567890123456789012345678901234567890123456789012345678901234")] // 64 characters
    public void CheckLaunch_InvalidName_RefusedBeforeAnythingElse(string name)
    {
        var refusal = new SidecarRoles(daemonUid: 0).CheckLaunch(name, 0, 42, null);

        Assert.False(SidecarRoles.IsValidName(name));
        Assert.Equal($"invalid --sidecar \"{name}\": a sidecar name is 1 to 63 letters, digits, '.', '_' or '-'", refusal);
    }

    [Fact]
    public void GrantRoleOfRevoke_FollowTheApplication()
    {
        var roles = new SidecarRoles(daemonUid: 0);
        Assert.True(SidecarRoles.IsValidName("ax-proxy.v1_2"));
        Assert.True(SidecarRoles.IsValidName(new string('x', 63)));

        roles.Grant("app-1", "ax-proxy");

        Assert.Equal("ax-proxy", roles.RoleOf("app-1"));
        Assert.Null(roles.RoleOf("app-2"));
        roles.Revoke("app-1");
        Assert.Null(roles.RoleOf("app-1"));
        roles.Revoke("app-1"); // gone already: nothing to do
    }
}
