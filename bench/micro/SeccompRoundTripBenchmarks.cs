using BenchmarkDotNet.Attributes;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Bench.Micro;

/// <summary>
/// The kernel round trip of a trapped call: getsockname(2) and connect(2) of a UDP socket to 127.0.0.1, each made
/// by a thread that <see cref="Seccomp.InstallListenerFilter(ReadOnlySpan{int})"/> traps and answered with CONTINUE by a
/// receiver thread, against the same call untrapped. The difference is what any trapped call costs the application
/// before the daemon decides anything.
/// </summary>
/// <remarks>
/// The filter applies to the thread that installs it and to threads it creates afterwards, so the benchmark thread
/// installs it on its first trapped call, and the receiver thread is created before that. BenchmarkDotNet runs
/// each benchmark in a process of its own (the default toolchain), so the untrapped baselines run untrapped; with
/// an in-process toolchain they would refuse to run on a trapped thread. The receiver answers with a blocking
/// SECCOMP_IOCTL_NOTIF_RECV loop, not the daemon's epoll reactor.
/// </remarks>
[MemoryDiagnoser]
public class SeccompRoundTripBenchmarks
{
    [ThreadStatic]
    private static bool _threadTrapped;

    private readonly byte[] _sockaddr = new byte[128];
    private readonly ManualResetEventSlim _installed = new();
    private SafeFd _socket = null!;
    private int _sockaddrLength;
    private SafeSeccompListenerHandle? _listener;
    private Thread? _receiver;

    [GlobalSetup]
    public void Setup()
    {
        if (Sockets.Create(SocketConstants.AF_INET, SocketConstants.SOCK_DGRAM, 0, nonBlocking: false, closeOnExec: true, out var socket) != Errno.Success)
        {
            throw new InvalidOperationException("socket(AF_INET, SOCK_DGRAM) failed.");
        }
        _socket = socket!;
        // Nothing listens there and nothing is sent: a UDP connect only sets the peer.
        _sockaddrLength = new InetEndpoint([127, 0, 0, 1], 9).Write(_sockaddr);
        _receiver = new Thread(Receive) { IsBackground = true, Name = "seccomp receiver" };
        _receiver.Start();
    }

    [Benchmark]
    public Errno GetSockName()
    {
        EnsureUntrapped();
        return Sockets.GetSockName(_socket, stackalloc byte[128], out _);
    }

    [Benchmark]
    public Errno GetSockNameTrapped()
    {
        EnsureTrapped();
        return Sockets.GetSockName(_socket, stackalloc byte[128], out _);
    }

    [Benchmark]
    public Errno UdpConnect()
    {
        EnsureUntrapped();
        return Sockets.Connect(_socket, _sockaddr.AsSpan(0, _sockaddrLength));
    }

    [Benchmark]
    public Errno UdpConnectTrapped()
    {
        EnsureTrapped();
        return Sockets.Connect(_socket, _sockaddr.AsSpan(0, _sockaddrLength));
    }

    private static void EnsureUntrapped()
    {
        if (_threadTrapped)
        {
            throw new InvalidOperationException("This thread is trapped: run the benchmarks out of process.");
        }
    }

    private void EnsureTrapped()
    {
        if (_threadTrapped)
        {
            return;
        }
        _listener = Seccomp.InstallListenerFilter([SyscallNumbers.GetSockName, SyscallNumbers.Connect]);
        _threadTrapped = true;
        _installed.Set();
        if (Sockets.GetSockName(_socket, stackalloc byte[128], out _) != Errno.Success)
        {
            throw new InvalidOperationException("The first trapped getsockname failed.");
        }
    }

    private void Receive()
    {
        _installed.Wait();
        while (Seccomp.Receive(_listener!, out var notification) is Errno.Success or Errno.ENOENT)
        {
            if (notification.Id != 0)
            {
                Seccomp.RespondContinue(_listener!, notification.Id);
            }
        }
    }
}
