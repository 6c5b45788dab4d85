using System.Runtime.CompilerServices;

namespace Istio.AppSwitch.Interop.Tests.Kernel;

public sealed class EpollReactorTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly EpollReactor _reactor = new("epoll-tests");
    private readonly List<IDisposable> _cleanup = [];

    public void Dispose()
    {
        _reactor.Dispose();
        foreach (IDisposable disposable in _cleanup)
        {
            disposable.Dispose();
        }
    }

    [Fact]
    public void Register_Readable_CallbackRunsOnReactorThreadWithIn()
    {
        var (writer, reader) = Pair();
        using var called = new ManualResetEventSlim();
        EpollEvents seen = EpollEvents.None;
        bool onReactor = false;
        object? seenState = null;
        var state = new object();
        using IDisposable registration = _reactor.Register(reader, EpollEvents.In, (events, s) =>
        {
            seen = events;
            seenState = s;
            onReactor = _reactor.IsOnReactorThread;
            Sockets.Receive(reader, stackalloc byte[8], SocketConstants.MSG_DONTWAIT, out _);
            called.Set();
        }, state);

        Assert.Equal(Errno.Success, Sockets.Send(writer, "x"u8, 0, out _));

        Assert.True(called.Wait(Timeout));
        Assert.Equal(EpollEvents.In, seen);
        Assert.Same(state, seenState);
        Assert.True(onReactor);
        Assert.False(_reactor.IsOnReactorThread);
    }

    [Fact]
    public void Register_LevelTriggered_RepeatsUntilDisposedThenNeverAgain()
    {
        var (writer, reader) = Pair();
        int calls = 0;
        IDisposable registration = _reactor.Register(reader, EpollEvents.In, (_, _) => Interlocked.Increment(ref calls), null);
        Assert.Equal(Errno.Success, Sockets.Send(writer, "x"u8, 0, out _));

        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref calls) >= 5, Timeout));
        registration.Dispose();
        int afterDispose = Volatile.Read(ref calls);
        Thread.Sleep(50);

        Assert.Equal(afterDispose, Volatile.Read(ref calls));
        registration.Dispose();
    }

    [Fact]
    public void Dispose_WhileCallbackRuns_ReturnsOnlyAfterItFinished()
    {
        var (writer, reader) = Pair();
        using var entered = new ManualResetEventSlim();
        int running = 0;
        int calls = 0;
        IDisposable registration = _reactor.Register(reader, EpollEvents.In, (_, _) =>
        {
            Interlocked.Increment(ref calls);
            Volatile.Write(ref running, 1);
            entered.Set();
            Thread.Sleep(100);
            Volatile.Write(ref running, 0);
        }, null);
        Assert.Equal(Errno.Success, Sockets.Send(writer, "x"u8, 0, out _));
        Assert.True(entered.Wait(Timeout));

        registration.Dispose();

        Assert.Equal(0, Volatile.Read(ref running));
        int afterDispose = Volatile.Read(ref calls);
        Thread.Sleep(50);
        Assert.Equal(afterDispose, Volatile.Read(ref calls));
    }

    [Fact]
    public void Dispose_FromInsideItsOwnCallback_NoDeadlockAndNoFurtherCalls()
    {
        var (writer, reader) = Pair();
        int calls = 0;
        IDisposable? registration = null;
        using var disposed = new ManualResetEventSlim();
        registration = _reactor.Register(reader, EpollEvents.In, (_, _) =>
        {
            Interlocked.Increment(ref calls);
            registration!.Dispose();
            disposed.Set();
        }, null);

        Assert.Equal(Errno.Success, Sockets.Send(writer, "x"u8, 0, out _));

        Assert.True(disposed.Wait(Timeout));
        Thread.Sleep(50);
        Assert.Equal(1, Volatile.Read(ref calls));
        // Removed from epoll: the same fd can be registered again.
        using IDisposable again = _reactor.Register(reader, EpollEvents.In, (_, _) => { }, null);
    }

    [Fact]
    public void Register_SameFdTwice_ThrowsEexist()
    {
        var (_, reader) = Pair();
        using IDisposable first = _reactor.Register(reader, EpollEvents.In, (_, _) => { }, null);

        var exception = Assert.Throws<InteropException>(() => _reactor.Register(reader, EpollEvents.In, (_, _) => { }, null));
        Assert.Equal(Errno.EEXIST, exception.Errno);
    }

    [Fact]
    public void Register_HandleDisposedWhileRegistered_FdStaysOpenUntilRegistrationEnds()
    {
        var (_, reader) = Pair();
        Assert.Equal(Errno.Success, ProcFs.GetInode(reader, out ulong inode));
        int fd = reader.Value;
        IDisposable registration = _reactor.Register(reader, EpollEvents.In, (_, _) => { }, null);

        reader.Dispose();
        Assert.Equal(Errno.Success, ProcFs.GetSocketInode(CurrentProcess.GetProcessId(), fd, out ulong stillOpen));
        Assert.Equal(inode, stillOpen);

        registration.Dispose();
        // Closed now; a parallel test may already have been given the same fd number for another file.
        Errno after = ProcFs.GetSocketInode(CurrentProcess.GetProcessId(), fd, out ulong afterInode);
        Assert.True(after != Errno.Success || afterInode != inode);
    }

    [Fact]
    public void Register_CallbackThrows_HandlerGetsItAndReactorGoesOn()
    {
        var exceptions = new List<Exception>();
        using var reactor = new EpollReactor("epoll-throws", exception =>
        {
            lock (exceptions)
            {
                exceptions.Add(exception);
            }
        });
        var (writer, reader) = Pair();
        var (writer2, reader2) = Pair();
        using var second = new ManualResetEventSlim();
        using IDisposable throwing = reactor.Register(reader, EpollEvents.In, (_, _) => throw new InvalidOperationException("boom"), null);
        using IDisposable fine = reactor.Register(reader2, EpollEvents.In, (_, _) => second.Set(), null);

        Sockets.Send(writer, "x"u8, 0, out _);
        Assert.True(SpinWait.SpinUntil(() => { lock (exceptions) { return exceptions.Count > 0; } }, Timeout));
        Sockets.Send(writer2, "x"u8, 0, out _);

        Assert.True(second.Wait(Timeout));
        lock (exceptions)
        {
            Assert.IsType<InvalidOperationException>(exceptions[0]);
        }
    }

    [Fact]
    public async Task WaitAsync_Writable_CompletesOnThreadPoolNotReactor()
    {
        var (writer, _) = Pair();

        var (events, onReactor, onPool) = await ProbeContinuationThread(_reactor, _reactor.WaitAsync(writer, EpollEvents.Out));

        Assert.Equal(EpollEvents.Out, events);
        Assert.False(onReactor);
        Assert.True(onPool);
    }

    [Fact]
    public async Task WaitAsync_PeerClosed_ReportsHangUp()
    {
        var (writer, reader) = Pair();
        ValueTask<EpollEvents> wait = _reactor.WaitAsync(reader, EpollEvents.In | EpollEvents.RdHup);

        writer.Dispose();

        EpollEvents events = await wait;
        Assert.Equal(EpollEvents.In | EpollEvents.RdHup | EpollEvents.Hup, events);
    }

    [Fact]
    public async Task WaitAsync_Canceled_ThrowsAndTheFdCanBeWaitedOnAgain()
    {
        var (writer, reader) = Pair();
        using var cancellation = new CancellationTokenSource();
        ValueTask<EpollEvents> wait = _reactor.WaitAsync(reader, EpollEvents.In, cancellation.Token);

        cancellation.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await wait);
        ValueTask<EpollEvents> again = _reactor.WaitAsync(reader, EpollEvents.In);
        Sockets.Send(writer, "x"u8, 0, out _);
        Assert.Equal(EpollEvents.In, await again);
    }

    [Fact]
    public async Task WaitAsync_AlreadyCanceled_CompletesCanceledAtOnce()
    {
        var (_, reader) = Pair();

        ValueTask<EpollEvents> wait = _reactor.WaitAsync(reader, EpollEvents.In, new CancellationToken(canceled: true));

        Assert.True(wait.IsCanceled);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await wait);
    }

    [Fact]
    public async Task WaitAsync_SameFdWhilePending_SecondFailsEexist()
    {
        var (writer, reader) = Pair();
        ValueTask<EpollEvents> first = _reactor.WaitAsync(reader, EpollEvents.In);

        var exception = await Assert.ThrowsAsync<InteropException>(async () => await _reactor.WaitAsync(reader, EpollEvents.In));
        Assert.Equal(Errno.EEXIST, exception.Errno);

        Sockets.Send(writer, "x"u8, 0, out _);
        Assert.Equal(EpollEvents.In, await first);
    }

    [Fact]
    public async Task WaitAsync_ManyConcurrent_AllCompleteWithTheirOwnEvents()
    {
        const int Count = 200;
        for (int round = 0; round < 3; round++)
        {
            var pairs = Enumerable.Range(0, Count).Select(_ => Pair()).ToArray();
            using var cancellation = new CancellationTokenSource(Timeout);
            Task<EpollEvents>[] waits = pairs.Select(pair => _reactor.WaitAsync(pair.Reader, EpollEvents.In, cancellation.Token).AsTask()).ToArray();
            // Wake only the even ones first: the odd ones must still be pending.
            for (int i = 0; i < Count; i += 2)
            {
                Sockets.Send(pairs[i].Writer, "x"u8, 0, out _);
            }

            await Task.WhenAll(waits.Where((_, i) => i % 2 == 0));
            Assert.All(waits.Where((_, i) => i % 2 == 1), wait => Assert.False(wait.IsCompleted));
            for (int i = 1; i < Count; i += 2)
            {
                Sockets.Send(pairs[i].Writer, "x"u8, 0, out _);
            }

            EpollEvents[] results = await Task.WhenAll(waits);
            Assert.All(results, events => Assert.Equal(EpollEvents.In, events));
            foreach (var (writer, reader) in pairs)
            {
                writer.Dispose();
                reader.Dispose();
            }
        }
    }

    [Fact]
    public async Task Dispose_WithPendingWait_FailsItWithObjectDisposed()
    {
        var reactor = new EpollReactor("epoll-dispose");
        var (_, reader) = Pair();
        ValueTask<EpollEvents> wait = reactor.WaitAsync(reader, EpollEvents.In);
        int calls = 0;
        reactor.Register(Pair().Reader, EpollEvents.In, (_, _) => calls++, null);

        reactor.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await wait);
        Assert.Throws<ObjectDisposedException>(() => reactor.Register(reader, EpollEvents.In, (_, _) => { }, null));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await reactor.WaitAsync(reader, EpollEvents.In));
        Assert.Equal(0, calls);
        reactor.Dispose();
    }

    /// <summary>Where the awaitable itself runs a continuation that captured no context (whether or not it had
    /// completed when the continuation was attached).</summary>
    private static Task<(EpollEvents Events, bool OnReactor, bool OnPool)> ProbeContinuationThread(EpollReactor reactor, ValueTask<EpollEvents> wait)
    {
        var probe = new TaskCompletionSource<(EpollEvents, bool, bool)>(TaskCreationOptions.RunContinuationsAsynchronously);
        ConfiguredValueTaskAwaitable<EpollEvents>.ConfiguredValueTaskAwaiter awaiter = wait.ConfigureAwait(false).GetAwaiter();
        awaiter.OnCompleted(() =>
        {
            bool onReactor = reactor.IsOnReactorThread;
            bool onPool = Thread.CurrentThread.IsThreadPoolThread;
            probe.SetResult((awaiter.GetResult(), onReactor, onPool));
        });
        return probe.Task;
    }

    private (SafeFd Writer, SafeFd Reader) Pair()
    {
        Assert.Equal(Errno.Success, Sockets.SocketPair(SocketConstants.AF_UNIX, SocketConstants.SOCK_STREAM | SocketConstants.SOCK_CLOEXEC, out SafeFd? first, out SafeFd? second));
        _cleanup.Add(first!);
        _cleanup.Add(second!);
        return (first!, second!);
    }
}
