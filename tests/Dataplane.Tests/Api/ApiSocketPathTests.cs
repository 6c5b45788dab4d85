using Istio.AppSwitch.Dataplane.Api;

namespace Istio.AppSwitch.Dataplane.Tests.Api;

public sealed class ApiSocketPathTests
{
    private static Func<string, string?> Env(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;

    [Fact]
    public void Resolve_ExplicitPath_WinsOverEverything()
    {
        Assert.Equal("/tmp/x.sock", ApiSocketPath.Resolve("/tmp/x.sock", Env(("AX_API", "/tmp/env.sock")), 0));
    }

    [Fact]
    public void Resolve_EnvironmentVariable_UsedWithoutFlag()
    {
        Assert.Equal("/tmp/env.sock", ApiSocketPath.Resolve(null, Env(("AX_API", "/tmp/env.sock"), ("XDG_RUNTIME_DIR", "/run/user/1000")), 1000));
    }

    [Fact]
    public void Resolve_Root_RunAx()
    {
        Assert.Equal("/run/ax/ax.sock", ApiSocketPath.Resolve(null, Env(("XDG_RUNTIME_DIR", "/run/user/0")), 0));
    }

    [Fact]
    public void Resolve_User_XdgRuntimeDir()
    {
        Assert.Equal("/run/user/1000/ax/ax.sock", ApiSocketPath.Resolve("", Env(("XDG_RUNTIME_DIR", "/run/user/1000")), 1000));
    }

    [Fact]
    public void Resolve_UserWithoutXdgRuntimeDir_ClearError()
    {
        var e = Assert.Throws<InvalidOperationException>(() => ApiSocketPath.Resolve(null, Env(), 1000));

        Assert.Contains("XDG_RUNTIME_DIR is not set", e.Message, StringComparison.Ordinal);
        Assert.Contains("--api PATH", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_RelativePath_MadeAbsolute()
    {
        Assert.Equal(Path.GetFullPath("ax.sock"), ApiSocketPath.Resolve("ax.sock", Env(), 0));
    }

    [Fact]
    public void EffectiveUserId_IsTheEffectiveUidOfProcSelfStatus()
    {
        // "Uid:\treal\teffective\tsaved\tfilesystem"
        var uidLine = File.ReadLines("/proc/self/status").Single(line => line.StartsWith("Uid:", StringComparison.Ordinal));
        var effective = uidLine[4..].Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[1];

        Assert.Equal(uint.Parse(effective, System.Globalization.CultureInfo.InvariantCulture), ProcessIdentity.EffectiveUserId);
    }
}
