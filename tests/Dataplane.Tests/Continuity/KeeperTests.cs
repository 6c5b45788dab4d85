using System.IO.Pipes;
using System.Net.Sockets;
using System.Text;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Dataplane.Continuity;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Interop;
using Microsoft.Extensions.Logging.Abstractions;

namespace Istio.AppSwitch.Dataplane.Tests.Continuity;

/// <summary>
/// The keeper (docs/interception.md, "When the daemon restarts"), served for real on a Unix socket of the test's own,
/// with real fds (pipes: like a seccomp listener, a pipe's read end reports HUP once its other side is gone).
/// </summary>
public sealed class KeeperTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("ax-keeper-").FullName;
    private readonly CancellationTokenSource _stop = new();
    private readonly Keeper _keeper;
    private readonly Thread _serving;

    public KeeperTests()
    {
        _keeper = new Keeper(new KeeperOptions { SocketPath = SocketPath, Linger = TimeSpan.FromMinutes(5) }, NullLogger.Instance);
        _serving = new Thread(() => _keeper.Run(_stop.Token)) { IsBackground = true };
        _serving.Start();
        // Served, not only bound: the file exists from bind(2), a moment before listen(2).
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!Accepts(SocketPath) && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(5);
        }
    }

    private static bool Accepts(string path)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private string SocketPath => Path.Combine(_directory, "ax.sock.keeper");

    [Fact]
    public void PutThenList_GivesEveryValueBack_WithItsFd_AndDeleteTakesTheSubtree()
    {
        using var pipe = new AnonymousPipeServerStream(PipeDirection.Out);
        var (client, held) = Open();
        using (client)
        {
            Assert.Empty(held);
            client.Put("apps/app-1", Encoding.UTF8.GetBytes("{\"pid\":42}"), pipe.ClientSafePipeHandle);
            client.Put("apps/app-1/services", Encoding.UTF8.GetBytes("[1,2]"));
            client.Put("apps/app-2", Encoding.UTF8.GetBytes("{\"pid\":43}"));
            client.Put("config/refs", Encoding.UTF8.GetBytes("[]"));
            client.Delete("apps/app-2");
            Assert.True(client.Flush(TimeSpan.FromSeconds(10)));
        }
        WaitForEntries(3);

        var (next, frames) = Open();
        using (next)
        {
            Assert.Equal(["apps/app-1", "apps/app-1/services", "config/refs"], frames.Select(f => f.Key!).Order(StringComparer.Ordinal));
            var app = frames.Single(f => f.Key == "apps/app-1");
            Assert.Equal("{\"pid\":42}", Encoding.UTF8.GetString(app.Value!));
            // The fd that came back is the pipe's read end: what is written into the pipe comes out of it.
            using var fd = app.TakeFd()!;
            pipe.Write("ok"u8);
            pipe.Flush();
            using var reader = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd.DangerousGetHandle(), ownsHandle: false), FileAccess.Read);
            var buffer = new byte[2];
            reader.ReadExactly(buffer);
            Assert.Equal("ok", Encoding.ASCII.GetString(buffer));
            Assert.Null(frames.Single(f => f.Key == "config/refs").Fd);
            frames.ForEach(f => f.Dispose());
        }
    }

    [Fact]
    public void AnEntryWhoseFdHangsUp_GoesWithEverythingUnderIt()
    {
        var pipe = new AnonymousPipeServerStream(PipeDirection.Out);
        var (client, _) = Open();
        using (client)
        {
            client.Put("apps/app-7", Encoding.UTF8.GetBytes("{}"), pipe.ClientSafePipeHandle);
            client.Put("apps/app-7/held/12", Encoding.UTF8.GetBytes("{}"));
            Assert.True(client.Flush(TimeSpan.FromSeconds(10)));
        }
        pipe.ClientSafePipeHandle.Dispose();
        WaitForEntries(2);
        pipe.Dispose(); // the write end: the keeper's read end now reports HUP, as a listener does when its application ends

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (_keeper.Count.Entries != 0 && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(10);
        }
        Assert.Equal((0, 0), _keeper.Count);
    }

    [Fact]
    public void AParkedCallOverInTheKernel_IsPruned()
    {
        using var pipe = new AnonymousPipeServerStream(PipeDirection.Out);
        var (client, _) = Open();
        using (client)
        {
            // A pipe is no seccomp listener: SECCOMP_IOCTL_NOTIF_ID_VALID fails on it, as it does for an answered call.
            client.Put("apps/app-3", Encoding.UTF8.GetBytes("{}"), pipe.ClientSafePipeHandle);
            client.Put("apps/app-3/held/99", Encoding.UTF8.GetBytes("{}"));
            client.Put("apps/app-3/held/not-a-number", Encoding.UTF8.GetBytes("{}"));
            client.Put("orphan/held/5", Encoding.UTF8.GetBytes("{}"));
            Assert.True(client.Flush(TimeSpan.FromSeconds(10)));
        }
        WaitForEntries(4);
        Assert.Equal(3, _keeper.PruneParked());
        Assert.Equal((1, 1), _keeper.Count);
    }

    [Theory]
    [InlineData(new byte[] { 0, 0, 0, 0 })] // a frame of no bytes
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0x7F })] // 2 GiB
    [InlineData(new byte[] { 3, 0, 0, 0, (byte)'[', (byte)'1', (byte)']' })] // JSON, but not an object
    [InlineData(new byte[] { 2, 0, 0, 0, (byte)'{', (byte)'"' })] // not JSON
    [InlineData(new byte[] { 15, 0, 0, 0, (byte)'{', (byte)'"', (byte)'o', (byte)'p', (byte)'"', (byte)':', (byte)'"', (byte)'b', (byte)'a', (byte)'d', (byte)'"', (byte)'}', 0, 0, 0 })]
    public void ABadFrame_EndsThatConnection_AndTheKeeperServesOn(byte[] frame)
    {
        using (var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            socket.Connect(new UnixDomainSocketEndPoint(SocketPath));
            socket.Send(frame);
            socket.ReceiveTimeout = 10_000;
            // The keeper closes a connection that sent what it cannot read (a frame cut short: it waits for the rest).
            if (frame.Length == 4 || frame[0] + 4 <= frame.Length)
            {
                Assert.Equal(0, socket.Receive(new byte[16]));
            }
        }
        var (client, held) = Open();
        using (client)
        {
            client.Put("still", Encoding.UTF8.GetBytes("true"));
            Assert.True(client.Flush(TimeSpan.FromSeconds(10)));
            Assert.Empty(held);
        }
        WaitForEntries(1);
    }

    [Fact]
    public async Task WithNoDaemonAndNothingToHold_AKeeperOfNoLingerExits()
    {
        var path = Path.Combine(_directory, "short.keeper");
        using var keeper = new Keeper(new KeeperOptions { SocketPath = path, Linger = TimeSpan.Zero }, NullLogger.Instance);
        await Task.Run(() => keeper.Run(CancellationToken.None)).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void TheRefsAndTheMeshJournal_ReadBackAsWritten()
    {
        var routing = new RoutingTable();
        var refs = new RefStore(routing);
        refs.Create(new RefSpec("redis", "127.96.1.1:6379", "app=redis", Clients: "team=a", Dns: "redis.local", Wait: "5s", Nonblocking: "eagain", NoUnix: true));
        refs.Create(new RefSpec("all", "127.96.2.0/24:*", "tier=db", Exclude: "127.96.2.9/32", ProxyProtocol: "none"));
        var specs = ConfigKeeper.ReadRefs(ConfigKeeper.WriteRefs(refs.All));
        Assert.Equal(refs.All.Select(r => r.Spec!).ToList(), specs);

        var update = new MeshUpdateRequest
        {
            Replace = true,
            Version = "v7",
            Clusters = [new MeshClusterDto { Name = "c", Endpoints = [new MeshEndpointDto { Address = "127.0.0.1", Port = 7 }] }],
            Services = [new MeshServiceDto { Key = "s", Vip = "127.96.3.1:80", Clusters = [new MeshWeightedClusterDto { Name = "c", Weight = 100 }] }],
        };
        var mesh = new Dataplane.Mesh.MeshStore(routing);
        mesh.Apply(update);
        mesh.Apply(new MeshUpdateRequest { DeleteServices = ["s"] });
        var journal = ConfigKeeper.ReadMesh(ConfigKeeper.WriteMesh(mesh.Journal));
        Assert.Equal(2, journal.Count);
        var replayed = new Dataplane.Mesh.MeshStore(new RoutingTable());
        journal.ForEach(u => replayed.Apply(u));
        Assert.Equal(mesh.Services.Keys, replayed.Services.Keys);
        Assert.Equal(mesh.Clusters.Keys.Order(), replayed.Clusters.Keys.Order());
    }

    // A flush says the frames were sent; the keeper applies them on its own thread a moment later.
    private void WaitForEntries(int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (_keeper.Count.Entries != count && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(5);
        }
        Assert.Equal(count, _keeper.Count.Entries);
    }

    private (KeeperClient Client, List<KeeperFrame> Held) Open() =>
        KeeperClient.Open(SocketPath, keeperCommand: null, TimeSpan.Zero, NullLogger.Instance);

    public void Dispose()
    {
        _stop.Cancel();
        _serving.Join(TimeSpan.FromSeconds(10));
        _keeper.Dispose();
        _stop.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
