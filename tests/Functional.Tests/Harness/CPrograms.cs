using System.Security.Cryptography;
using System.Text;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Functional.Tests.Harness;

/// <summary>Compiles the C programs under Programs/ with gcc, once per source and flags (cached by content hash).</summary>
public static class CPrograms
{
    private static readonly SemaphoreSlim Gate = new(1, 1);

    /// <summary>Builds Programs/<paramref name="file"/> with <paramref name="flags"/> and returns the binary's path.</summary>
    public static async Task<string> BuildAsync(string file, params string[] flags)
    {
        var source = Path.Combine(AppContext.BaseDirectory, "Programs", file);
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(await File.ReadAllTextAsync(source) + string.Join(' ', flags))))[..16];
        var output = Path.Combine(Path.GetTempPath(), "ax-c-programs", $"{Path.GetFileNameWithoutExtension(file)}-{hash}");
        await Gate.WaitAsync();
        try
        {
            if (File.Exists(output))
            {
                return output;
            }
            Directory.CreateDirectory(Path.GetDirectoryName(output)!);
            var result = await ExternalProcess.RunAsync("gcc", ["-O2", .. flags, "-o", output, source], TimeSpan.FromMinutes(2));
            Assert.True(result.ExitCode == 0, $"gcc {string.Join(' ', flags)} {file} failed: {result}");
            return output;
        }
        finally
        {
            Gate.Release();
        }
    }
}
