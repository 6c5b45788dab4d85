using System.Runtime.InteropServices;
using static Istio.AppSwitch.Interop.Interop.Sys;

namespace Istio.AppSwitch.Interop;

/// <summary>
/// Wakes one of this process's threads out of the seccomp receive ioctl, which no close of the listener ends (the
/// ioctl holds its own reference to the file). A handled signal does, but only without <c>SA_RESTART</c>: in the
/// synchronous wake-up mode the wait returns <c>-ERESTARTSYS</c>, which the kernel turns into a transparent restart
/// for a handler with <c>SA_RESTART</c> (every handler the .NET runtime installs has it) and into <c>EINTR</c> for one
/// without. So a real-time signal above the runtime's own (CoreCLR takes SIGRTMIN for thread activation) gets a
/// handler of its own here, installed with sigaction(2) and no flags.
/// </summary>
/// <remarks>
/// The handler must run no managed code (a signal can land anywhere, even inside the garbage collector) and do
/// nothing. It is libc's <c>abs</c>: <c>int abs(int)</c> has the shape of a handler (<c>void (*)(int)</c>; under the
/// x86_64 ABI the return value is ignored), is async-signal-safe, and has no effect. glibc's sigaction supplies the
/// restorer.
/// </remarks>
public static class ThreadInterrupt
{
    private static readonly Lock Gate = new();
    private static int _signal;

    /// <summary>Installs the handler (once per process); call before <see cref="Interrupt"/>.</summary>
    /// <exception cref="InteropException">sigaction failed.</exception>
    public static unsafe void Install()
    {
        lock (Gate)
        {
            if (_signal != 0)
            {
                return;
            }
            var signal = CurrentSigRtMin() + 6;
            var action = default(SigActionStruct);
            action.Handler = NativeLibrary.GetExport(NativeLibrary.Load("libc.so.6"), "abs");
            if (SigAction(signal, &action, null) != 0)
            {
                throw new InteropException("sigaction", Interop.LastErrno);
            }
            _signal = signal;
        }
    }

    /// <summary>
    /// Sends the interrupt signal to thread <paramref name="threadId"/> of this process. A thread not yet in its
    /// blocking call when the signal lands is not interrupted: callers set their stop flag first and repeat until
    /// the thread is seen to leave.
    /// </summary>
    public static Errno Interrupt(int threadId)
    {
        if (_signal == 0)
        {
            throw new InvalidOperationException("ThreadInterrupt.Install was not called");
        }
        return CurrentProcess.SignalThread(threadId, _signal);
    }
}
