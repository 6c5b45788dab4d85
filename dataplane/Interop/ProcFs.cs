using System.Runtime.InteropServices;
using static Istio.AppSwitch.Interop.Interop.Sys;

namespace Istio.AppSwitch.Interop;

/// <summary>Facts about another process's fds, read from /proc without allocating.</summary>
public static class ProcFs
{
    // "/proc/" + 10 digits + "/fdinfo/" + 10 digits + NUL fits comfortably.
    private const int PathBufferSize = 64;
    private static ReadOnlySpan<byte> SocketPrefix => "socket:["u8;
    private static ReadOnlySpan<byte> FlagsLabel => "flags:"u8;

    /// <summary>
    /// The inode of the socket at fd <paramref name="fd"/> of <paramref name="pid"/> (a process or thread id),
    /// from the /proc/&lt;pid&gt;/fd/&lt;fd&gt; link ("socket:[N]"). ENOTSOCK if the fd is something else,
    /// ENOENT if the task or the fd does not exist, EACCES without ptrace access. Does not allocate.
    /// </summary>
    public static unsafe Errno GetSocketInode(int pid, int fd, out ulong inode)
    {
        inode = 0;
        Span<byte> path = stackalloc byte[PathBufferSize];
        if (!TryFormatPath(path, pid, "/fd/"u8, fd))
        {
            return Errno.EINVAL;
        }

        Span<byte> target = stackalloc byte[64];
        nint length;
        fixed (byte* pathPointer = path)
        fixed (byte* targetPointer = target)
        {
            length = ReadLink(pathPointer, targetPointer, (nuint)target.Length);
        }

        if (length < 0)
        {
            return Interop.LastErrno;
        }

        ReadOnlySpan<byte> link = target[..(int)length];
        if (!link.StartsWith(SocketPrefix) || link[^1] != (byte)']')
        {
            return Errno.ENOTSOCK;
        }

        return ulong.TryParse(link[SocketPrefix.Length..^1], System.Globalization.NumberStyles.None, null, out inode)
            ? Errno.Success
            : Errno.ENOTSOCK;
    }

    /// <summary>The inode of the file behind <paramref name="fd"/> (fstat st_ino). For a socket, the number in
    /// "socket:[N]". Does not allocate.</summary>
    public static unsafe Errno GetInode(SafeHandle fd, out ulong inode)
    {
        FileStatus status;
        if (FStat(fd, &status) != 0)
        {
            inode = 0;
            return Interop.LastErrno;
        }

        inode = status.Inode;
        return Errno.Success;
    }

    /// <summary>
    /// The flags of fd <paramref name="fd"/> of <paramref name="pid"/>, from /proc/&lt;pid&gt;/fdinfo/&lt;fd&gt;:
    /// the open file description's status flags (O_NONBLOCK, the access mode) and whether the fd itself is
    /// close-on-exec. FD_CLOEXEC belongs to the fd, not the file, so a pidfd_getfd duplicate cannot tell it;
    /// the kernel reports it in fdinfo as O_CLOEXEC. Does not allocate.
    /// </summary>
    public static unsafe Errno GetFdInfoFlags(int pid, int fd, out int statusFlags, out bool closeOnExec)
    {
        statusFlags = 0;
        closeOnExec = false;
        Span<byte> path = stackalloc byte[PathBufferSize];
        if (!TryFormatPath(path, pid, "/fdinfo/"u8, fd))
        {
            return Errno.EINVAL;
        }

        // "pos:\t<n>\nflags:\t<octal>\n" comes first in every fdinfo; 128 bytes always reach it.
        Span<byte> content = stackalloc byte[128];
        int total = 0;
        fixed (byte* pathPointer = path)
        fixed (byte* buffer = content)
        {
            int file = Open(pathPointer, O_RDONLY | O_CLOEXEC);
            if (file < 0)
            {
                return Interop.LastErrno;
            }

            try
            {
                while (total < content.Length)
                {
                    nint read = Read(file, buffer + total, (nuint)(content.Length - total));
                    if (read < 0)
                    {
                        Errno error = Interop.LastErrno;
                        if (error == Errno.EINTR)
                        {
                            continue;
                        }

                        return error;
                    }

                    if (read == 0)
                    {
                        break;
                    }

                    total += (int)read;
                }
            }
            finally
            {
                Close(file);
            }
        }

        return TryParseFdInfoFlags(content[..total], out int flags)
            ? Complete(flags, out statusFlags, out closeOnExec)
            : Errno.EINVAL;

        static Errno Complete(int flags, out int statusFlags, out bool closeOnExec)
        {
            closeOnExec = (flags & SocketConstants.O_CLOEXEC) != 0;
            statusFlags = flags & ~SocketConstants.O_CLOEXEC;
            return Errno.Success;
        }
    }

