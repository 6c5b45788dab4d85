using System.Buffers.Binary;
using System.IO.Pipes;
using System.Net.Sockets;
using Istio.AppSwitch.Dataplane.Interception;
using Istio.AppSwitch.Interop;
using Microsoft.Extensions.Logging.Abstractions;

namespace Istio.AppSwitch.Dataplane.Tests.Interception;

/// <summary>
/// The launch hand-off, in process: a launcher's request with one fd attached, as <c>ax run</c> sends it. A pipe
/// stands in for the seccomp listener: the daemon only needs an fd it can poll.
/// </summary>
public sealed class InterceptionServiceLaunchTests : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("axl-").FullName;
    private readonly TestWorld _world = new();

    // Its write end stays open for the whole test: once closed, the read end the daemon holds reports EPOLLHUP,
    // which is how a real listener says that the app's process tree is gone.
    private readonly AnonymousPipeServerStream _pipe = new(PipeDirection.Out);
    private InterceptionService _service = null!;

    private string LaunchSocketPath => Path.Combine(_directory, "ax.sock.launch");

    public async Task InitializeAsync()
    {
        _service = new InterceptionService(
            new InterceptionOptions { LaunchSocketPath = LaunchSocketPath },
            _world.Registry,
            _world.Routing,
            new HeldConnects(),
            NullLogger<InterceptionService>.Instance);
        await _service.StartAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _service.StopAsync(CancellationToken.None);
        _service.Dispose();
        _pipe.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(20_000)]
    public async Task Launch_RequestOfAnySize_AppRegisteredWithWholeCommand(int argumentLength)
    {
        // The daemon reads a request into a small buffer first and grows it only when the length prefix asks for
        // more: a long command line must arrive whole.
        var argument = new string('x', argumentLength);
        var request = new LaunchRequest { Name = "long", Labels = new() { ["app"] = "long" }, Command = ["/bin/sleep", argument] };

        var response = await LaunchAsync(request);

        Assert.Null(response.Error);
        var app = _world.Registry.FindApp(response.AppId!);
        Assert.NotNull(app);
        Assert.Equal(["/bin/sleep", argument], app.Command);
        Assert.Equal(1, _service.ApplicationCount);
    }

    private async Task<LaunchResponse> LaunchAsync(LaunchRequest request)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(LaunchSocketPath));
        var frame = LaunchProtocol.Encode(request);
        // The fd travels with the first bytes, as the launcher sends it; the rest follows with plain sends.
        var first = Math.Min(frame.Length, 100);
        Assert.Equal(Errno.Success, Sockets.SendWithFds(socket.SafeHandle, frame.AsSpan(0, first), [(int)_pipe.ClientSafePipeHandle.DangerousGetHandle()]));
        if (first < frame.Length)
        {
            await socket.SendAsync(frame.AsMemory(first), SocketFlags.None);
        }

        var prefix = new byte[4];
        await ReceiveExactlyAsync(socket, prefix);
        var body = new byte[BinaryPrimitives.ReadInt32LittleEndian(prefix)];
        await ReceiveExactlyAsync(socket, body);
        return LaunchProtocol.DecodeResponse(body) ?? throw new InvalidDataException("not a launch response");
    }

    private static async Task ReceiveExactlyAsync(Socket socket, Memory<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None);
            Assert.NotEqual(0, n);
            buffer = buffer[n..];
        }
    }
}
