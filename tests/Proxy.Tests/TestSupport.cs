using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Istio.AppSwitch.Daemon;
using Istio.AppSwitch.Dataplane.Delegation;
using Istio.AppSwitch.Interop;
using Istio.AppSwitch.ProxyProtocol;
using Istio.AppSwitch.Tests.Common.Tools;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Proxy.Tests;

/// <summary>What the delegation and proxy tests share: sockets, headers, a daemon, and a python server.</summary>
internal static class TestSupport
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    /// <summary>A .NET socket that takes over <paramref name="fd"/>, for async reads and writes with timeouts.</summary>
    public static Socket ToSocket(SafeFd fd)
    {
        var raw = fd.DangerousGetHandle();
        fd.SetHandleAsInvalid();
        return new Socket(new SafeSocketHandle(raw, ownsHandle: true));
    }

    /// <summary>A PROXY v2 header (TCP) from <paramref name="source"/> to <paramref name="destination"/>.</summary>
    public static byte[] Header(string source, string destination, params ProxyTlv[] tlvs)
    {
        var buffer = new byte[2048];
        var length = ProxyV2Writer.WriteProxy(buffer, IPEndPoint.Parse(source), IPEndPoint.Parse(destination), ProxyTransport.Stream, tlvs);
        return buffer[..length];
    }

    /// <summary>A Unix stream pair as (application end, peer end).</summary>
    public static (SafeFd Application, SafeFd Peer) Pair()
    {
        Assert.Equal(Errno.Success, UnixRights.StreamPair(nonBlocking: false, out var application, out var peer));
        return (application!, peer!);
    }

    public static async Task<byte[]> ReadToEndAsync(Socket socket)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var all = new MemoryStream();
        var buffer = new byte[65536];
        int read;
        while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
        {
            all.Write(buffer, 0, read);
        }
        return all.ToArray();
    }

    public static async Task<byte[]> ReadExactlyAsync(Socket socket, int count)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var buffer = new byte[count];
        var total = 0;
        while (total < count)
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(total), SocketFlags.None, timeout.Token);
            if (read == 0)
            {
                throw new EndOfStreamException($"end of stream after {total} of {count} bytes");
            }
            total += read;
        }
        return buffer;
    }

    public static int FreePort() => Haproxy.FreePort();

    public static string NewDirectory()
    {
        var directory = Directory.CreateTempSubdirectory("axp-").FullName;
        File.SetUnixFileMode(directory, (UnixFileMode)0b111_101_101);
        return directory;
    }
}

/// <summary>A daemon in the test process, with its delegation hub at hand.</summary>
internal sealed class TestDaemon : IAsyncDisposable
{
    private TestDaemon(DaemonHost host, string directory)
    {
        Host = host;
        Directory = directory;
    }

    public DaemonHost Host { get; }

    public string Directory { get; }

    public string SocketPath => Host.Options.ApiSocketPath;

    public DelegationHub Hub => Host.Services.GetRequiredService<DelegationHub>();

    public static async Task<TestDaemon> StartAsync(UnixFileMode? socketMode = null)
    {
        var directory = TestSupport.NewDirectory();
        var options = new DaemonOptions
        {
            ApiSocketPath = Path.Combine(directory, "ax.sock"),
            HandleSignals = false,
            MinimumLogLevel = LogLevel.Warning,
        };
        if (socketMode is { } mode)
        {
            options = options with { SocketMode = mode };
        }
        var host = DaemonHost.Create(options);
        await host.StartAsync();
        return new TestDaemon(host, directory);
    }

    /// <summary>Waits until the hub has a ready sidecar for the direction (the ready byte travels after the 101).</summary>
    public async Task WaitForSidecarAsync(bool outbound = true)
    {
        var deadline = DateTime.UtcNow + TestSupport.Timeout;
        while (!(outbound ? Hub.HasOutbound : Hub.HasInbound))
        {
            Assert.True(DateTime.UtcNow < deadline, "the sidecar never became ready in the hub");
            await Task.Delay(10);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>
/// A python3 TCP server on 127.0.0.1 that reads each connection to its end, then answers with a line saying how many
/// bytes it got and from whom, followed by the bytes, and closes. It answers only after end of stream, so a reply
/// proves that a half-close travelled through.
/// </summary>
internal sealed class EchoAfterEofServer : IDisposable
{
    private const string Script = """
        import socket, sys
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        print(s.getsockname()[1], flush=True)
        while True:
            c, a = s.accept()
            data = b""
            while True:
                d = c.recv(65536)
                if not d:
                    break
                data += d
            c.sendall(b"got %d from %s\n" % (len(data), a[0].encode()) + data)
            c.close()
        """;

    private readonly ExternalProcess _process;

    private EchoAfterEofServer(ExternalProcess process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public static async Task<EchoAfterEofServer> StartAsync()
    {
        var process = ExternalProcess.Start("python3", ["-c", Script]);
        var line = await process.ReadLineAsync(TestSupport.Timeout);
        return new EchoAfterEofServer(process, int.Parse(line, CultureInfo.InvariantCulture));
    }

    public void Dispose() => _process.Dispose();
}
