namespace Istio.AppSwitch.Daemon;

/// <summary>
/// The daemon cannot start: its socket is in use by a live daemon, or the path cannot hold a socket. The message
/// is for the user as it stands.
/// </summary>
public sealed class DaemonStartupException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DaemonStartupException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}
