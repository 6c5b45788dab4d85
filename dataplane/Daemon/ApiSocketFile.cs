using System.Net.Sockets;
using System.Runtime.Versioning;

namespace Istio.AppSwitch.Daemon;

/// <summary>
/// The file-system side of the API socket: its directory, a stale file left by a daemon that died, and its mode.
/// </summary>
[UnsupportedOSPlatform("windows")]
internal static class ApiSocketFile
{
    /// <summary>The mode of a directory the daemon creates for its socket (0755): anyone may reach the socket, whose own mode decides.</summary>
    public const UnixFileMode DirectoryMode =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>
    /// Makes <paramref name="path"/> ready for Kestrel to bind: creates the parent directory (0755) when missing,
    /// and removes a socket file nobody listens on. Throws <see cref="DaemonStartupException"/> when a daemon is
    /// listening there, or when the path holds something that is not a socket. Returns true when a stale socket was
    /// removed.
    /// </summary>
    public static bool Prepare(string path)
    {
        var directory = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(directory) && !Directory.Exists(directory))
        {
            try
            {
                Directory.CreateDirectory(directory, DirectoryMode);
                // mkdir applies the umask; the mode must not depend on the caller's.
                File.SetUnixFileMode(directory, DirectoryMode);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new DaemonStartupException($"cannot create the directory {directory} for the API socket: {e.Message}", e);
            }
        }

        if (Directory.Exists(path))
        {
            throw new DaemonStartupException($"cannot listen on {path}: it is a directory");
        }
        if (!File.Exists(path))
        {
            return false;
        }

        // A socket file outlives the process that bound it. Connecting tells a live daemon from a dead one.
        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw new DaemonStartupException($"another ax daemon is already listening on {path}; stop it first, or pass --api PATH");
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
            {
                // Nobody listens: a stale socket, or (connect gives ECONNREFUSED for those too) a file of another kind.
            }
            catch (SocketException e)
            {
                throw new DaemonStartupException($"cannot listen on {path}: {e.Message}", e);
            }
        }

        // A socket file is always empty; a file with content is someone's data, not ours to delete.
        if (new FileInfo(path).Length > 0)
        {
            throw new DaemonStartupException($"cannot listen on {path}: the file exists and is not a socket");
        }
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DaemonStartupException($"cannot remove the stale socket {path}: {e.Message}", e);
        }
        return true;
    }

    /// <summary>Sets the socket's mode once Kestrel has bound it.</summary>
    public static void SetMode(string path, UnixFileMode mode) => File.SetUnixFileMode(path, mode);
}