    internal static bool TryParseFdInfoFlags(ReadOnlySpan<byte> fdinfo, out int flags)
    {
        flags = 0;
        while (!fdinfo.IsEmpty)
        {
            int end = fdinfo.IndexOf((byte)'\n');
            ReadOnlySpan<byte> line = end < 0 ? fdinfo : fdinfo[..end];
            fdinfo = end < 0 ? default : fdinfo[(end + 1)..];
            if (!line.StartsWith(FlagsLabel))
            {
                continue;
            }

            ReadOnlySpan<byte> digits = line[FlagsLabel.Length..].Trim(" \t"u8);
            if (digits.IsEmpty)
            {
                return false;
            }

            // The kernel prints the flags in octal ("%o").
            int value = 0;
            foreach (byte digit in digits)
            {
                if (digit is < (byte)'0' or > (byte)'7' || value > (int.MaxValue >> 3))
                {
                    return false;
                }

                value = (value << 3) | (digit - '0');
            }

            flags = value;
            return true;
        }

        return false;
    }

    private static bool TryFormatPath(Span<byte> path, int pid, ReadOnlySpan<byte> middle, int fd)
    {
        if (pid <= 0 || fd < 0)
        {
            return false;
        }

        int written = 0;
        "/proc/"u8.CopyTo(path);
        written += "/proc/"u8.Length;
        if (!pid.TryFormat(path[written..], out int digits, provider: System.Globalization.CultureInfo.InvariantCulture))
        {
            return false;
        }

        written += digits;
        middle.CopyTo(path[written..]);
        written += middle.Length;
        if (!fd.TryFormat(path[written..], out digits, provider: System.Globalization.CultureInfo.InvariantCulture))
        {
            return false;
        }

        written += digits;
        if (written >= path.Length)
        {
            return false;
        }

        path[written] = 0;
        return true;
    }
    /// <summary>
    /// The start time of process <paramref name="pid"/> (field 22 of /proc/PID/stat, in clock ticks since boot): with the
    /// pid, it names one process even after the pid is reused. Off the hot path: allocates.
    /// </summary>
    public static bool TryGetStartTime(int pid, out ulong startTime)
    {
        startTime = 0;
        return TryReadStatFields(pid, out var fields) && fields.Length > 19
            && ulong.TryParse(fields[19], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out startTime);
    }

    /// <summary>The state letter (field 3 of /proc/PID/stat: R, S, D, T...) and the parent pid (field 4). Allocates.</summary>
    public static bool TryGetStateAndParent(int pid, out char state, out int parent)
    {
        state = '\0';
        parent = 0;
        if (!TryReadStatFields(pid, out var fields) || fields.Length < 2 || fields[0].Length != 1)
        {
            return false;
        }
        state = fields[0][0];
        return int.TryParse(fields[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out parent);
    }

    // The fields of /proc/PID/stat from the third on. The command name (field 2) is in parentheses and may hold spaces
    // or ')': fields 3 on follow the last ')'.
    private static bool TryReadStatFields(int pid, out string[] fields)
    {
        fields = [];
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
        var close = stat.LastIndexOf(')');
        if (close < 0)
        {
            return false;
        }
        fields = stat[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return true;
    }

    /// <summary>The process (thread group) that thread <paramref name="tid"/> belongs to, from /proc/TID/status. Allocates.</summary>
    public static bool TryGetThreadGroup(int tid, out int tgid)
    {
        tgid = 0;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{tid}/status"))
            {
                if (line.StartsWith("Tgid:", StringComparison.Ordinal))
                {
                    return int.TryParse(line.AsSpan(5).Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out tgid);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
        return false;
    }
}
