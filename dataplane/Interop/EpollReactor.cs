using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;
using static Istio.AppSwitch.Interop.Interop.Sys;

namespace Istio.AppSwitch.Interop;

/// <summary>epoll event bits (epoll_ctl(2)). Err and Hup are always reported, whether asked for or not.</summary>
[Flags]
public enum EpollEvents : uint
{
    /// <summary>No event.</summary>
    None = 0,
    /// <summary>EPOLLIN: readable (a seccomp listener has a notification; a pidfd's process exited).</summary>
    In = 0x1,
    /// <summary>EPOLLPRI: exceptional condition.</summary>
    Pri = 0x2,
    /// <summary>EPOLLOUT: writable (a nonblocking connect finished, successfully or not).</summary>
    Out = 0x4,
    /// <summary>EPOLLERR: error pending (read SO_ERROR).</summary>
    Err = 0x8,
    /// <summary>EPOLLHUP: hung up (a seccomp listener whose filter has no task left).</summary>
    Hup = 0x10,
    /// <summary>EPOLLRDHUP: the stream peer shut down writing.</summary>
    RdHup = 0x2000,
}

/// <summary>
/// One dedicated thread waiting in epoll_wait(2) for fd readiness: seccomp listeners (readable, hung up),
/// pidfds (readable when the process exits), nonblocking connects (writable). Registrations are level-triggered
/// and persistent, with callbacks on the reactor thread; <see cref="WaitAsync"/> is a one-shot wait completed on
/// the thread pool.
/// <para>
/// epoll keys its interest list by (fd, open file description): an fd can be registered once at a time, either
/// with <see cref="Register"/> or with one pending <see cref="WaitAsync"/>; a second registration of the same fd
/// fails with EEXIST. Each registration holds a reference on its SafeHandle until it is removed, so the fd cannot
/// be closed, and its number reused, while the kernel still reports events for it.
/// </para>
/// </summary>
public sealed class EpollReactor : IDisposable
{
    private const int MaxEventsPerWait = 64;
    private const int MaxPooledWaiters = 256;
    private const ulong WakeToken = 0;

    private readonly SafeFd _epoll;
    private readonly SafeFd _wake;
    private readonly Thread _thread;
    private readonly Action<Exception>? _onCallbackException;
    private readonly ConcurrentDictionary<ulong, Entry> _entries = new();
    private readonly ConcurrentQueue<Waiter> _waiterPool = new();
    private long _nextToken = (long)WakeToken;
    private volatile bool _disposed;
    private int _disposeStarted;

    /// <summary>Creates the epoll instance and starts the reactor thread, named <paramref name="name"/>.
    /// An exception thrown by a callback ends the process, as on any thread.</summary>
    public EpollReactor(string name)
        : this(name, onCallbackException: null)
    {
    }

    /// <summary>
    /// Creates the epoll instance and starts the reactor thread, named <paramref name="name"/>. An exception thrown
    /// by a registration callback goes to <paramref name="onCallbackException"/> (on the reactor thread) and the
    /// reactor goes on; without a handler it ends the process.
    /// </summary>
    /// <exception cref="InteropException">epoll_create1 or eventfd failed.</exception>
    public unsafe EpollReactor(string name, Action<Exception>? onCallbackException)
    {
        ArgumentNullException.ThrowIfNull(name);
        _onCallbackException = onCallbackException;

        _epoll = new SafeFd();
        int epoll = EpollCreate1(EPOLL_CLOEXEC);
        if (epoll < 0)
        {
            throw new InteropException("epoll_create1", Interop.LastErrno);
        }

        _epoll.SetFd(epoll);

        // An eventfd to wake epoll_wait for Dispose: closing the epoll fd would not wake a thread blocked in it.
        _wake = new SafeFd();
        int wake = EventFd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (wake < 0)
        {
            Errno error = Interop.LastErrno;
            _epoll.Dispose();
            throw new InteropException("eventfd", error);
        }

        _wake.SetFd(wake);
        var ev = new EpollEvent { Events = (uint)EpollEvents.In, Data = WakeToken };
        if (EpollCtl(_epoll, EPOLL_CTL_ADD, _wake, &ev) != 0)
        {
            Errno error = Interop.LastErrno;
            _wake.Dispose();
            _epoll.Dispose();
            throw new InteropException("epoll_ctl(EPOLL_CTL_ADD)", error);
        }

        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.UnsafeStart();
    }

