using System.Collections.Concurrent;

namespace Istio.AppSwitch.Dataplane.Delegation;

/// <summary>
/// The applications launched as delegation sidecars (<c>ax run --sidecar NAME</c>), by app id: the identity that lets
/// an application under ax register for socket delegation, and under that name only (docs/delegation.md, "Who may
/// register"). The role is decided once, at launch, from the launcher's <c>SO_PEERCRED</c>: only root and the daemon's
/// uid, launching from outside ax, may grant it, since a sidecar receives other applications' sockets.
/// </summary>
/// <remarks>Read on the API's registration path only, never on a trapped syscall's.</remarks>
public sealed class SidecarRoles
{
    /// <summary>The longest sidecar name, as <c>POST /v1/delegation</c> takes it.</summary>
    public const int MaxNameLength = 63;

    private readonly ConcurrentDictionary<string, string> _byApp = new(StringComparer.Ordinal);

    /// <summary>Creates an empty table for a daemon running as <paramref name="daemonUid"/>.</summary>
    public SidecarRoles(uint daemonUid)
    {
        DaemonUid = daemonUid;
    }

    /// <summary>The daemon's uid: besides root, the one uid that may launch a sidecar.</summary>
    public uint DaemonUid { get; }

    /// <summary>Whether <paramref name="name"/> is a valid sidecar name: 1 to 63 letters, digits, '.', '_' or '-'.</summary>
    public static bool IsValidName(string? name) =>
        name is { Length: > 0 and <= MaxNameLength } && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    /// <summary>The rule <see cref="IsValidName"/> checks, for messages.</summary>
    public static string NameRule => $"1 to {MaxNameLength} letters, digits, '.', '_' or '-'";

    /// <summary>
    /// Why a launch with the sidecar role <paramref name="name"/> must be refused, or null when it may go ahead.
    /// </summary>
    /// <param name="name">The role asked for.</param>
    /// <param name="launcherUid">The launcher's uid, from <c>SO_PEERCRED</c> on the launch socket.</param>
    /// <param name="launcherPid">The launcher's pid, from the same.</param>
    /// <param name="launcherApplication">The application under ax that the launcher itself runs under, or null.</param>
    public string? CheckLaunch(string name, uint launcherUid, int launcherPid, string? launcherApplication)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!IsValidName(name))
        {
            return $"invalid --sidecar \"{name}\": a sidecar name is {NameRule}";
        }
        if (launcherApplication is not null)
        {
            // Whatever its uid: otherwise any root application under ax could launch a child with the role.
            return $"--sidecar {name} refused: the launcher (pid {launcherPid}) runs under ax (application {launcherApplication}), and an application under ax may not launch a delegation sidecar";
        }
        if (launcherUid != 0 && launcherUid != DaemonUid)
        {
            return $"--sidecar {name} refused: uid {launcherUid} may not launch a delegation sidecar, which receives other applications' sockets; only {Launchers} may";
        }
        return null;
    }

    /// <summary>Who may launch a sidecar, for messages: "root", or "root and uid N (the daemon's)".</summary>
    public string Launchers => DaemonUid == 0 ? "root" : $"root and uid {DaemonUid} (the daemon's)";

    /// <summary>Records that application <paramref name="appId"/> was launched as sidecar <paramref name="name"/>.</summary>
    public void Grant(string appId, string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(appId);
        ArgumentException.ThrowIfNullOrEmpty(name);
        _byApp[appId] = name;
    }

    /// <summary>The sidecar name application <paramref name="appId"/> was launched with, or null when it has no role.</summary>
    public string? RoleOf(string appId) => _byApp.GetValueOrDefault(appId);

    /// <summary>Drops the role of an application that is gone.</summary>
    public void Revoke(string appId) => _byApp.TryRemove(appId, out _);
}
