using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Sniffing.Tests.Tools;

/// <summary>A real redis-server and a real memcached on loopback, shared by a test class, to check that the command
/// lines the sniffer classifies are what these servers accept or reject.</summary>
public sealed class RealServers : IAsyncLifetime
{
    private ExternalProcess? _redis;
    private ExternalProcess? _memcached;

    public int RedisPort { get; } = FreePort();

    public int MemcachedPort { get; } = FreePort();

    public async Task InitializeAsync()
    {
        _redis = ExternalProcess.Start("redis-server",
            ["--port", Text(RedisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        // memcached refuses to run as root without -u, and ignores -u otherwise.
        _memcached = ExternalProcess.Start("memcached",
            ["-l", "127.0.0.1", "-p", Text(MemcachedPort), "-U", "0", "-u", Environment.UserName]);
        await WaitForListenerAsync(RedisPort, _redis);
        await WaitForListenerAsync(MemcachedPort, _memcached);
    }

    public Task DisposeAsync()
    {
        _redis?.Dispose();
        _memcached?.Dispose();
        return Task.CompletedTask;
    }

    private static string Text(int port) => port.ToString(CultureInfo.InvariantCulture);

    private static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    private static async Task WaitForListenerAsync(int port, ExternalProcess server)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !server.HasExited)
            {
                await Task.Delay(20);
            }
            catch (SocketException e)
            {
                throw new InvalidOperationException($"Nothing listens on port {port}.\n{server.Output}", e);
            }
        }
    }
}