    /// <summary>True on the reactor thread (inside a registration callback).</summary>
    public bool IsOnReactorThread => Thread.CurrentThread == _thread;

    /// <summary>
    /// Registers <paramref name="fd"/> for <paramref name="events"/>, level-triggered, until the returned handle is
    /// disposed. <paramref name="callback"/> runs on the reactor thread for every epoll_wait that reports the fd,
    /// with the events that are ready; it must be short and must not block (it may receive one seccomp
    /// notification and hand it off). A condition that stays true (Hup on a listener whose tasks are all gone)
    /// is reported again and again until the callback disposes the registration.
    /// <para>
    /// Disposing the handle removes the fd (EPOLL_CTL_DEL) and returns only when no callback for it is running:
    /// none runs afterwards. Disposing from inside the callback itself (or another callback) is allowed.
    /// Do not dispose it while holding a lock that the callback takes.
    /// </para>
    /// </summary>
    /// <exception cref="InteropException">epoll_ctl failed (EEXIST: the fd is already registered; EPERM: the fd
    /// does not support polling, such as a regular file).</exception>
    public unsafe IDisposable Register(SafeHandle fd, EpollEvents events, Action<EpollEvents, object?> callback, object? state)
    {
        ArgumentNullException.ThrowIfNull(fd);
        ArgumentNullException.ThrowIfNull(callback);
        ObjectDisposedException.ThrowIf(_disposed, this);

        ulong token = NextToken();
        var registration = new Registration(this, fd, token, callback, state);
        bool added = false;
        fd.DangerousAddRef(ref added);
        _entries[token] = registration;
        var ev = new EpollEvent { Events = (uint)events, Data = token };
        int result;
        try
        {
            result = EpollCtl(_epoll, EPOLL_CTL_ADD, fd, &ev);
        }
        catch (ObjectDisposedException)
        {
            // The reactor was disposed concurrently and its epoll fd closed.
            _entries.TryRemove(token, out _);
            fd.DangerousRelease();
            throw;
        }

        if (result != 0)
        {
            Errno error = Interop.LastErrno;
            _entries.TryRemove(token, out _);
            fd.DangerousRelease();
            throw new InteropException("epoll_ctl(EPOLL_CTL_ADD)", error);
        }

        // Disposed meanwhile: its sweep of the entries may have run before this one was added.
        if (_disposed)
        {
            registration.Dispose();
            throw new ObjectDisposedException(nameof(EpollReactor));
        }

        return registration;
    }

    /// <summary>
    /// Waits once for <paramref name="events"/> on <paramref name="fd"/> (EPOLLONESHOT) and returns the events that
    /// were ready (Err and Hup included). The result is delivered on the thread pool, never on the reactor
    /// thread. Cancellation removes the registration and completes with <see cref="OperationCanceledException"/>.
    /// The fd must not be registered otherwise meanwhile (EEXIST, as an <see cref="InteropException"/>).
    /// Does not allocate on the success path (the awaitable is pooled): await it exactly once.
    /// </summary>
    public ValueTask<EpollEvents> WaitAsync(SafeHandle fd, EpollEvents events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(fd);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<EpollEvents>(cancellationToken);
        }

        if (_disposed)
        {
            return ValueTask.FromException<EpollEvents>(new ObjectDisposedException(nameof(EpollReactor)));
        }

        if (!_waiterPool.TryDequeue(out Waiter? waiter))
        {
            waiter = new Waiter(this);
        }

