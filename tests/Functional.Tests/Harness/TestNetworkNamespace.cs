using System.Diagnostics;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Functional.Tests.Harness;

/// <summary>
/// A named network namespace made with <c>ip netns add ax-test-&lt;random&gt;</c> for one test, deleted on dispose.
/// A new namespace holds only <c>lo</c>, down: nothing in it reaches anything, which is what the tests prove first.
/// </summary>
public sealed class TestNetworkNamespace : IDisposable
{
    private TestNetworkNamespace(string name)
    {
        Name = name;
    }

    /// <summary>The name given to <c>ip netns</c>.</summary>
    public string Name { get; }

    /// <summary>Its bind mount, what <c>ax run --netns</c> takes.</summary>
    public string Path => $"/run/netns/{Name}";

    /// <summary>Its inode (<c>stat -L</c> of the bind mount): what <c>ax get apps</c> and /proc/PID/ns/net name.</summary>
    public ulong Inode => StatInode(Path);

    /// <summary>Creates a namespace with a fresh name.</summary>
    public static async Task<TestNetworkNamespace> CreateAsync()
    {
        var name = $"ax-test-{Guid.NewGuid():N}"[..20];
        var result = await ExternalProcess.RunAsync("ip", ["netns", "add", name], TimeSpan.FromSeconds(30));
        Assert.True(result.ExitCode == 0, $"ip netns add {name} failed: {result}");
        return new TestNetworkNamespace(name);
    }

    /// <summary>Runs a command in the namespace without ax (<c>ip netns exec</c>).</summary>
    public Task<ProcessResult> ExecAsync(params string[] command) =>
        ExternalProcess.RunAsync("ip", ["netns", "exec", Name, .. command], TimeSpan.FromSeconds(30));

    public void Dispose()
    {
        using var process = Process.Start(new ProcessStartInfo("ip", ["netns", "del", Name]) { RedirectStandardError = true, RedirectStandardOutput = true });
        process?.WaitForExit(10_000);
    }

    /// <summary>Whether <c>ip netns add</c> works on this machine (root, iproute2): probed once.</summary>
    public static string? Unavailable => LazyUnavailable.Value;

    private static readonly Lazy<string?> LazyUnavailable = new(Probe);

    private static string? Probe()
    {
        var name = $"ax-probe-{Guid.NewGuid():N}"[..20];
        try
        {
            using var add = Process.Start(new ProcessStartInfo("ip", ["netns", "add", name]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            var error = add.StandardError.ReadToEnd();
            add.WaitForExit();
            if (add.ExitCode != 0)
            {
                return $"'ip netns add' fails here (needs root and iproute2): {error.Trim()}";
            }
            using var del = Process.Start(new ProcessStartInfo("ip", ["netns", "del", name]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            del.WaitForExit();
            return null;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return $"'ip' cannot be run (install iproute2): {ex.Message}";
        }
    }

    private static ulong StatInode(string path)
    {
        using var stat = Process.Start(new ProcessStartInfo("stat", ["-L", "-c", "%i", path]) { RedirectStandardOutput = true })!;
        var text = stat.StandardOutput.ReadToEnd().Trim();
        stat.WaitForExit();
        return ulong.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
    }
}

/// <summary>A fact that needs <c>ip netns add</c>: skipped, with the reason, where it fails.</summary>
public sealed class NetnsFactAttribute : FactAttribute
{
    public NetnsFactAttribute()
    {
        if (TestNetworkNamespace.Unavailable is { } reason)
        {
            Skip = reason;
        }
    }
}
