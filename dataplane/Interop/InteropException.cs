namespace Istio.AppSwitch.Interop;

/// <summary>
/// A failed setup call (installing a filter, opening a pidfd, creating an epoll instance). Hot-path methods
/// never throw this: they return an <see cref="Errno"/>.
/// </summary>
public sealed class InteropException : Exception
{
    /// <summary>Creates an exception for <paramref name="call"/> failing with <paramref name="errno"/>.</summary>
    public InteropException(string call, Errno errno)
        : base($"{call} failed: {errno.GetName()} ({errno.GetMessage()})")
    {
        Call = call;
        Errno = errno;
    }

    /// <summary>Creates an exception with the caller's own message.</summary>
    public InteropException(string call, Errno errno, string message)
        : base(message)
    {
        Call = call;
        Errno = errno;
    }

    /// <summary>The errno the call failed with.</summary>
    public Errno Errno { get; }

    /// <summary>The native call that failed ("seccomp(SECCOMP_SET_MODE_FILTER)", "pidfd_open").</summary>
    public string Call { get; }
}
