namespace Istio.AppSwitch.Interop.Tests.Kernel;

public sealed class StrayFilterTests
{
    /// <summary>
    /// A filter is inherited by every thread its thread creates afterwards. If a trapped thread ever started a
    /// thread-pool worker, that worker would carry the filter into unrelated tests (and, for ax, a launcher that
    /// starts a thread after installing the filter would trap the daemon side of its own process). This checks
    /// that the tests' trapped threads never leak one.
    /// </summary>
    [KernelFact(KernelRequirement.SeccompUserNotification)]
    public void TrappedThreads_AfterTheyRan_NoOtherThreadOfThisProcessCarriesAFilter()
    {
        using (TrappedThread app = TrappedThread.Start([SyscallNumbers.Connect], () => { }))
        {
            app.Go();
            app.Join();
        }

        Assert.Empty(TrappedThread.FindStrayFilteredThreads());
    }
}