        return waiter.Start(fd, events, NextToken(), cancellationToken);
    }

    /// <summary>
    /// Stops the reactor thread and waits for it (unless called on it), fails pending <see cref="WaitAsync"/>
    /// calls with <see cref="ObjectDisposedException"/>, drops every registration without running its callback
    /// again, and closes the epoll instance.
    /// </summary>
    public unsafe void Dispose()
    {
        if (Interlocked.Exchange(ref _disposeStarted, 1) != 0)
        {
            return;
        }

        _disposed = true;
        ulong one = 1;
        _ = Write(_wake, (byte*)&one, sizeof(ulong));
        if (!IsOnReactorThread)
        {
            _thread.Join();
        }

        foreach (KeyValuePair<ulong, Entry> entry in _entries)
        {
            entry.Value.Abandon(entry.Key);
        }

        _wake.Dispose();
        _epoll.Dispose();
    }

    private ulong NextToken() => (ulong)Interlocked.Increment(ref _nextToken);

    private unsafe void Run()
    {
        EpollEvent* events = stackalloc EpollEvent[MaxEventsPerWait];
        while (!_disposed)
        {
            int count = EpollWait(_epoll, events, MaxEventsPerWait, -1);
            if (count < 0)
            {
                Errno error = Interop.LastErrno;
                if (error == Errno.EINTR)
                {
                    continue;
                }

                // Only EBADF/EFAULT/EINVAL are possible, all of them bugs here.
                throw new InteropException("epoll_wait", error);
            }

            for (int i = 0; i < count && !_disposed; i++)
            {
                ulong token = events[i].Data;
                if (token == WakeToken)
                {
                    continue;
                }

                // A token is never reused, so an event for an entry removed since epoll_wait returned finds nothing.
                if (_entries.TryGetValue(token, out Entry? entry))
                {
                    try
                    {
                        entry.OnEvents(token, (EpollEvents)events[i].Events);
                    }
                    catch (Exception exception) when (_onCallbackException is not null)
                    {
                        _onCallbackException(exception);
                    }
                }
            }
        }
    }

    private void Remove(ulong token, SafeHandle fd)
    {
        _entries.TryRemove(token, out _);
        EpollDelete(fd);
    }

    private unsafe void EpollDelete(SafeHandle fd)
    {
        // The epoll fd may be closing concurrently (Dispose): then there is nothing left to delete from.
        bool added = false;
        try
        {
            _epoll.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            return;
        }

        try
        {
            // ENOENT (never added, or already removed) is fine here.
            _ = EpollCtl(_epoll, EPOLL_CTL_DEL, fd, null);
        }
        finally
        {
            _epoll.DangerousRelease();
        }
    }

    private abstract class Entry
    {
        internal abstract void OnEvents(ulong token, EpollEvents events);

        /// <summary>The reactor is being disposed: release everything without calling back.</summary>
        internal abstract void Abandon(ulong token);
    }

    private sealed class Registration : Entry, IDisposable
    {
        private readonly EpollReactor _reactor;
        private readonly SafeHandle _fd;
        private readonly ulong _token;
        private readonly Action<EpollEvents, object?> _callback;
        private readonly object? _state;
        // Held while the callback runs; Dispose takes it to wait out a running callback. It is reentrant, so
        // disposing from inside the callback does not deadlock.
        private readonly Lock _gate = new();
        private bool _disposed;

        internal Registration(EpollReactor reactor, SafeHandle fd, ulong token, Action<EpollEvents, object?> callback, object? state)
        {
            _reactor = reactor;
            _fd = fd;
            _token = token;
            _callback = callback;
            _state = state;
        }

        internal override void OnEvents(ulong token, EpollEvents events)
        {
            lock (_gate)
            {
                if (!_disposed)
                {
                    _callback(events, _state);
                }
            }
        }

        internal override void Abandon(ulong token) => Dispose();

        public void Dispose()
        {
            lock (_gate)
            {
                if (_disposed)
                {
                    return;
                }

                _disposed = true;
            }

            _reactor.Remove(_token, _fd);
            _fd.DangerousRelease();
        }
    }

    /// <summary>A pooled one-shot wait. Owned by its caller from Start until GetResult.</summary>
    private sealed class Waiter : Entry, IValueTaskSource<EpollEvents>
    {
        private static readonly Action<object?, CancellationToken> OnCancel = static (state, token) => ((Waiter)state!).OnCanceled(token);

        private readonly EpollReactor _reactor;
        // Serialises EPOLL_CTL_ADD in Start against the EPOLL_CTL_DEL of a completion racing with it.
        private readonly Lock _gate = new();
        private ManualResetValueTaskSourceCore<EpollEvents> _core = new() { RunContinuationsAsynchronously = true };
        private SafeHandle? _fd;
        private ulong _token;
        // The token while the wait is pending, 0 once a completion has claimed it: whoever swaps it completes.
        private long _pending;
        private bool _added;
        private bool _reusable;
        private CancellationTokenRegistration _cancellation;

        internal Waiter(EpollReactor reactor) => _reactor = reactor;

        internal unsafe ValueTask<EpollEvents> Start(SafeHandle fd, EpollEvents events, ulong token, CancellationToken cancellationToken)
        {
            bool addedRef = false;
            try
            {
                fd.DangerousAddRef(ref addedRef);
            }
            catch (ObjectDisposedException exception)
            {
                _reactor.ReturnToPool(this);
                return ValueTask.FromException<EpollEvents>(exception);
            }

            _fd = fd;
            _token = token;
            _reusable = true;
            _added = false;
            short version = _core.Version;
            Volatile.Write(ref _pending, (long)token);
            _reactor._entries[token] = this;

            // Registered before EPOLL_CTL_ADD, so that the reactor, which can only complete after the ADD, always
            // finds it to dispose. If the token is canceled meanwhile, the callback runs here, synchronously.
            if (cancellationToken.CanBeCanceled)
            {
                _cancellation = cancellationToken.UnsafeRegister(OnCancel, this);
            }

            Exception? failure = null;
            lock (_gate)
            {
                if (Volatile.Read(ref _pending) == (long)token)
                {
                    var ev = new EpollEvent { Events = (uint)events | EPOLLONESHOT, Data = token };
                    try
                    {
                        if (EpollCtl(_reactor._epoll, EPOLL_CTL_ADD, fd, &ev) == 0)
                        {
                            _added = true;
                        }
                        else
                        {
                            failure = new InteropException("epoll_ctl(EPOLL_CTL_ADD)", Interop.LastErrno);
                        }
                    }
                    catch (ObjectDisposedException exception)
                    {
                        // The reactor was disposed concurrently and its epoll fd closed.
                        failure = exception;
                    }
                }
            }

            // Disposed meanwhile: its sweep of the entries may have run before this wait was added.
            if (failure is null && _reactor._disposed)
            {
                failure = new ObjectDisposedException(nameof(EpollReactor));
            }

            if (failure is not null)
            {
                Complete(token, EpollEvents.None, failure, fromCancellation: false);
            }

            return new ValueTask<EpollEvents>(this, version);
        }

        internal override void OnEvents(ulong token, EpollEvents events) =>
            Complete(token, events, error: null, fromCancellation: false);

        internal override void Abandon(ulong token) =>
            Complete(token, EpollEvents.None, new ObjectDisposedException(nameof(EpollReactor)), fromCancellation: false);

        private void OnCanceled(CancellationToken cancellationToken) =>
            Complete(_token, EpollEvents.None, new OperationCanceledException(cancellationToken), fromCancellation: true);

        private void Complete(ulong token, EpollEvents events, Exception? error, bool fromCancellation)
        {
            if (Interlocked.CompareExchange(ref _pending, 0, (long)token) != (long)token)
            {
                return;
            }

            lock (_gate)
            {
                // A fired EPOLLONESHOT only disables the fd: it stays in the interest list until deleted.
                if (_added)
                {
                    _reactor.EpollDelete(_fd!);
                    _added = false;
                }
            }

            _reactor._entries.TryRemove(token, out _);
            if (fromCancellation)
            {
                // Start may still be storing this very registration: never reuse a waiter completed this way.
                _reusable = false;
            }
            else
            {
                // Waits for a cancellation callback running concurrently (it loses the race above and returns),
                // so that no stale callback can touch this waiter once it is reused.
                _cancellation.Dispose();
                _cancellation = default;
            }

            SafeHandle fd = _fd!;
            _fd = null;
            fd.DangerousRelease();

            if (error is null)
            {
                _core.SetResult(events);
            }
            else
            {
                _core.SetException(error);
            }
        }

        public EpollEvents GetResult(short token)
        {
            try
            {
                return _core.GetResult(token);
            }
            finally
            {
                _core.Reset();
                if (_reusable)
                {
                    _reactor.ReturnToPool(this);
                }
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }

    private void ReturnToPool(Waiter waiter)
    {
        if (!_disposed && _waiterPool.Count < MaxPooledWaiters)
        {
            _waiterPool.Enqueue(waiter);
        }
    }
}
