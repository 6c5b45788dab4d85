using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Api;

/// <summary>Who this process runs as.</summary>
public static class ProcessIdentity
{
    /// <summary>
    /// The effective uid of this process: geteuid(2), one syscall. (It was parsed from <c>/proc/self/status</c>,
    /// which cost <c>ax run</c>, on every application's start-up, about a millisecond.)
    /// </summary>
    public static uint EffectiveUserId => CurrentProcess.GetEffectiveUid();
}
