using System.Security.Cryptography;

namespace Istio.AppSwitch.Tests.Common.Tools;

/// <summary>
/// Runs Node.js for interop tests: finds <c>node</c> and <c>npm</c> on PATH and installs a package's locked
/// dependencies the first time they are needed, so a fresh clone needs no manual step.
/// </summary>
public static class NodeJs
{
    private static readonly TimeSpan InstallTimeout = TimeSpan.FromMinutes(5);

    /// <summary>The <c>node</c> executable.</summary>
    public static string Node => FindOnPath("node");

    /// <summary>The <c>npm</c> executable.</summary>
    public static string Npm => FindOnPath("npm");

    /// <summary>
    /// Makes sure <c>node_modules</c> of <paramref name="packageDirectory"/> matches its <c>package-lock.json</c>,
    /// running <c>npm ci</c> when it does not. Test processes may call this at the same time (test projects run in
    /// parallel): a lock file outside the source tree serializes them, and a marker with the lock file's hash,
    /// written only after <c>npm ci</c> succeeded, tells the others that there is nothing left to do.
    /// </summary>
    public static async Task EnsurePackagesInstalledAsync(string packageDirectory, CancellationToken cancellationToken = default)
    {
        var lockHash = Convert.ToHexString(SHA256.HashData(await File.ReadAllBytesAsync(
            Path.Combine(packageDirectory, "package-lock.json"), cancellationToken).ConfigureAwait(false)));
        var marker = Path.Combine(packageDirectory, "node_modules", ".ax-installed");
        if (await IsInstalledAsync(marker, lockHash).ConfigureAwait(false))
        {
            return;
        }

        var directoryHash = Convert.ToHexString(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(packageDirectory)))[..16];
        var lockPath = Path.Combine(Path.GetTempPath(), $"ax-npm-install-{directoryHash}.lock");
        await using var installLock = await AcquireFileLockAsync(lockPath, cancellationToken).ConfigureAwait(false);
        if (await IsInstalledAsync(marker, lockHash).ConfigureAwait(false))
        {
            return;
        }

        using var npm = ExternalProcess.Start(Npm, ["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], packageDirectory);
        var exitCode = await npm.WaitForExitAsync(InstallTimeout).ConfigureAwait(false);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"npm ci in {packageDirectory} failed with exit code {exitCode}.\n{npm.Output}");
        }

        await File.WriteAllTextAsync(marker, lockHash, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<bool> IsInstalledAsync(string marker, string lockHash) =>
        File.Exists(marker) && await File.ReadAllTextAsync(marker).ConfigureAwait(false) == lockHash;

    // FileShare.None takes an exclusive flock on Unix, which excludes other processes and other handles alike.
    private static async Task<FileStream> AcquireFileLockAsync(string path, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + InstallTimeout;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static string FindOnPath(string name)
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator))
        {
            var candidate = Path.Combine(directory, name);
            if (directory.Length > 0 && File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException($"'{name}' is not on PATH; the gRPC interop tests need Node.js and npm.");
    }
}
