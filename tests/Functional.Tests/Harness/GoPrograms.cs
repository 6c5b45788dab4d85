using System.Security.Cryptography;
using System.Text;

using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Functional.Tests.Harness;

/// <summary>
/// Builds the Go test programs once per source version: static binaries (CGO_ENABLED=0) that make raw
/// syscalls with no libc, the hardest kind of program to intercept without seccomp.
/// </summary>
public static class GoPrograms
{
    private static readonly SemaphoreSlim Gate = new(1, 1);

    /// <summary>Builds Programs/<paramref name="name"/> (cached by content hash) and returns the binary's path.</summary>
    public static async Task<string> BuildAsync(string name)
    {
        var source = Path.Combine(AppContext.BaseDirectory, "Programs", name);
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(string.Concat(
            Directory.GetFiles(source).Order(StringComparer.Ordinal).Select(File.ReadAllText)))))[..16];
        var output = Path.Combine(Path.GetTempPath(), "ax-go-programs", $"{name}-{hash}");
        await Gate.WaitAsync();
        try
        {
            if (File.Exists(output))
            {
                return output;
            }
            var result = await ExternalProcess.RunAsync("go", ["build", "-trimpath", "-o", output, "."], TimeSpan.FromMinutes(5), source,
                new Dictionary<string, string> { ["CGO_ENABLED"] = "0", ["GOFLAGS"] = "-buildvcs=false", ["GO111MODULE"] = "on" });
            Assert.True(result.ExitCode == 0, $"go build of {name} failed: {result}");
            return output;
        }
        finally
        {
            Gate.Release();
        }
    }
}
