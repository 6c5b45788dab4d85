using System.Collections.Concurrent;
using System.Text;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>
/// The processes under ax that connected to the daemon's API socket, so that the API can refuse them writes
/// (docs/api.md, "Who may write"): an application must not change its own labels, or another's, even when it runs
/// as root. Every <c>connect</c> of an application is trapped, including its Unix ones, so the daemon sees each such
/// connect before the kernel makes it, and records the connecting process; <c>SO_PEERCRED</c> on the API's side then
/// names that same process.
/// </summary>
/// <remarks>A process is kept with its start time, so that a pid reused by a process not under ax is not mistaken for
/// it. Entries go with their application, and the table is bounded.</remarks>
public sealed class ApiClientsUnderAx
{
    /// <summary>How many processes are kept at most; past that, those that are gone are dropped first.</summary>
    public const int Capacity = 4096;

    private readonly ConcurrentDictionary<int, Entry> _byPid = new();
    private readonly byte[][] _paths;

    /// <param name="socketPaths">The API socket paths to watch for (absolute).</param>
    public ApiClientsUnderAx(IEnumerable<string> socketPaths)
    {
        ArgumentNullException.ThrowIfNull(socketPaths);
        _paths = [.. socketPaths.Select(p => Encoding.UTF8.GetBytes(Path.GetFullPath(p)))];
    }

    /// <summary>How many processes are recorded now.</summary>
    public int Count => _byPid.Count;

    /// <summary>
    /// Whether <paramref name="sockaddr"/> (as read from thread <paramref name="tid"/>) is a <c>sockaddr_un</c> naming one
    /// of the API socket paths. A relative path is taken from the thread's working directory. Allocation-free for
    /// absolute paths: called on every Unix connect of every application.
    /// </summary>
    public bool IsApiSocket(int tid, ReadOnlySpan<byte> sockaddr)
    {
        if (sockaddr.Length < 3 || sockaddr[0] != SocketConstants.AF_UNIX || sockaddr[1] != 0)
        {
            return false;
        }
        var path = sockaddr[2..];
        var end = path.IndexOf((byte)0);
        if (end >= 0)
        {
            path = path[..end];
        }
        if (path.IsEmpty)
        {
            return false; // unnamed, or abstract (a NUL first): never a path
        }
        if (path[0] != (byte)'/')
        {
            return IsRelativeApiPath(tid, path);
        }
        return Matches(path);
    }

    private bool IsRelativeApiPath(int tid, ReadOnlySpan<byte> path)
    {
        string full;
        try
        {
            var cwd = new FileInfo($"/proc/{tid}/cwd").LinkTarget;
            if (cwd is null)
            {
                return false;
            }
            full = Path.GetFullPath(Encoding.UTF8.GetString(path), cwd);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return false;
        }
        return Matches(Encoding.UTF8.GetBytes(full));
    }

    private bool Matches(ReadOnlySpan<byte> path)
    {
        foreach (var candidate in _paths)
        {
            if (path.SequenceEqual(candidate))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Records that thread <paramref name="tid"/> of application <paramref name="appId"/> is connecting to the API.</summary>
    public void Record(int tid, string appId)
    {
        var pid = ProcFs.TryGetThreadGroup(tid, out var tgid) ? tgid : tid;
        if (!ProcFs.TryGetStartTime(pid, out var start))
        {
            return; // gone already: its connect will not happen
        }
        if (_byPid.Count >= Capacity)
        {
            Prune();
        }
        _byPid[pid] = new Entry(start, appId);
    }

    /// <summary>The application that process <paramref name="pid"/> (an API peer's <c>SO_PEERCRED</c> pid) runs under, or null.</summary>
    public string? ApplicationOf(int pid)
    {
        if (!_byPid.TryGetValue(pid, out var entry))
        {
            return null;
        }
        if (!ProcFs.TryGetStartTime(pid, out var start) || start != entry.StartTime)
        {
            _byPid.TryRemove(new KeyValuePair<int, Entry>(pid, entry));
            return null;
        }
        return entry.AppId;
    }

    /// <summary>Drops the processes of an application that is gone.</summary>
    public void Forget(string appId)
    {
        foreach (var (pid, entry) in _byPid)
        {
            if (entry.AppId == appId)
            {
                _byPid.TryRemove(new KeyValuePair<int, Entry>(pid, entry));
            }
        }
    }

    private void Prune()
    {
        foreach (var pid in _byPid.Keys)
        {
            ApplicationOf(pid);
        }
        // Every one alive: drop an arbitrary half. A process that loses its entry can write as its uid allows; the
        // alternative, refusing new records, would let the newest processes through instead.
        if (_byPid.Count >= Capacity)
        {
            foreach (var pid in _byPid.Keys.Take(Capacity / 2))
            {
                _byPid.TryRemove(pid, out _);
            }
        }
    }

    private readonly record struct Entry(ulong StartTime, string AppId);
}
