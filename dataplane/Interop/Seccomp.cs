using System.Runtime.InteropServices;
using static Istio.AppSwitch.Interop.Interop.Sys;

namespace Istio.AppSwitch.Interop;

/// <summary>Options for <see cref="Seccomp.InstallListenerFilter(ReadOnlySpan{int}, SeccompListenerOptions)"/>.</summary>
[Flags]
public enum SeccompListenerOptions
{
    /// <summary>The kernel's default: a trapped task waiting for its answer is interrupted by any signal.</summary>
    None = 0,

    /// <summary>
    /// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19): once the daemon has received a notification, only a
    /// fatal signal interrupts the trapped task. Without it, a signal (Go's SIGURG preemption, a timer) withdraws
    /// the notification (the daemon's answer then fails with ENOENT) and, under SA_RESTART, the call is trapped
    /// again with a new id: a slow decision can be asked again and again.
    /// </summary>
    WaitKillableRecv = 1,
}

/// <summary>What an <see cref="ArgumentTrap"/> asks of its argument.</summary>
public enum ArgumentCondition
{
    /// <summary>The argument is not zero (for a pointer: not NULL).</summary>
    NonZero,

    /// <summary>The argument equals <see cref="ArgumentTrap.Value"/> (all 64 bits).</summary>
    Equal,
}

/// <summary>
/// A syscall trapped only when one of its arguments meets a condition. The filter checks it in the kernel, so the calls
/// that do not meet it never leave the kernel: <c>sendto</c> with no destination (a TCP send) costs nothing, where
/// trapping every <c>sendto</c> would put every send of every application on the daemon's path. Several traps on the
/// same number mean "any of them".
/// </summary>
/// <param name="Nr">The x86_64 syscall number.</param>
/// <param name="Arg">The argument's index, 0 to 5.</param>
/// <param name="Condition">What the argument must be for the call to be trapped.</param>
/// <param name="Value">The value for <see cref="ArgumentCondition.Equal"/>.</param>
public readonly record struct ArgumentTrap(int Nr, int Arg, ArgumentCondition Condition, ulong Value = 0);

/// <summary>
/// seccomp user notification (seccomp_unotify(2)): a filter that hands chosen syscalls to a supervisor through a
/// listener fd, and the ioctls that answer them. Only x86_64 is supported.
/// </summary>
public static class Seccomp
{
    /// <summary>The most syscalls one filter traps (classic-BPF jump offsets are 8 bits).</summary>
    public const int MaxTrappedSyscalls = 255;

    // ld arch; jeq x86_64; ret kill; ld nr; jset x32; ret kill; one jeq per nr; ret allow; ret user_notif.
    private const int FixedInstructions = 8;

    // ld nr; jeq nr; ld arg low word; jeq; ld arg high word; jeq.
    private const int InstructionsPerArgumentTrap = 6;

    // Classic BPF jumps are 8 bits wide and go forward only: the first comparison (at index 6) must reach the final
    // return, 255 instructions on at most.
    private const int MaxInstructions = FixedInstructions + MaxTrappedSyscalls;

    private static readonly Lazy<bool> SupportProbe = new(ProbeSupport);

    /// <summary>True when the kernel offers seccomp user notification with ADDFD (SECCOMP_GET_NOTIF_SIZES works
    /// and reports the struct sizes this layer uses) and the process runs on x86_64.</summary>
    public static bool IsSupported => SupportProbe.Value;

    /// <summary>Installs the filter on the calling thread only; see
    /// <see cref="InstallListenerFilter(ReadOnlySpan{int}, SeccompListenerOptions)"/>.</summary>
    public static SafeSeccompListenerHandle InstallListenerFilter(ReadOnlySpan<int> trappedSyscalls) =>
        InstallListenerFilter(trappedSyscalls, SeccompListenerOptions.None);

    /// <summary>
    /// On the calling thread only: sets no_new_privs and installs a filter that kills the process for any
    /// architecture but x86_64 and for x32 syscalls, hands the listed syscalls to the returned listener, and allows
    /// everything else. Threads and processes the calling thread creates afterwards inherit the filter, and it
    /// survives execve. Nothing is allocated on the managed heap after seccomp(2) returns, so the caller may
    /// execve right after (see <see cref="PreparedExec"/>).
    /// </summary>
    /// <exception cref="InteropException">prctl or seccomp failed.</exception>
    /// <exception cref="ArgumentException">More than <see cref="MaxTrappedSyscalls"/> syscalls, or a number that
    /// is negative or has the x32 bit.</exception>
    public static SafeSeccompListenerHandle InstallListenerFilter(ReadOnlySpan<int> trappedSyscalls, SeccompListenerOptions options) =>
        InstallListenerFilter(trappedSyscalls, [], options);

