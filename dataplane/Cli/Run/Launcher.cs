using Istio.AppSwitch.Dataplane.Interception;
using Istio.AppSwitch.Dataplane.Registry;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Cli.Run;

/// <summary>What <c>ax run</c> was asked to start.</summary>
/// <param name="Command">The command and its arguments.</param>
/// <param name="Name"><c>--name</c>.</param>
/// <param name="Labels"><c>--labels</c>, parsed.</param>
/// <param name="Ip"><c>--ip</c>.</param>
/// <param name="ApiSocketPath">The daemon's API socket (the launch socket sits beside it).</param>
/// <param name="Network">The network namespace to run in (<c>--netns</c>, <c>--new-netns</c>), or null for the launcher's own.</param>
/// <param name="Udp"><c>--udp</c>: which UDP calls the filter traps.</param>
/// <param name="Sidecar"><c>--sidecar</c>: the delegation sidecar name to launch the program as, or null.</param>
internal sealed record LaunchPlan(IReadOnlyList<string> Command, string? Name, Dictionary<string, string> Labels, string? Ip, string ApiSocketPath,
    NetworkPlan? Network = null, UdpInterception Udp = UdpInterception.SendTo, string? Sidecar = null);

/// <summary>Where the application's network lives: the namespace at <paramref name="Path"/>, or a new one when it is null.</summary>
/// <param name="Path"><c>--netns</c>, or null for <c>--new-netns</c>.</param>
/// <param name="Ports"><c>--ports</c>, parsed.</param>
internal sealed record NetworkPlan(string? Path, List<PortMapping> Ports);

/// <summary>
/// Starts a program under ax: installs the seccomp filter, hands its listener to the daemon, then becomes the
/// program with <c>execve</c>, so the program keeps this process's pid, its stdio, and its exit code.
/// </summary>
/// <remarks>
/// <para>The filter applies only to the thread that installs it (no TSYNC) and survives <c>execve</c>, so one
/// dedicated thread installs it and later calls <c>execve</c>; the kernel then ends every other thread. Between the
/// two, that thread only waits on a futex: a trapped call there would wait on a listener that nobody reads yet.
/// The main thread, which has no filter, talks to the daemon.</para>
/// <para>With <c>--netns</c> or <c>--new-netns</c>, the same thread enters the namespace (setns and unshare act on the
/// calling thread) before it installs the filter, so that neither call is trapped and the exec'd program inherits the
/// thread's namespace; the launcher's other threads, which talk to the daemon, stay in the host's.</para>
/// <para>The program never starts without interception: if the daemon cannot be reached or refuses, the
/// launcher exits with <see cref="DaemonUnavailable"/> and the program is not run.</para>
/// </remarks>
internal static class Launcher
{
    /// <summary>ax itself failed (daemon unreachable, launch refused); as <c>docker run</c> uses 125.</summary>
    public const int DaemonUnavailable = 125;

    /// <summary>The command was found but could not be executed.</summary>
    public const int CannotExecute = 126;

    /// <summary>The command was not found.</summary>
    public const int NotFound = 127;

