using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop;

/// <summary>
/// struct seccomp_notif (80 bytes): one trapped syscall, as read from the listener with
/// <see cref="Seccomp.Receive"/>. Blittable; the kernel fills it in place.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct SeccompNotification
{
    /// <summary>The cookie to answer with. Unique for the listener's lifetime.</summary>
    public ulong Id;

    /// <summary>
    /// The thread id (not the process id) of the trapped task, in the listener's pid namespace; 0 if the task is
    /// not visible there. It names a thread that may die, and its number be reused, at any moment: check
    /// <see cref="Seccomp.IsIdValid"/> after using it.
    /// </summary>
    public uint Pid;

    /// <summary>Always 0 today.</summary>
    public uint Flags;

    /// <summary>The syscall number (seccomp_data.nr); see <see cref="SyscallNumbers"/>.</summary>
    public int Nr;

    /// <summary>The AUDIT_ARCH_* of the call (seccomp_data.arch): AUDIT_ARCH_X86_64 (0xC000003E) under ax's filter.</summary>
    public uint Arch;

    /// <summary>The instruction pointer at the syscall.</summary>
    public ulong InstructionPointer;

#pragma warning disable CS1591 // The syscall's six raw arguments (seccomp_data.args): pointers are the target's.
    public ulong Arg0;
    public ulong Arg1;
    public ulong Arg2;
    public ulong Arg3;
    public ulong Arg4;
    public ulong Arg5;
#pragma warning restore CS1591

    /// <summary>AUDIT_ARCH_X86_64.</summary>
    public const uint AuditArchX86_64 = Interop.Audit.ArchX86_64;

    /// <summary>The argument at <paramref name="index"/> (0..5).</summary>
    public readonly ulong GetArgument(int index) => index switch
    {
        0 => Arg0,
        1 => Arg1,
        2 => Arg2,
        3 => Arg3,
        4 => Arg4,
        5 => Arg5,
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    };
}
