using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Dataplane.Continuity;

/// <summary>
/// The daemon's side of its keeper: reads what a previous daemon left, then keeps the keeper up to date. Writes are
/// queued and sent by a thread of their own, so that no caller (a trapped call among them) waits on the keeper.
/// </summary>
public sealed partial class KeeperClient : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(10);

    private readonly string _path;
    private readonly string? _keeperCommand;
    private readonly TimeSpan _linger;
    private readonly ILogger _logger;
    private readonly BlockingCollection<Pending> _queue = new(new ConcurrentQueue<Pending>());
    private readonly Thread _writer;
    private KeeperConnection? _connection;
    private long _sent;
    private long _queued;

    private KeeperClient(string path, string? keeperCommand, TimeSpan linger, ILogger logger)
    {
        _path = path;
        _keeperCommand = keeperCommand;
        _linger = linger;
        _logger = logger;
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "ax-keeper-client" };
    }

    /// <summary>
    /// Raised on the writer thread after it had to connect again (the keeper died and was started anew): the
    /// daemon puts everything again, since the new keeper holds nothing.
    /// </summary>
    public event Action? Reconnected;

    /// <summary>
    /// Connects to the keeper at <paramref name="path"/>, starting one (<c><paramref name="keeperCommand"/> keeper</c>)
    /// when none serves it, and reads what it holds. The caller takes the fds of the returned frames.
    /// </summary>
    /// <exception cref="IOException">No keeper could be reached or started.</exception>
    public static (KeeperClient Client, List<KeeperFrame> Held) Open(string path, string? keeperCommand, TimeSpan linger, ILogger logger)
    {
        var client = new KeeperClient(path, keeperCommand, linger, logger);
        try
        {
            client._connection = client.Connect(out var started);
            var held = started ? [] : List(client._connection);
            client._writer.UnsafeStart();
            return (client, held);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>Queues a put; <paramref name="fd"/> is kept alive until it is sent.</summary>
    public void Put(string key, byte[] value, SafeHandle? fd = null)
    {
        var added = false;
        fd?.DangerousAddRef(ref added);
        Enqueue(new Pending(KeeperProtocol.Put(key, value), added ? fd : null));
    }

    /// <summary>Queues a delete of <paramref name="key"/> and everything under it.</summary>
    public void Delete(string key) => Enqueue(new Pending(KeeperProtocol.Delete(key), null));

    /// <summary>
    /// Waits until everything queued so far is sent and applied by the keeper (a <c>sync</c> round trip), or
    /// <paramref name="timeout"/> passes; false then.
    /// </summary>
    public bool Flush(TimeSpan timeout)
    {
        // Not disposed: the writer may set it after a Flush that timed out has returned.
        var applied = new ManualResetEventSlim();
        Enqueue(new Pending(KeeperProtocol.Sync(), null, applied));
        var target = Interlocked.Read(ref _queued);
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Interlocked.Read(ref _sent) < target)
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                return false;
            }
            Thread.Sleep(2);
        }
        return applied.Wait(TimeSpan.FromSeconds(Math.Max(0, (deadline - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency)));
    }

    private void Enqueue(Pending pending)
    {
        Interlocked.Increment(ref _queued);
        if (!_queue.TryAdd(pending))
        {
            pending.Release();
            Interlocked.Increment(ref _sent);
        }
    }

    private void WriteLoop()
    {
        foreach (var pending in _queue.GetConsumingEnumerable())
        {
            try
            {
                for (var attempt = 0; ; attempt++)
                {
                    try
                    {
                        var connection = _connection ??= Reconnect();
                        connection.Send(pending.Frame, pending.Fd);
                        if (pending.Applied is { } applied)
                        {
                            if (connection.Receive() is not { Op: "end" } answer)
                            {
                                throw new IOException("the keeper did not answer a sync");
                            }
                            answer.Dispose();
                            applied.Set();
                        }
                        break;
                    }
                    catch (Exception ex) when (ex is IOException or SocketException or InvalidDataException && attempt < 3)
                    {
                        Log.KeeperLost(_logger, ex.Message);
                        _connection?.Dispose();
                        _connection = null;
                        Thread.Sleep(100 * (attempt + 1));
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or InvalidDataException)
            {
                Log.KeeperUnreachable(_logger, _path, ex.Message);
            }
            finally
            {
                pending.Release();
                Interlocked.Increment(ref _sent);
            }
        }
    }

    private KeeperConnection Reconnect()
    {
        var connection = Connect(out _);
        _connection = connection;
        Reconnected?.Invoke();
        return connection;
    }

    private KeeperConnection Connect(out bool started)
    {
        started = false;
        if (TryConnect() is { } existing)
        {
            return existing;
        }
        if (_keeperCommand is null)
        {
            throw new IOException($"no ax keeper serves {_path}");
        }
        Start();
        started = true;
        var deadline = Stopwatch.GetTimestamp() + (long)(StartTimeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            Thread.Sleep(10);
            if (TryConnect() is { } connection)
            {
                return connection;
            }
        }
        throw new IOException($"the ax keeper started for {_path} did not come up in {StartTimeout.TotalSeconds:0} s");
    }

    private KeeperConnection? TryConnect()
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(_path));
            return new KeeperConnection(socket);
        }
        catch (SocketException)
        {
            socket.Dispose();
            return null;
        }
    }

    private void Start()
    {
        var start = new ProcessStartInfo(_keeperCommand!)
        {
            UseShellExecute = false,
            // Not inherited: the keeper outlives the daemon, and must not keep the daemon's output pipes open.
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in (string[])["keeper", "--socket", _path, "--linger", $"{(long)_linger.TotalSeconds}s"])
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start) ?? throw new IOException($"starting {_keeperCommand} keeper failed");
        process.StandardInput.Close();
        process.StandardOutput.Close();
        process.StandardError.Close();
        Log.KeeperStarted(_logger, process.Id, _path);
    }

    private static List<KeeperFrame> List(KeeperConnection connection)
    {
        connection.Send(KeeperProtocol.List());
        var frames = new List<KeeperFrame>();
        try
        {
            while (true)
            {
                var frame = connection.Receive() ?? throw new IOException("the keeper closed the connection while listing");
                if (frame.Op == "end")
                {
                    frame.Dispose();
                    return frames;
                }
                if (frame.Key is null || frame.Value is null)
                {
                    frame.Dispose();
                    throw new InvalidDataException("the keeper sent an entry without a key or a value");
                }
                frames.Add(frame);
            }
        }
        catch
        {
            foreach (var frame in frames)
            {
                frame.Dispose();
            }
            throw;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _queue.CompleteAdding();
        if (_writer.IsAlive)
        {
            _writer.Join(TimeSpan.FromSeconds(5));
        }
        _connection?.Dispose();
        _queue.Dispose();
    }

    private readonly record struct Pending(byte[] Frame, SafeHandle? Fd, ManualResetEventSlim? Applied = null)
    {
        public void Release() => Fd?.DangerousRelease();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "started ax keeper (pid {Pid}) on {Path}")]
        public static partial void KeeperStarted(ILogger logger, int pid, string path);

        [LoggerMessage(2, LogLevel.Warning, "lost the keeper connection ({Reason}); connecting again")]
        public static partial void KeeperLost(ILogger logger, string reason);

        [LoggerMessage(3, LogLevel.Error, "the ax keeper at {Path} cannot be reached ({Reason}): a daemon restart now would stop the applications' interception")]
        public static partial void KeeperUnreachable(ILogger logger, string path, string reason);
    }
}