    public static int Run(LaunchPlan plan, TextWriter stderr)
    {
        // The exec thread starts first, so that installing its filter (and binding libc on its first P/Invoke)
        // overlaps with this thread's work below: finding the program, connecting, laying out the exec. On two
        // cores that saves about 2 ms; the filter is only needed once the listener is sent.
        using var execThread = ExecThread.Start(plan.Network, plan.Udp);

        var program = plan.Command[0];
        var path = ResolveExecutable(program);
        if (path is null)
        {
            stderr.WriteLine($"ax: {program}: command not found");
            return NotFound;
        }

        // Raw socket calls, not System.Net.Sockets: this is every application's start-up path, and the Socket
        // class costs milliseconds to load for one Unix-socket connect.
        SafeFd? daemon = null;
        var launchSocketPath = LaunchProtocol.LaunchSocketPath(plan.ApiSocketPath);
        Span<byte> sockaddr = stackalloc byte[110];
        var error = Sockets.WriteUnixSockaddr(launchSocketPath, sockaddr, out var sockaddrLength);
        if (error == Errno.Success)
        {
            error = Sockets.Create(SocketConstants.AF_UNIX, SocketConstants.SOCK_STREAM, 0, nonBlocking: false, closeOnExec: true, out var created);
            daemon = created;
            if (error == Errno.Success)
            {
                error = Sockets.Connect(daemon!, sockaddr[..sockaddrLength]);
            }
        }
        if (error != Errno.Success)
        {
            daemon?.Dispose();
            stderr.WriteLine($"ax: cannot reach the ax daemon at {plan.ApiSocketPath}: {error.GetMessage()} (is 'ax daemon' running?); not starting {program} without interception");
            return DaemonUnavailable;
        }

        using var daemonSocket = daemon!;
        using var exec = PreparedExec.Create(path, plan.Command);
        // Not [.. plan.Command]: that spread calls System.Linq, an assembly load more on the start-up path.
        var installError = execThread.WaitForFilter();
        if (execThread.NamespaceError != Errno.Success)
        {
            stderr.WriteLine($"ax: {DescribeNamespaceError(plan.Network!, execThread.NamespaceError)}; not starting {program}");
            return execThread.NamespaceError is Errno.ENOENT or Errno.EINVAL ? RunCommand.UsageError : DaemonUnavailable;
        }
        if (installError is not null)
        {
            stderr.WriteLine($"ax: cannot install the seccomp filter: {installError.Message}; not starting {program}");
            return DaemonUnavailable;
        }
        var request = new LaunchRequest
        {
            Name = plan.Name,
            Labels = plan.Labels,
            Ip = plan.Ip,
            Command = new List<string>(plan.Command),
            NetworkNamespace = execThread.NamespaceInode,
            Ports = plan.Network?.Ports ?? [],
            Sidecar = plan.Sidecar,
        };
        var frame = LaunchProtocol.Encode(request);

        LaunchResponse response;
        try
        {
            response = Exchange(daemonSocket, frame, execThread.Listener!);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException)
        {
            stderr.WriteLine($"ax: the ax daemon at {plan.ApiSocketPath} did not accept {program}: {ex.Message}; not starting it");
            return DaemonUnavailable;
        }
        if (response.Error is not null || response.AppId is null)
        {
            stderr.WriteLine($"ax: the ax daemon refused to start {program}: {response.Error ?? "no app id in its answer"}");
            return DaemonUnavailable;
        }

        // The daemon holds its own copy of the listener; ours must not outlive the exec (it is CLOEXEC anyway).
        execThread.Listener!.Dispose();
        var execError = execThread.Execute(exec);
        stderr.WriteLine($"ax: cannot execute {path}: {execError.GetMessage()}");
        return execError == Errno.ENOENT ? NotFound : CannotExecute;
    }

    private static string DescribeNamespaceError(NetworkPlan network, Errno error) => (network.Path, error) switch
    {
        (null, Errno.EPERM) => "cannot create a network namespace: not permitted (--new-netns needs CAP_SYS_ADMIN)",
        (null, _) => $"cannot create a network namespace with its loopback up: {error.GetMessage()}",
        (_, Errno.ENOENT) => $"invalid --netns \"{network.Path}\": no such file",
        (_, Errno.EINVAL) => $"invalid --netns \"{network.Path}\": not a network namespace",
        (_, Errno.EPERM) => $"cannot enter the network namespace {network.Path}: not permitted (--netns needs CAP_SYS_ADMIN)",
        _ => $"cannot enter the network namespace {network.Path}: {error.GetMessage()}",
    };

    private static LaunchResponse Exchange(SafeFd daemon, byte[] frame, SafeSeccompListenerHandle listener)
    {
        Span<int> fds = [listener.Value];
        var error = Sockets.SendWithFds(daemon, frame, fds);
        if (error != Errno.Success)
        {
            throw new IOException($"sending the seccomp listener failed: {error}");
        }

        var prefix = new byte[4];
        ReceiveExactly(daemon, prefix);
        var length = LaunchProtocol.ReadLength(prefix);
        if (length < 0)
        {
            throw new InvalidDataException("the daemon's answer has an invalid length");
        }
        var body = new byte[length];
        ReceiveExactly(daemon, body);
        return LaunchProtocol.DecodeResponse(body)
            ?? throw new InvalidDataException("the daemon's answer is not valid JSON");
    }

