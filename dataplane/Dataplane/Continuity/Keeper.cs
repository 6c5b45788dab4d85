using System.Net.Sockets;
using Istio.AppSwitch.Interop;
using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Dataplane.Continuity;

/// <summary>Settings of <c>ax keeper</c>.</summary>
public sealed record KeeperOptions
{
    /// <summary>The keeper's socket (<see cref="KeeperProtocol.KeeperSocketPath"/> of the daemon's API socket).</summary>
    public required string SocketPath { get; init; }

    /// <summary>
    /// How long the keeper stays with no daemon connected and no fd held: long enough for a daemon's restart to
    /// find the refs and mesh rules it left (a DaemonSet's new pod may take a minute to start).
    /// </summary>
    public TimeSpan Linger { get; init; } = TimeSpan.FromMinutes(10);
}

/// <summary>
/// <c>ax keeper</c>: holds what applications' ongoing lives need while no daemon runs, above all a dup of every
/// seccomp listener. While a listener is open anywhere, an application's trapped calls wait in the kernel for a
/// daemon to answer; once the last copy closes, they fail with <c>ENOSYS</c>. The keeper never reads notifications:
/// it is a store of keys, JSON values and fds (<see cref="KeeperProtocol"/>), small enough to have no reason to be
/// restarted with the daemon. An entry whose fd is a listener no task uses any more (the application's process tree
/// ended) goes with everything under its key.
/// </summary>
public sealed partial class Keeper : IDisposable
{
    private readonly KeeperOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly SortedDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly EpollReactor _reactor;
    private readonly uint _uid = CurrentProcess.GetUid();
    private int _connections;
    private long _idleSince = Environment.TickCount64;
    private Socket? _listener;

    /// <summary>Creates the keeper; <see cref="Run"/> serves it.</summary>
    public Keeper(KeeperOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _logger = logger;
        _reactor = new EpollReactor("ax-keeper");
    }

    /// <summary>The number of entries, and of them those holding an fd.</summary>
    public (int Entries, int Fds) Count
    {
        get
        {
            lock (_gate)
            {
                return (_entries.Count, _entries.Values.Count(e => e.Fd is not null));
            }
        }
    }

