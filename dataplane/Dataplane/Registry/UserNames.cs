using System.Collections.Concurrent;
using System.Globalization;

namespace Istio.AppSwitch.Dataplane.Registry;

/// <summary>
/// Looks up the user name of a uid for the <c>ax.user</c> label. Reads <c>/etc/passwd</c> rather than calling
/// <c>getpwuid</c>: the label is informational, NSS sources (LDAP, sssd) are out of scope for a local label, and
/// keeping P/Invoke out of this project keeps the Linux ABI in the interop project.
/// </summary>
internal static class UserNames
{
    private static readonly ConcurrentDictionary<uint, string> Cache = new();

    /// <summary>The name of <paramref name="uid"/>, or its number when <c>/etc/passwd</c> has none.</summary>
    public static string Lookup(uint uid) => Cache.GetOrAdd(uid, static u => Find(u, "/etc/passwd") ?? u.ToString(CultureInfo.InvariantCulture));

    /// <summary>Finds <paramref name="uid"/> in a passwd-format file; null when absent or unreadable.</summary>
    internal static string? Find(uint uid, string passwdPath)
    {
        try
        {
            foreach (var line in File.ReadLines(passwdPath))
            {
                // name:password:uid:gid:gecos:home:shell
                var fields = line.Split(':');
                if (fields.Length >= 3
                    && uint.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var entry)
                    && entry == uid
                    && fields[0].Length > 0)
                {
                    return fields[0];
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return null;
    }
}
