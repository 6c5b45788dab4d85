using static Istio.AppSwitch.Interop.Interop.Sys;

namespace Istio.AppSwitch.Interop;

/// <summary>
/// Reads and writes another process's memory with process_vm_readv/process_vm_writev (one copy, no ptrace stop).
/// The caller needs ptrace access to the target (same uid without no-dumpable, or CAP_SYS_PTRACE).
/// </summary>
public static class ProcessMemory
{
    /// <summary>
    /// Copies up to <c>destination.Length</c> bytes at <paramref name="address"/> in <paramref name="pid"/>
    /// (a process or thread id). A range that runs into an unmapped page is read partially:
    /// <paramref name="bytesRead"/> is then smaller. Returns EFAULT when the first byte is not readable, ESRCH when
    /// the task is gone, EPERM without ptrace access. The pid may name a different process by the time this
    /// returns: validate the notification id afterwards. Does not allocate.
    /// </summary>
    public static unsafe Errno Read(int pid, ulong address, Span<byte> destination, out int bytesRead)
    {
        bytesRead = 0;
        if (destination.IsEmpty)
        {
            return Errno.Success;
        }

        fixed (byte* buffer = destination)
        {
            var local = new IOVector { Base = buffer, Length = (nuint)destination.Length };
            var remote = new IOVector { Base = (void*)address, Length = (nuint)destination.Length };
            nint result = ProcessVmReadv(pid, &local, 1, &remote, 1, 0);
            if (result < 0)
            {
                return Interop.LastErrno;
            }

            bytesRead = (int)result;
            return Errno.Success;
        }
    }

    /// <summary>
    /// Copies <paramref name="source"/> to <paramref name="address"/> in <paramref name="pid"/>. Partial writes
    /// are reported through <paramref name="bytesWritten"/>, errors as for <see cref="Read"/>. Does not allocate.
    /// </summary>
    public static unsafe Errno Write(int pid, ulong address, ReadOnlySpan<byte> source, out int bytesWritten)
    {
        bytesWritten = 0;
        if (source.IsEmpty)
        {
            return Errno.Success;
        }

        fixed (byte* buffer = source)
        {
            var local = new IOVector { Base = buffer, Length = (nuint)source.Length };
            var remote = new IOVector { Base = (void*)address, Length = (nuint)source.Length };
            nint result = ProcessVmWritev(pid, &local, 1, &remote, 1, 0);
            if (result < 0)
            {
                return Interop.LastErrno;
            }

            bytesWritten = (int)result;
            return Errno.Success;
        }
    }
    /// <summary>
    /// Gathers from the buffers that <paramref name="remoteVectors"/> names in <paramref name="pid"/> (a raw
    /// <c>struct iovec</c> array as read from the application, at most <see cref="ApplicationMessage.MaxIoVectors"/>)
    /// into <paramref name="destination"/>, in order, up to its length. The kernel stops at the first fault, so a short
    /// <paramref name="bytesRead"/> means a buffer could not be read. EINVAL for a malformed array. Does not allocate.
    /// </summary>
    public static Errno ReadGather(int pid, ReadOnlySpan<byte> remoteVectors, Span<byte> destination, out int bytesRead) =>
        Vectored(pid, remoteVectors, destination, write: false, out bytesRead);

    /// <summary>
    /// Scatters <paramref name="source"/> over the buffers that <paramref name="remoteVectors"/> names in
    /// <paramref name="pid"/>, in order, as recvmsg(2) fills an application's iovecs. Errors as for
    /// <see cref="ReadGather"/>. Does not allocate.
    /// </summary>
    public static unsafe Errno WriteScatter(int pid, ReadOnlySpan<byte> remoteVectors, ReadOnlySpan<byte> source, out int bytesWritten)
    {
        // process_vm_writev only reads the local buffer: the cast away from read-only is safe.
        fixed (byte* buffer = source)
        {
            return Vectored(pid, remoteVectors, new Span<byte>(buffer, source.Length), write: true, out bytesWritten);
        }
    }

    private static unsafe Errno Vectored(int pid, ReadOnlySpan<byte> remoteVectors, Span<byte> local, bool write, out int transferred)
    {
        transferred = 0;
        if (remoteVectors.Length % ApplicationMessage.IoVectorSize != 0
            || remoteVectors.Length / ApplicationMessage.IoVectorSize > ApplicationMessage.MaxIoVectors)
        {
            return Errno.EINVAL;
        }
        if (local.IsEmpty || remoteVectors.IsEmpty)
        {
            return Errno.Success;
        }

        fixed (byte* buffer = local)
        fixed (byte* remote = remoteVectors)
        {
            var vector = new IOVector { Base = buffer, Length = (nuint)local.Length };
            var count = (nuint)(remoteVectors.Length / ApplicationMessage.IoVectorSize);
            nint result = write
                ? ProcessVmWritev(pid, &vector, 1, (IOVector*)remote, count, 0)
                : ProcessVmReadv(pid, &vector, 1, (IOVector*)remote, count, 0);
            if (result < 0)
            {
                return Interop.LastErrno;
            }

            transferred = (int)result;
            return Errno.Success;
        }
    }
}