    /// <summary>
    /// Binds the socket (failing if another keeper serves it) and serves until <paramref name="stopping"/>, or until
    /// no daemon has been connected and no fd held for <see cref="KeeperOptions.Linger"/>.
    /// </summary>
    public void Run(CancellationToken stopping)
    {
        var path = _options.SocketPath;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        if (File.Exists(path))
        {
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw new InvalidOperationException($"another ax keeper is already serving {path}");
            }
            catch (SocketException)
            {
                File.Delete(path); // left by a keeper that did not stop cleanly
            }
        }
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        listener.Listen(16);
        _listener = listener;
        Log.Serving(_logger, path, Environment.ProcessId);
        using var registration = stopping.Register(() => listener.Dispose());
        var idleCheck = new Thread(() => WatchIdle(listener, stopping)) { IsBackground = true, Name = "ax-keeper-idle" };
        idleCheck.UnsafeStart();
        try
        {
            while (true)
            {
                Socket connection;
                try
                {
                    connection = listener.Accept();
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                    return;
                }
                Interlocked.Increment(ref _connections);
                var thread = new Thread(() => Serve(connection)) { IsBackground = true, Name = "ax-keeper-conn" };
                thread.UnsafeStart();
            }
        }
        finally
        {
            try
            {
                File.Delete(path);
            }
            catch (IOException)
            {
            }
            Log.Stopped(_logger, Count.Entries);
        }
    }

    /// <summary>
    /// Drops the parked calls that are over: a key <c>PARENT/held/ID</c> names notification ID of the listener held
    /// at PARENT, and the kernel says whether it still waits (SECCOMP_IOCTL_NOTIF_ID_VALID). The daemon does not delete
    /// them itself: a parked call ends on a path (an accept, a datagram) that must not wait for the keeper.
    /// </summary>
    internal int PruneParked()
    {
        List<string> over = [];
        lock (_gate)
        {
            foreach (var (key, _) in _entries)
            {
                var held = key.LastIndexOf("/held/", StringComparison.Ordinal);
                if (held <= 0)
                {
                    continue;
                }
                if (!ulong.TryParse(key.AsSpan(held + 6), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id)
                    || !_entries.TryGetValue(key[..held], out var parent) || parent.Fd is not { IsClosed: false } listener
                    || !Seccomp.IsIdValid(listener, id))
                {
                    over.Add(key);
                }
            }
            foreach (var key in over)
            {
                _entries.Remove(key);
            }
        }
        return over.Count;
    }

    private void WatchIdle(Socket listener, CancellationToken stopping)
    {
        var ticks = 0;
        while (!stopping.IsCancellationRequested)
        {
            Thread.Sleep(250);
            if (++ticks % 20 == 0)
            {
                PruneParked();
            }
            bool idle;
            lock (_gate)
            {
                idle = Volatile.Read(ref _connections) == 0 && !_entries.Values.Any(e => e.Fd is not null);
                if (!idle)
                {
                    _idleSince = Environment.TickCount64;
                }
            }
            if (idle && Environment.TickCount64 - _idleSince >= (long)_options.Linger.TotalMilliseconds)
            {
                Log.Idle(_logger, _options.Linger);
                listener.Dispose();
                return;
            }
        }
    }

    private void Serve(Socket socket)
    {
        using var connection = new KeeperConnection(socket);
        try
        {
            if (Sockets.GetPeerCredentials(socket.SafeHandle, out var pid, out var uid, out _) != Errno.Success
                || (uid != 0 && uid != _uid))
            {
                Log.Refused(_logger, pid, uid);
                return;
            }
            while (connection.Receive() is { } frame)
            {
                using (frame)
                {
                    Apply(connection, frame);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or SocketException)
        {
            Log.ConnectionFailed(_logger, ex.Message);
        }
        finally
        {
            lock (_gate)
            {
                _idleSince = Environment.TickCount64;
                Interlocked.Decrement(ref _connections);
            }
        }
    }

    private void Apply(KeeperConnection connection, KeeperFrame frame)
    {
        switch (frame.Op)
        {
            case "put" when frame.Key is { Length: > 0 } key && frame.Value is not null:
                Put(key, frame.Value, frame.TakeFd());
                break;
            case "delete" when frame.Key is { Length: > 0 } key:
                Delete(key);
                break;
            case "sync":
                // Everything this connection sent before is applied: a stopping daemon waits for this before it exits,
                // so that its successor's list, on another connection, cannot overtake it.
                connection.Send(KeeperProtocol.End());
                break;
            case "list":
                PruneParked();
                List<(string Key, byte[] Value, SafeFd? Fd)> entries;
                lock (_gate)
                {
                    entries = _entries.Select(e => (e.Key, e.Value.Value, e.Value.Fd)).ToList();
                }
                foreach (var (key, value, fd) in entries)
                {
                    connection.Send(KeeperProtocol.Entry(key, value), fd is { IsClosed: false } ? fd : null);
                }
                connection.Send(KeeperProtocol.End());
                break;
            default:
                throw new InvalidDataException($"unknown or incomplete keeper operation \"{frame.Op}\"");
        }
    }

    private void Put(string key, byte[] value, SafeFd? fd)
    {
        Entry? replaced;
        var entry = new Entry(key, value, fd);
        lock (_gate)
        {
            _entries.TryGetValue(key, out replaced);
            if (fd is null && replaced?.Fd is not null)
            {
                // A value updated without an fd keeps the fd it had.
                entry = new Entry(key, value, replaced.Fd) { Watch = replaced.Watch };
                replaced = null;
            }
            if (fd is not null)
            {
                // A listener reports HUP once no task uses its filter: the application is gone, and so is its state.
                // Registered under the lock, so that a HUP reported at once finds the entry with its watch.
                entry.Watch = _reactor.Register(fd, EpollEvents.None, (_, state) => Ended((Entry)state!), entry);
            }
            _entries[key] = entry;
        }
        replaced?.Dispose();
    }

    private void Ended(Entry entry)
    {
        lock (_gate)
        {
            if (!_entries.TryGetValue(entry.Key, out var current) || current.Fd != entry.Fd)
            {
                return;
            }
        }
        Log.Ended(_logger, entry.Key);
        Delete(entry.Key);
    }

    private void Delete(string key)
    {
        List<Entry> removed = [];
        lock (_gate)
        {
            var prefix = key + "/";
            foreach (var (k, e) in _entries)
            {
                if (k == key || k.StartsWith(prefix, StringComparison.Ordinal))
                {
                    removed.Add(e);
                }
            }
            foreach (var e in removed)
            {
                _entries.Remove(e.Key);
            }
        }
        foreach (var e in removed)
        {
            e.Dispose();
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _listener?.Dispose();
        _reactor.Dispose();
        lock (_gate)
        {
            foreach (var e in _entries.Values)
            {
                e.Dispose();
            }
            _entries.Clear();
        }
    }

    private sealed class Entry(string key, byte[] value, SafeFd? fd) : IDisposable
    {
        public string Key { get; } = key;

        public byte[] Value { get; } = value;

        public SafeFd? Fd { get; } = fd;

        public IDisposable? Watch { get; set; }

        public void Dispose()
        {
            Watch?.Dispose();
            Fd?.Dispose();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "ax keeper serving {Path} (pid {Pid})")]
        public static partial void Serving(ILogger logger, string path, int pid);

        [LoggerMessage(2, LogLevel.Information, "ax keeper stopped; {Entries} entries dropped")]
        public static partial void Stopped(ILogger logger, int entries);

        [LoggerMessage(3, LogLevel.Information, "ax keeper: no daemon and nothing to hold for {Linger}; exiting")]
        public static partial void Idle(ILogger logger, TimeSpan linger);

        [LoggerMessage(4, LogLevel.Warning, "ax keeper refused a connection from pid {Pid} uid {Uid}: only root and the keeper's own uid may use it")]
        public static partial void Refused(ILogger logger, int pid, uint uid);

        [LoggerMessage(5, LogLevel.Warning, "ax keeper connection ended: {Reason}")]
        public static partial void ConnectionFailed(ILogger logger, string reason);

        [LoggerMessage(6, LogLevel.Debug, "ax keeper: {Key} ended (its application exited)")]
        public static partial void Ended(ILogger logger, string key);
    }
}