    /// <summary>
    /// As <see cref="InstallListenerFilter(ReadOnlySpan{int}, SeccompListenerOptions)"/>, and also traps the calls
    /// that meet one of <paramref name="argumentTraps"/>.
    /// </summary>
    /// <exception cref="InteropException">prctl or seccomp failed.</exception>
    /// <exception cref="ArgumentException">The program would not fit classic BPF's jumps, or a number or argument
    /// index is invalid.</exception>
    public static unsafe SafeSeccompListenerHandle InstallListenerFilter(ReadOnlySpan<int> trappedSyscalls,
        ReadOnlySpan<ArgumentTrap> argumentTraps, SeccompListenerOptions options)
    {
        EnsureSupportedArchitecture();
        int count = ProgramLength(trappedSyscalls, argumentTraps);
        Span<SockFilter> program = stackalloc SockFilter[count];
        WriteProgram(trappedSyscalls, argumentTraps, program);

        uint flags = SECCOMP_FILTER_FLAG_NEW_LISTENER;
        if ((options & SeccompListenerOptions.WaitKillableRecv) != 0)
        {
            flags |= SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
        }

        // Allocated before seccomp(): once the filter is in place, the caller may be about to execve, and a
        // managed allocation could start a GC or a runtime call the filter traps.
        var listener = new SafeSeccompListenerHandle();

        // seccomp(SET_MODE_FILTER) without CAP_SYS_ADMIN requires no_new_privs; with it, the filter (and the
        // listener) still must not be escapable through a set-uid execve, so set it unconditionally.
        if (Prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        {
            Errno prctlError = Interop.LastErrno;
            listener.Dispose();
            throw new InteropException("prctl(PR_SET_NO_NEW_PRIVS)", prctlError);
        }

        long fd;
        fixed (SockFilter* filter = program)
        {
            var fprog = new SockFprog { Length = (ushort)count, Filter = filter };
            fd = Interop.Sys.Seccomp(SECCOMP_SET_MODE_FILTER, flags, &fprog);
        }

        if (fd < 0)
        {
            Errno error = Interop.LastErrno;
            listener.Dispose();
            throw new InteropException("seccomp(SECCOMP_SET_MODE_FILTER, NEW_LISTENER)", error);
        }

        // The kernel returns the listener with O_CLOEXEC set: the application never inherits it.
        listener.SetFd((int)fd);
        return listener;
    }

    /// <summary>The filter <see cref="InstallListenerFilter(ReadOnlySpan{int})"/> installs, as bytes (struct
    /// sock_filter: u16 code, u8 jt, u8 jf, u32 k, little-endian), for inspection and tests.</summary>
    public static byte[] BuildFilterProgram(ReadOnlySpan<int> trappedSyscalls) => BuildFilterProgram(trappedSyscalls, []);

    /// <summary>The filter with argument traps, as bytes; see <see cref="BuildFilterProgram(ReadOnlySpan{int})"/>.</summary>
    public static byte[] BuildFilterProgram(ReadOnlySpan<int> trappedSyscalls, ReadOnlySpan<ArgumentTrap> argumentTraps)
    {
        var program = new SockFilter[ProgramLength(trappedSyscalls, argumentTraps)];
        WriteProgram(trappedSyscalls, argumentTraps, program);
        return MemoryMarshal.AsBytes(program.AsSpan()).ToArray();
    }

    /// <summary>
    /// SECCOMP_IOCTL_NOTIF_RECV: blocks until a notification is pending (wait for the listener to be readable
    /// first). EINTR is retried. Returns ENOENT when the trapped task was interrupted or died between the
    /// wake-up and the read (there is then nothing to answer), and EBADF/EINVAL for a bad listener.
    /// </summary>
    public static Errno Receive(SafeSeccompListenerHandle listener, out SeccompNotification notification) =>
        Receive(listener, out notification, retryInterrupted: true);

    /// <summary>
    /// As <see cref="Receive(SafeSeccompListenerHandle, out SeccompNotification)"/>; with
    /// <paramref name="retryInterrupted"/> false, a signal ends the wait with <see cref="Errno.EINTR"/> (see
    /// <see cref="ThreadInterrupt"/>): how a receiver thread is stopped while it waits.
    /// </summary>
    public static unsafe Errno Receive(SafeSeccompListenerHandle listener, out SeccompNotification notification, bool retryInterrupted)
    {
        while (true)
        {
            // The kernel rejects a buffer that is not all zeros with EINVAL (room for extensions).
            notification = default;
            int result;
            fixed (SeccompNotification* buffer = &notification)
            {
                result = Ioctl(listener, Interop.SeccompIoctls.NotifRecv, buffer);
            }

            if (result == 0)
            {
                return Errno.Success;
            }

            Errno error = Interop.LastErrno;
            if (error != Errno.EINTR || !retryInterrupted)
            {
                notification = default;
                return error;
            }
        }
    }

    /// <summary>
    /// SECCOMP_IOCTL_NOTIF_SEND: the trapped syscall returns <paramref name="value"/>, or fails with
    /// <paramref name="error"/> when it is not <see cref="Errno.Success"/> (the kernel then ignores the value).
    /// Returns ENOENT when the notification no longer exists: the task died, or a signal interrupted its wait
    /// (it then restarts or fails the call itself), or it was already answered.
    /// </summary>
    public static unsafe Errno Respond(SafeSeccompListenerHandle listener, ulong id, long value, Errno error)
    {
        if (error != Errno.Success && !error.IsValid())
        {
            return Errno.EINVAL;
        }

        var response = new SeccompNotifResp
        {
            Id = id,
            Val = value,
            Error = -(int)error,
            Flags = 0,
        };
        return IoctlRetryingEintr(listener, Interop.SeccompIoctls.NotifSend, &response);
    }

    /// <summary>
    /// Answers with SECCOMP_USER_NOTIF_FLAG_CONTINUE: the kernel performs the syscall itself. It re-reads the
    /// application's memory to do so, so never use this for a call whose outcome a policy decided from that memory
    /// (time-of-check/time-of-use): perform such calls in the daemon.
    /// </summary>
    public static unsafe Errno RespondContinue(SafeSeccompListenerHandle listener, ulong id)
    {
        var response = new SeccompNotifResp { Id = id, Flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE };
        return IoctlRetryingEintr(listener, Interop.SeccompIoctls.NotifSend, &response);
    }

    /// <summary>
    /// SECCOMP_IOCTL_NOTIF_ID_VALID: true while the notification is still waiting for an answer. Call it after
    /// reading the target's memory: the thread may have died and its pid been reused by another process, whose
    /// memory was then read instead.
    /// </summary>
    public static unsafe bool IsIdValid(SafeHandle listener, ulong id) =>
        IoctlRetryingEintr(listener, Interop.SeccompIoctls.NotifIdValid, &id) == Errno.Success;

    /// <summary>
    /// SECCOMP_IOCTL_NOTIF_ADDFD: the trapped task installs a duplicate of <paramref name="srcFd"/> (same open file
    /// description) in its own fd table, at the lowest free number, or exactly at <paramref name="targetFd"/> when
    /// <paramref name="setFd"/> (atomically replacing whatever was there, as dup2 would).
    /// <para>
    /// With <paramref name="send"/>, the same ioctl also answers the syscall, and the kernel makes its return value
    /// the installed fd number, never 0: right for socket() and accept(), but a connect() answered this way
    /// returns its own fd number (libc and Go treat any non-negative value as success). Answer connect with
    /// <c>send: false</c> and then <see cref="Respond"/> with 0 for an exact result.
    /// </para>
    /// Only O_CLOEXEC can be set on the new fd; the file status flags (O_NONBLOCK) belong to the open file
    /// description and come with <paramref name="srcFd"/>. Returns EINPROGRESS if the notification was not
    /// received yet and ENOENT if it no longer exists.
    /// </summary>
    public static unsafe Errno AddFd(SafeSeccompListenerHandle listener, ulong id, SafeHandle srcFd, int targetFd, bool setFd, bool send, bool closeOnExec, out int installedFd)
    {
        installedFd = -1;
        bool added = false;
        try
        {
            srcFd.DangerousAddRef(ref added);
            var request = new SeccompNotifAddFd
            {
                Id = id,
                Flags = (setFd ? SECCOMP_ADDFD_FLAG_SETFD : 0) | (send ? SECCOMP_ADDFD_FLAG_SEND : 0),
                SrcFd = (uint)(int)srcFd.DangerousGetHandle(),
                // The kernel requires newfd to be 0 unless SETFD is given.
                NewFd = setFd ? (uint)targetFd : 0,
                NewFdFlags = closeOnExec ? (uint)SocketConstants.O_CLOEXEC : 0,
            };

            while (true)
            {
                // An interrupted ADDFD is withdrawn before it returns EINTR (unless it completed meanwhile, in
                // which case it returns the fd), so retrying never installs twice.
                int result = Ioctl(listener, Interop.SeccompIoctls.NotifAddFd, &request);
                if (result >= 0)
                {
                    installedFd = result;
                    return Errno.Success;
                }

                Errno error = Interop.LastErrno;
                if (error != Errno.EINTR)
                {
                    return error;
                }
            }
        }
        finally
        {
            if (added)
            {
                srcFd.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// SECCOMP_IOCTL_NOTIF_SET_FLAGS(SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP), Linux 6.6: the kernel wakes the receiver of a
    /// notification, and then the trapped task when it is answered, on the waking CPU, as a synchronous hand-off:
    /// the trapped thread and the thread that answers it run one after the other on one CPU instead of each waking
    /// the other across CPUs. It helps only a receiver that waits in <see cref="Receive"/> or poll(2): epoll's
    /// wake-up does not pass the hint on. Returns EINVAL on kernels without it.
    /// </summary>
    public static unsafe Errno SetSyncWakeUp(SafeSeccompListenerHandle listener) =>
        IoctlRetryingEintr(listener, Interop.SeccompIoctls.NotifSetFlags, (void*)Interop.SeccompIoctls.NotifFdSyncWakeUp);

    /// <summary>SECCOMP_GET_NOTIF_SIZES: the kernel's sizes of seccomp_notif, seccomp_notif_resp and seccomp_data.</summary>
    /// <exception cref="InteropException">The kernel has no seccomp user notification.</exception>
    public static unsafe (ushort Notif, ushort Resp, ushort Data) GetNotificationSizes()
    {
        SeccompNotifSizes sizes;
        if (Interop.Sys.Seccomp(SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0)
        {
            throw new InteropException("seccomp(SECCOMP_GET_NOTIF_SIZES)", Interop.LastErrno);
        }

        return (sizes.Notif, sizes.Resp, sizes.Data);
    }

    private static bool ProbeSupport()
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64 || !OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            var (notif, resp, _) = GetNotificationSizes();
            // NOTIF_RECV copies the kernel's own struct size into ax's 80-byte buffer: a kernel whose
            // seccomp_notif grew would write past it, so anything but the known sizes is unsupported.
            return notif == Interop.StructSizes.SeccompNotif && resp == Interop.StructSizes.SeccompNotifResp;
        }
        catch (InteropException)
        {
            return false;
        }
    }

    private static unsafe Errno IoctlRetryingEintr(SafeHandle listener, ulong request, void* argument)
    {
        while (true)
        {
            if (Ioctl(listener, request, argument) == 0)
            {
                return Errno.Success;
            }

            Errno error = Interop.LastErrno;
            if (error != Errno.EINTR)
            {
                return error;
            }
        }
    }

    private static void EnsureSupportedArchitecture()
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64 || !OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("ax's seccomp filter is built for Linux x86_64 only.");
        }
    }

    private static int ProgramLength(ReadOnlySpan<int> trappedSyscalls, ReadOnlySpan<ArgumentTrap> argumentTraps)
    {
        ValidateTrapped(trappedSyscalls);
        foreach (var trap in argumentTraps)
        {
            if (trap.Nr < 0 || (trap.Nr & Interop.Syscalls.X32SyscallBit) != 0)
            {
                throw new ArgumentException($"{trap.Nr} is not an x86_64 syscall number.", nameof(argumentTraps));
            }
            if (trap.Arg is < 0 or > 5)
            {
                throw new ArgumentException($"syscall arguments are numbered 0 to 5, not {trap.Arg}.", nameof(argumentTraps));
            }
            if (!Enum.IsDefined(trap.Condition))
            {
                throw new ArgumentException($"unknown condition {trap.Condition}.", nameof(argumentTraps));
            }
        }
        int count = FixedInstructions + trappedSyscalls.Length + (InstructionsPerArgumentTrap * argumentTraps.Length);
        if (count > MaxInstructions)
        {
            throw new ArgumentException($"{trappedSyscalls.Length} syscalls and {argumentTraps.Length} argument traps need {count} instructions; " +
                $"classic BPF's jumps reach {MaxInstructions}.", nameof(argumentTraps));
        }
        return count;
    }

    private static void ValidateTrapped(ReadOnlySpan<int> trappedSyscalls)
    {
        if (trappedSyscalls.Length > MaxTrappedSyscalls)
        {
            throw new ArgumentException($"At most {MaxTrappedSyscalls} syscalls can be trapped.", nameof(trappedSyscalls));
        }

        foreach (int nr in trappedSyscalls)
        {
            if (nr < 0 || (nr & Interop.Syscalls.X32SyscallBit) != 0)
            {
                throw new ArgumentException($"{nr} is not an x86_64 syscall number.", nameof(trappedSyscalls));
            }
        }
    }

    private static void WriteProgram(ReadOnlySpan<int> trapped, ReadOnlySpan<ArgumentTrap> argumentTraps, Span<SockFilter> program)
    {
        const ushort LoadWordAbsolute = BPF_LD | BPF_W | BPF_ABS;
        const ushort JumpIfEqual = BPF_JMP | BPF_JEQ | BPF_K;
        const ushort JumpIfSet = BPF_JMP | BPF_JSET | BPF_K;
        const ushort Return = BPF_RET | BPF_K;

        int notify = program.Length - 1;
        // The jump offset from instruction i to target: classic BPF counts from the next instruction.
        static byte To(int target, int i) => checked((byte)(target - i - 1));

        int i = 0;
        // 1. The architecture first: syscall numbers mean different calls on i386 (int 0x80 from a 64-bit
        //    process), so a number check alone could be bypassed.
        program[i++] = Instruction(LoadWordAbsolute, 0, 0, SeccompDataArch);
        program[i++] = Instruction(JumpIfEqual, 1, 0, Interop.Audit.ArchX86_64);
        program[i++] = Instruction(Return, 0, 0, SECCOMP_RET_KILL_PROCESS);
        // 2. x32 shares AUDIT_ARCH_X86_64 but sets bit 30 in the number: connect is 0x40000000 | 42 there.
        program[i++] = Instruction(LoadWordAbsolute, 0, 0, SeccompDataNr);
        program[i++] = Instruction(JumpIfSet, 0, 1, Interop.Syscalls.X32SyscallBit);
        program[i++] = Instruction(Return, 0, 0, SECCOMP_RET_KILL_PROCESS);
        // 3. One comparison per trapped number, each jumping to the shared USER_NOTIF return at the end.
        foreach (int nr in trapped)
        {
            program[i] = Instruction(JumpIfEqual, To(notify, i), 0, (uint)nr);
            i++;
        }

        // 4. Argument traps: a block each, falling through to the next block when its number or its condition does not
        //    match. Each block loads the number again, because the one before it left an argument in the accumulator.
        //    The 64-bit argument is compared as its two 32-bit halves (seccomp_data is little-endian here).
        foreach (var trap in argumentTraps)
        {
            int next = i + InstructionsPerArgumentTrap;
            uint low = SeccompDataArgs + (uint)(8 * trap.Arg);
            program[i] = Instruction(LoadWordAbsolute, 0, 0, SeccompDataNr);
            i++;
            program[i] = Instruction(JumpIfEqual, 0, To(next, i), (uint)trap.Nr);
            i++;
            program[i] = Instruction(LoadWordAbsolute, 0, 0, low);
            i++;
            if (trap.Condition == ArgumentCondition.NonZero)
            {
                program[i] = Instruction(JumpIfEqual, 0, To(notify, i), 0);
                i++;
                program[i] = Instruction(LoadWordAbsolute, 0, 0, low + 4);
                i++;
                program[i] = Instruction(JumpIfEqual, 0, To(notify, i), 0);
                i++;
            }
            else
            {
                program[i] = Instruction(JumpIfEqual, 0, To(next, i), (uint)trap.Value);
                i++;
                program[i] = Instruction(LoadWordAbsolute, 0, 0, low + 4);
                i++;
                program[i] = Instruction(JumpIfEqual, To(notify, i), 0, (uint)(trap.Value >> 32));
                i++;
            }
        }

        // 5. Everything else.
        program[i++] = Instruction(Return, 0, 0, SECCOMP_RET_ALLOW);
        program[i] = Instruction(Return, 0, 0, SECCOMP_RET_USER_NOTIF);
    }

    private static SockFilter Instruction(ushort code, byte jumpTrue, byte jumpFalse, uint k) =>
        new() { Code = code, JumpTrue = jumpTrue, JumpFalse = jumpFalse, K = k };
}
