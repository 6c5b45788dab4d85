namespace Istio.AppSwitch.Dataplane.Api;

/// <summary>
/// Where the daemon's API socket is: the one rule shared by <c>ax daemon</c>, <c>ax run</c> and every client
/// command, so that they always agree.
/// </summary>
public static class ApiSocketPath
{
    /// <summary>The environment variable that names the socket when <c>--api</c> is not given.</summary>
    public const string EnvironmentVariable = "AX_API";

    /// <summary>The socket of a daemon run as root.</summary>
    public const string RootDefault = "/run/ax/ax.sock";

    /// <summary>
    /// Resolves the socket path: <paramref name="explicitPath"/> (<c>--api</c>), else <c>$AX_API</c>, else
    /// <c>/run/ax/ax.sock</c> for root, else <c>$XDG_RUNTIME_DIR/ax/ax.sock</c>. Throws
    /// <see cref="InvalidOperationException"/> with a message for the user when none of them applies.
    /// </summary>
    public static string Resolve(string? explicitPath) =>
        // The uid only when it decides: `ax run` runs on every application's start-up.
        Resolve(explicitPath, Environment.GetEnvironmentVariable, static () => ProcessIdentity.EffectiveUserId);

    /// <summary><see cref="Resolve(string?)"/> with the environment and uid given, for tests.</summary>
    public static string Resolve(string? explicitPath, Func<string, string?> environment, uint effectiveUserId) =>
        Resolve(explicitPath, environment, () => effectiveUserId);

    private static string Resolve(string? explicitPath, Func<string, string?> environment, Func<uint> effectiveUserId)
    {
        ArgumentNullException.ThrowIfNull(environment);
        if (!string.IsNullOrEmpty(explicitPath))
        {
            return FullPath(explicitPath, "--api");
        }
        var fromEnvironment = environment(EnvironmentVariable);
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return FullPath(fromEnvironment, EnvironmentVariable);
        }
        if (effectiveUserId() == 0)
        {
            return RootDefault;
        }
        var runtimeDir = environment("XDG_RUNTIME_DIR");
        if (string.IsNullOrEmpty(runtimeDir))
        {
            throw new InvalidOperationException(
                "cannot find the ax API socket: XDG_RUNTIME_DIR is not set; pass --api PATH or set AX_API");
        }
        return Path.Combine(runtimeDir, "ax", "ax.sock");
    }

    // Path.GetFullPath throws ArgumentException for a NUL, which no path can hold: the user's mistake, said as such.
    private static string FullPath(string path, string source) =>
        path.Contains('\0', StringComparison.Ordinal)
            ? throw new InvalidOperationException($"invalid API socket path from {source}: it contains a NUL character")
            : Path.GetFullPath(path);
}
