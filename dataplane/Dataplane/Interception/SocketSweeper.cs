using System.Globalization;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>
/// Finds the sockets that still exist, so that state kept by socket inode can be dropped once the application
/// closes the socket. ax does not trap <c>close</c>: trapping it would put every file close of every application
/// on the daemon's path.
/// </summary>
/// <remarks>
/// The kernel lists every TCP and UDP socket of the network namespace, with its inode, in <c>/proc/net/{tcp,tcp6,
/// udp,udp6}</c>. A closed listener disappears from there at once; a closed connection lingers only in TIME_WAIT
/// with inode 0. Reading the list every few seconds costs far less than trapping close. Issue 10 may replace it
/// with a sock_diag netlink query.
/// </remarks>
internal static class SocketSweeper
{
    private static readonly string[] Tables = ["/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6"];

    /// <summary>
    /// The inodes of every TCP and UDP socket that exists now, in the daemon's network namespace, and of every Unix
    /// socket when <paramref name="includeUnix"/>: the application's ends of delegated socketpairs are Unix sockets,
    /// and the table of those can be long on a busy host, so it is read only while there are some.
    /// </summary>
    public static HashSet<ulong> LiveSocketInodes(bool includeUnix = false)
    {
        var live = new HashSet<ulong>();
        if (includeUnix)
        {
            AddUnix(live);
        }
        foreach (var table in Tables)
        {
            try
            {
                foreach (var line in File.ReadLines(table).Skip(1))
                {
                    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
                    var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (fields.Length > 9 && ulong.TryParse(fields[9], NumberStyles.None, CultureInfo.InvariantCulture, out var inode) && inode != 0)
                    {
                        live.Add(inode);
                    }
                }
            }
            catch (IOException)
            {
                // A table may be missing (no IPv6): nothing lives there.
            }
        }
        return live;
    }

    private static void AddUnix(HashSet<ulong> live)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/net/unix").Skip(1))
            {
                // Num RefCount Protocol Flags Type St Inode [Path]
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length > 6 && ulong.TryParse(fields[6], NumberStyles.None, CultureInfo.InvariantCulture, out var inode) && inode != 0)
                {
                    live.Add(inode);
                }
            }
        }
        catch (IOException)
        {
        }
    }
}
