using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;

namespace Istio.AppSwitch.Interop.Tests.Kernel;

/// <summary>
/// A dedicated thread that installs a listener filter on itself, hands the listener to the test, and then runs a
/// body whose trapped calls the test answers. The filter applies to this thread only (and to anything it
/// creates), so the body must not create threads: no tasks, no awaits, no thread-pool work. A thread-pool worker
/// started from here would inherit the filter and later run other tests' connects into it. It uses only
/// blocking primitives (ManualResetEventSlim) to talk to the test.
/// </summary>
internal sealed class TrappedThread : IDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static readonly ConcurrentDictionary<int, bool> LiveThreadIds = new();

    private readonly int[] _trapped;
    private readonly ArgumentTrap[] _argumentTraps;
    private readonly SeccompListenerOptions _options;
    private readonly Action _body;
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _installed = new();
    private readonly ManualResetEventSlim _go = new();
    private Exception? _error;

    private TrappedThread(int[] trapped, ArgumentTrap[] argumentTraps, Action body, SeccompListenerOptions options)
    {
        _trapped = trapped;
        _argumentTraps = argumentTraps;
        _options = options;
        _body = body;
        _thread = new Thread(Run) { IsBackground = true, Name = "trapped" };
    }

    public SafeSeccompListenerHandle Listener { get; private set; } = null!;

    public int ThreadId { get; private set; }

    public bool NoNewPrivileges { get; private set; }

    /// <summary>Starts the thread and returns once its filter is installed. The body runs after <see cref="Go"/>,
    /// so that the test can set up anything it needs first.</summary>
    public static TrappedThread Start(int[] trapped, Action body, SeccompListenerOptions options = SeccompListenerOptions.None) =>
        Start(trapped, [], body, options);

    /// <summary>As <see cref="Start(int[], Action, SeccompListenerOptions)"/>, with argument traps as well.</summary>
    public static TrappedThread Start(int[] trapped, ArgumentTrap[] argumentTraps, Action body, SeccompListenerOptions options = SeccompListenerOptions.None)
    {
        var thread = new TrappedThread(trapped, argumentTraps, body, options);
        thread._thread.Start();
        if (!thread._installed.Wait(Timeout))
        {
            throw new TimeoutException("The trapped thread did not install its filter.");
        }

        if (thread._error is not null)
        {
            ExceptionDispatchInfo.Throw(thread._error);
        }

        return thread;
    }

    /// <summary>Lets the body run.</summary>
    public void Go() => _go.Set();

    /// <summary>Waits for the body to finish and rethrows what it threw.</summary>
    public void Join()
    {
        if (!_thread.Join(Timeout))
        {
            throw new TimeoutException("The trapped thread did not finish.");
        }

        Forget();
        if (_error is not null)
        {
            ExceptionDispatchInfo.Throw(_error);
        }
    }

    /// <summary>Closes the listener (any call still trapped then fails with ENOSYS) and waits for the thread.</summary>
    public void Dispose()
    {
        _go.Set();
        Listener?.Dispose();
        if (_thread.Join(Timeout))
        {
            Forget();
        }

        _installed.Dispose();
    }

    /// <summary>
    /// The threads of this process that carry a seccomp filter but are not a live trapped thread: threads a
    /// trapped thread created by accident. Reads /proc/self/task/*/status.
    /// </summary>
    public static IReadOnlyList<string> FindStrayFilteredThreads()
    {
        var stray = new List<string>();
        foreach (string task in Directory.GetDirectories("/proc/self/task"))
        {
            try
            {
                int tid = int.Parse(Path.GetFileName(task), System.Globalization.CultureInfo.InvariantCulture);
                string status = File.ReadAllText(Path.Combine(task, "status"));
                bool filtered = status.Split('\n').Any(line => line.StartsWith("Seccomp:", StringComparison.Ordinal) && line.Trim().EndsWith('2'));
                if (filtered && !LiveThreadIds.ContainsKey(tid))
                {
                    stray.Add($"{tid} {File.ReadAllText(Path.Combine(task, "comm")).Trim()}");
                }
            }
            catch (IOException)
            {
                // The task exited while being read.
            }
        }

        return stray;
    }

    private void Forget()
    {
        // Thread.Join returns once the managed thread is done; the kernel task may linger a moment longer.
        string task = $"/proc/self/task/{ThreadId}";
        for (int i = 0; i < 200 && Directory.Exists(task); i++)
        {
            Thread.Sleep(5);
        }

        LiveThreadIds.TryRemove(ThreadId, out _);
    }

    private void Run()
    {
        try
        {
            // Known as trapped before the filter exists, so that the stray-thread check never counts this thread.
            ThreadId = CurrentProcess.GetThreadId();
            LiveThreadIds[ThreadId] = true;
            Listener = Seccomp.InstallListenerFilter(_trapped, _argumentTraps, _options);
            NoNewPrivileges = CurrentProcess.IsNoNewPrivilegesSet;
        }
        catch (Exception exception)
        {
            _error = exception;
            _installed.Set();
            return;
        }

        _installed.Set();
        try
        {
            _go.Wait();
            _body();
        }
        catch (Exception exception)
        {
            _error = exception;
        }
    }
}
