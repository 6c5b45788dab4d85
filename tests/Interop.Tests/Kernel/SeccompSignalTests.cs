using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using static Istio.AppSwitch.Interop.Tests.Kernel.SeccompTestSupport;

namespace Istio.AppSwitch.Interop.Tests.Kernel;

/// <summary>
/// What a signal does to a trapped call. By default the wait for the daemon's answer is interruptible: the
/// notification is withdrawn and, under SA_RESTART (the runtime's handlers use it), the call is trapped again with
/// a new id. With <see cref="SeccompListenerOptions.WaitKillableRecv"/>, once received, only a fatal signal
/// interrupts it. SIGCONT is used because a handler for it is harmless in a test host.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class SeccompSignalTests : IDisposable
{
    private const int Sigcont = 18;
    private static readonly int[] Trapped = [SyscallNumbers.Connect];

    private readonly EpollReactor _reactor = new("seccomp-signal");
    private readonly PosixSignalRegistration _handler = PosixSignalRegistration.Create(PosixSignal.SIGCONT, context => context.Cancel = true);

    public void Dispose()
    {
        _handler.Dispose();
        _reactor.Dispose();
    }

    [KernelFact(KernelRequirement.SeccompUserNotification)]
    public async Task Signal_WhileAnswerPending_NotificationWithdrawnAndCallTrappedAgain()
    {
        Errno connectResult = Errno.EIO;
        using TrappedThread app = TrappedThread.Start(Trapped, () =>
        {
            using SafeFd socket = TestSockets.NewTcpSocket();
            connectResult = TestSockets.Connect(socket, TestSockets.Vip);
        });
        app.Go();

        SeccompNotification first = await ReceiveAsync(_reactor, app.Listener);
        Assert.Equal(Errno.Success, CurrentProcess.SignalThread(app.ThreadId, Sigcont));

        SeccompNotification second = await ReceiveAsync(_reactor, app.Listener);
        Assert.NotEqual(first.Id, second.Id);
        Assert.Equal(first.Arg0, second.Arg0);
        Assert.Equal(TestSockets.Vip, ReadConnectAddress(second));
        Assert.False(Seccomp.IsIdValid(app.Listener, first.Id));
        Assert.Equal(Errno.ENOENT, Seccomp.Respond(app.Listener, first.Id, 0, Errno.Success));

        Assert.Equal(Errno.Success, Seccomp.Respond(app.Listener, second.Id, 0, Errno.ECONNREFUSED));
        app.Join();
        Assert.Equal(Errno.ECONNREFUSED, connectResult);
    }

    [KernelFact(KernelRequirement.SeccompUserNotification)]
    public async Task Signal_WithWaitKillableRecv_NotificationSurvivesUntilAnswered()
    {
        Errno connectResult = Errno.EIO;
        using TrappedThread app = TrappedThread.Start(
            Trapped,
            () =>
            {
                using SafeFd socket = TestSockets.NewTcpSocket();
                connectResult = TestSockets.Connect(socket, TestSockets.Vip);
            },
            SeccompListenerOptions.WaitKillableRecv);
        app.Go();

        SeccompNotification connect = await ReceiveAsync(_reactor, app.Listener);
        Assert.Equal(Errno.Success, CurrentProcess.SignalThread(app.ThreadId, Sigcont));
        await Task.Delay(100);

        Assert.True(Seccomp.IsIdValid(app.Listener, connect.Id));
        Assert.Equal(Errno.Success, Seccomp.Respond(app.Listener, connect.Id, 0, Errno.ECONNREFUSED));
        app.Join();
        Assert.Equal(Errno.ECONNREFUSED, connectResult);
    }
}
