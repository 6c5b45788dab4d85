using System.Net;

namespace Istio.AppSwitch.Dataplane.Registry;

/// <summary>
/// What <c>ax run</c> tells the daemon about an application it is about to start. Validated by
/// <see cref="ServiceRegistry.RegisterApp"/>.
/// </summary>
/// <param name="Name"><c>--name</c>, or null for the command's base name.</param>
/// <param name="Labels"><c>--labels</c>; keys starting with <c>ax.</c> are reserved.</param>
/// <param name="Ip"><c>--ip</c>: the address the application believes it has, or null.</param>
/// <param name="Pid">The application's pid (from <c>SO_PEERCRED</c> of the launcher, which <c>execve</c>s into it).</param>
/// <param name="Uid">The application's uid.</param>
/// <param name="Command">The command line; the first element is the program.</param>
/// <param name="NetworkNamespace">The inode of the network namespace it runs in, or 0 for the host's (the daemon's).</param>
/// <param name="Ports"><c>--ports</c>: the application ports bound in the host's namespace, and as which port.</param>
public sealed record AppRegistration(
    string? Name,
    IReadOnlyDictionary<string, string> Labels,
    IPAddress? Ip,
    int Pid,
    uint Uid,
    IReadOnlyList<string> Command,
    ulong NetworkNamespace = 0,
    IReadOnlyList<PortMapping>? Ports = null)
{
    /// <summary>The id of an application adopted from a previous daemon (docs/interception.md); null to number a new one.</summary>
    public string? Id { get; init; }
}