    private static void ReceiveExactly(SafeFd socket, Span<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var error = Sockets.Receive(socket, buffer, 0, out var n);
            if (error != Errno.Success)
            {
                throw new IOException($"receiving the daemon's answer failed: {error.GetMessage()}");
            }
            if (n == 0)
            {
                throw new IOException("the daemon closed the connection");
            }
            buffer = buffer[n..];
        }
    }

    /// <summary>execvp's lookup: a name with a slash is a path; otherwise the first executable match in PATH.</summary>
    internal static string? ResolveExecutable(string program)
    {
        if (program.Contains('/', StringComparison.Ordinal))
        {
            return File.Exists(program) ? Path.GetFullPath(program) : null;
        }
        var searchPath = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
        foreach (var directory in searchPath.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, program);
            if (File.Exists(candidate) && (File.GetUnixFileMode(candidate) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0)
            {
                return candidate;
            }
        }
        return null;
    }

    /// <summary>The thread that carries the filter: it installs it at once, then waits to exec.</summary>
    private sealed class ExecThread : IDisposable
    {
        private readonly ManualResetEventSlim _installed = new();
        private readonly ManualResetEventSlim _go = new();
        private readonly ManualResetEventSlim _failed = new();
        private readonly Thread _thread;
        private readonly NetworkPlan? _network;
        private readonly UdpInterception _udp;
        private PreparedExec? _exec;
        private Errno _execError;

        private ExecThread(NetworkPlan? network, UdpInterception udp)
        {
            _network = network;
            _udp = udp;
            _thread = new Thread(Body) { IsBackground = true, Name = "ax-exec" };
        }

        public SafeSeccompListenerHandle? Listener { get; private set; }

        private Exception? InstallError { get; set; }

        /// <summary>Why the thread could not enter the network namespace asked for (then no filter was installed).</summary>
        public Errno NamespaceError { get; private set; }

        /// <summary>The inode of the namespace the thread entered; 0 when it stayed in the launcher's.</summary>
        public ulong NamespaceInode { get; private set; }

        /// <summary>Starts the thread, which installs the filter while the caller goes on.</summary>
        public static ExecThread Start(NetworkPlan? network, UdpInterception udp)
        {
            var execThread = new ExecThread(network, udp);
            execThread._thread.Start();
            return execThread;
        }

        /// <summary>Waits until the filter is installed; returns why it could not be, or null.</summary>
        public Exception? WaitForFilter()
        {
            _installed.Wait();
            return InstallError;
        }

        /// <summary>Lets the thread exec <paramref name="exec"/>. Returns only if execve failed.</summary>
        public Errno Execute(PreparedExec exec)
        {
            _exec = exec; // published to the thread by _go.Set()
            _go.Set();
            _failed.Wait();
            return _execError;
        }

        public void Dispose()
        {
            // Reached only when the program was not started: release the thread without exec.
            _go.Set();
            _thread.Join();
            _installed.Dispose();
            _go.Dispose();
            _failed.Dispose();
        }

        private void Body()
        {
            if (_network is not null)
            {
                NamespaceError = _network.Path is null ? NetworkNamespace.CreateWithLoopback() : NetworkNamespace.Join(_network.Path);
                if (NamespaceError == Errno.Success)
                {
                    NamespaceError = NetworkNamespace.GetCurrentInode(out var inode);
                    NamespaceInode = inode;
                }
                if (NamespaceError != Errno.Success)
                {
                    _installed.Set();
                    return;
                }
            }
            try
            {
                Listener = Seccomp.InstallListenerFilter(TrappedSyscalls.All, TrappedSyscalls.WhenArgumentFor(_udp), SeccompListenerOptions.None);
            }
            catch (InteropException ex)
            {
                InstallError = ex;
                _installed.Set();
                return;
            }
            _installed.Set();
            _go.Wait();
            if (_exec is null)
            {
                return;
            }
            _execError = CurrentProcess.Execve(_exec);
            _failed.Set();
        }
    }
}
