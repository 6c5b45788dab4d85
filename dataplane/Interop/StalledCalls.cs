using System.Globalization;
using static Istio.AppSwitch.Interop.Interop.Sys;

namespace Istio.AppSwitch.Interop;

/// <summary>
/// Restarts trapped calls that wait for an answer nobody will give. A daemon killed while it handled a call leaves
/// that call's thread waiting in the kernel (the keeper keeps the listener open, so the kernel does not fail it), and
/// no other daemon can answer it: only the receiver of a notification knows its id. A stop and a continue
/// (<c>SIGSTOP</c>, <c>SIGCONT</c>) interrupt the wait with <c>-ERESTARTSYS</c> and, since no handler runs, the kernel
/// makes the call again, as a new notification: the application sees nothing but a <c>SIGCONT</c> (ignored by default)
/// and its parent a stop and a continue, as under a debugger or a terminal's Ctrl-Z.
/// </summary>
public static class StalledCalls
{
    private const string SeccompWait = "seccomp_do_user_notification";

    /// <summary>
    /// Stops and continues each process of the tree rooted at <paramref name="rootPid"/> (itself, if alive, and its
    /// descendants) that has a thread waiting in a seccomp user notification. Returns how many were restarted.
    /// </summary>
    /// <remarks>
    /// A connect may have been made by the dead daemon already: its restart then finds the socket connected. Each
    /// waiting connect's thread and fd go to <paramref name="connects"/> before the process is continued, so that the
    /// next daemon can answer the restarted call with success rather than <c>EISCONN</c>.
    /// </remarks>
    public static int Restart(int rootPid, TimeSpan stopTimeout, Action<int, int>? connects = null)
    {
        var restarted = 0;
        foreach (var pid in Tree(rootPid))
        {
            if (!IsWaitingOnSeccomp(pid, connects))
            {
                continue;
            }
            if (Kill(pid, SIGSTOP) != 0)
            {
                continue; // gone
            }
            var deadline = Environment.TickCount64 + (long)stopTimeout.TotalMilliseconds;
            while (!IsStopped(pid) && Environment.TickCount64 < deadline)
            {
                Thread.Sleep(1);
            }
            _ = Kill(pid, SIGCONT);
            restarted++;
        }
        return restarted;
    }

    private static bool IsWaitingOnSeccomp(int pid, Action<int, int>? connects)
    {
        var waiting = false;
        try
        {
            foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                var wchan = File.ReadAllText(Path.Combine(task, "wchan"));
                if (!wchan.StartsWith(SeccompWait, StringComparison.Ordinal))
                {
                    continue;
                }
                waiting = true;
                // "NR ARG0 ARG1 ...": connect(2) is 42, its first argument the fd.
                var syscall = File.ReadAllText(Path.Combine(task, "syscall")).Split(' ');
                if (connects is not null && syscall.Length > 1 && syscall[0] == "42"
                    && int.TryParse(Path.GetFileName(task), NumberStyles.None, CultureInfo.InvariantCulture, out var tid)
                    && syscall[1].StartsWith("0x", StringComparison.Ordinal)
                    && int.TryParse(syscall[1].AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var fd))
                {
                    connects(tid, fd);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
        return waiting;
    }

    private static bool IsStopped(int pid) =>
        ProcFs.TryGetStateAndParent(pid, out var state, out _) && state is 'T' or 't';

    private static List<int> Tree(int rootPid)
    {
        var children = new Dictionary<int, List<int>>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && ProcFs.TryGetStateAndParent(pid, out _, out var parent))
            {
                if (!children.TryGetValue(parent, out var list))
                {
                    children[parent] = list = [];
                }
                list.Add(pid);
            }
        }
        var tree = new List<int>();
        var pending = new Stack<int>();
        pending.Push(rootPid);
        while (pending.Count > 0 && tree.Count < 100_000)
        {
            var pid = pending.Pop();
            if (Directory.Exists($"/proc/{pid}"))
            {
                tree.Add(pid);
            }
            if (children.TryGetValue(pid, out var list))
            {
                list.ForEach(pending.Push);
            }
        }
        return tree;
    }
}
