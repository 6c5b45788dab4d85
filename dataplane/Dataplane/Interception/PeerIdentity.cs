using System.Buffers.Binary;
using System.Globalization;
using Istio.AppSwitch.Dataplane.Registry;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>
/// The mTLS principal of a peer that is itself an application under ax on this host: ax knows who it is without a
/// certificate, because it knows which process holds the other end of the connection.
/// </summary>
/// <remarks>
/// <para>Only asked when a port's RBAC names principals, and only for peers whose address is local (loopback, or the
/// address the connection was accepted on). It reads <c>/proc/net/tcp{,6}</c> for the client socket (local address =
/// the peer, remote = ours), then looks for that socket's inode among the fds of each app's launched process. That
/// costs a few procfs reads per accepted connection, on the reactor thread: acceptable for the ports that need it,
/// never paid by others. A socket held only by a forked child of an app is not found (the identity is then unknown,
/// and the rule that needed it denies).</para>
/// <para>The principal is <c>spiffe://cluster.local/ns/NS/sa/SA</c>, from the app's labels
/// <see cref="SyscallHandler.NamespaceLabel"/> and <see cref="SyscallHandler.ServiceAccountLabel"/> (docs/inbound-policy.md).
/// An app without both labels has no identity.</para>
/// </remarks>
internal static class PeerIdentity
{
    /// <summary>Istio's default trust domain.</summary>
    public const string TrustDomain = "cluster.local";

    /// <summary>The principal of the app at the other end of the connection <paramref name="peer"/> → <paramref name="local"/>, or null.</summary>
    public static string? PrincipalOf(ServiceRegistry registry, in InetEndpoint peer, in InetEndpoint local)
    {
        if (!(peer.IsLoopback || peer.AddressBytes.SequenceEqual(local.AddressBytes)) || FindClientInode(in peer, in local) is not { } inode)
        {
            return null;
        }
        foreach (var app in registry.Apps)
        {
            if (Holds(app.Pid, inode))
            {
                return PrincipalOf(app.Labels);
            }
        }
        return null;
    }

    /// <summary>The principal an app's labels give it, or null without both labels.</summary>
    public static string? PrincipalOf(Labels labels) =>
        labels.TryGetValue(SyscallHandler.NamespaceLabel, out var ns) && labels.TryGetValue(SyscallHandler.ServiceAccountLabel, out var sa)
            ? $"spiffe://{TrustDomain}/ns/{ns}/sa/{sa}"
            : null;

    private static ulong? FindClientInode(in InetEndpoint peer, in InetEndpoint local)
    {
        // The client's socket lists the peer as its local address and ours as its remote one. An IPv4 client of an
        // IPv6 listener shows as ::ffff:a.b.c.d here but is an AF_INET socket in /proc/net/tcp.
        if (peer.IsIPv4MappedIPv6 && local.IsIPv4MappedIPv6)
        {
            return Find("/proc/net/tcp", Hex(peer.MapToIPv4()), Hex(local.MapToIPv4()))
                ?? Find("/proc/net/tcp6", Hex(peer), Hex(local));
        }
        return Find(peer.IsIPv6 ? "/proc/net/tcp6" : "/proc/net/tcp", Hex(peer), Hex(local));
    }

    private static ulong? Find(string table, string localText, string remoteText)
    {
        try
        {
            foreach (var line in File.ReadLines(table))
            {
                // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length > 9 && fields[1] == localText && fields[2] == remoteText
                    && ulong.TryParse(fields[9], NumberStyles.None, CultureInfo.InvariantCulture, out var inode) && inode != 0)
                {
                    return inode;
                }
            }
        }
        catch (IOException)
        {
        }
        return null;
    }

    /// <summary>The kernel's text for an address and port in /proc/net/tcp: each 32-bit word of the address as the CPU holds it, in hex.</summary>
    internal static string Hex(InetEndpoint endpoint)
    {
        var bytes = endpoint.AddressBytes;
        var text = new System.Text.StringBuilder(48);
        for (var i = 0; i < bytes.Length; i += 4)
        {
            text.Append(BinaryPrimitives.ReadUInt32LittleEndian(bytes[i..]).ToString("X8", CultureInfo.InvariantCulture));
        }
        return text.Append(':').Append(endpoint.Port.ToString("X4", CultureInfo.InvariantCulture)).ToString();
    }

    private static bool Holds(int pid, ulong inode)
    {
        string[] fds;
        try
        {
            fds = Directory.GetFileSystemEntries($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/fd");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
        foreach (var path in fds)
        {
            if (int.TryParse(Path.GetFileName(path), NumberStyles.None, CultureInfo.InvariantCulture, out var fd)
                && ProcFs.GetSocketInode(pid, fd, out var found) == Errno.Success && found == inode)
            {
                return true;
            }
        }
        return false;
    }
}
