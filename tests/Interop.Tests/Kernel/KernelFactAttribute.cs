namespace Istio.AppSwitch.Interop.Tests.Kernel;

/// <summary>What a real-kernel test needs from the machine it runs on.</summary>
public enum KernelRequirement
{
    /// <summary>Linux x86_64 with seccomp user notification (SECCOMP_GET_NOTIF_SIZES works, sizes as expected).</summary>
    SeccompUserNotification,

    /// <summary>pidfd_open(PIDFD_THREAD) (Linux 6.9).</summary>
    ThreadPidFd,
}

/// <summary>A fact that is skipped, with the reason, when the kernel lacks what the test exercises. Nothing is
/// mocked in these tests: without the capability there is nothing to test.</summary>
public sealed class KernelFactAttribute : FactAttribute
{
    public KernelFactAttribute(KernelRequirement requirement)
    {
        string? missing = requirement switch
        {
            KernelRequirement.SeccompUserNotification when !Seccomp.IsSupported =>
                "needs Linux x86_64 with seccomp user notification (SECCOMP_GET_NOTIF_SIZES failed or reported other sizes)",
            KernelRequirement.ThreadPidFd when !KernelCapabilities.HasThreadPidFd =>
                "needs pidfd_open(PIDFD_THREAD), Linux 6.9 or later",
            _ => null,
        };

        if (missing is not null)
        {
            Skip = missing;
        }
    }
}

internal static class KernelCapabilities
{
    private static readonly Lazy<bool> ThreadPidFd = new(() =>
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        Errno error = PidFd.TryOpenThread(CurrentProcess.GetThreadId(), out SafePidFdHandle? handle);
        handle?.Dispose();
        return error == Errno.Success;
    });

    public static bool HasThreadPidFd => ThreadPidFd.Value;
}
