using System.Globalization;

namespace Istio.AppSwitch.Dataplane.Api;

/// <summary>
/// Who this process runs as. Read from <c>/proc/self/status</c> so that neither the CLI nor the daemon needs a
/// P/Invoke of its own for a value read once.
/// </summary>
public static class ProcessIdentity
{
    private static readonly Lazy<uint> Euid = new(() => ReadEffectiveUserId("/proc/self/status"));

    /// <summary>The effective uid of this process.</summary>
    public static uint EffectiveUserId => Euid.Value;

    /// <summary>Parses the effective uid (the second number of the <c>Uid:</c> line) from a status file.</summary>
    internal static uint ReadEffectiveUserId(string statusPath)
    {
        foreach (var line in File.ReadLines(statusPath))
        {
            // "Uid:\treal\teffective\tsaved\tfilesystem"
            if (line.StartsWith("Uid:", StringComparison.Ordinal))
            {
                var fields = line[4..].Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length >= 2 && uint.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var euid))
                {
                    return euid;
                }
            }
        }
        throw new InvalidOperationException($"{statusPath} has no Uid: line");
    }
}
