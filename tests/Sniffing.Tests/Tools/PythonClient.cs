using System.Globalization;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Sniffing.Tests.Tools;

/// <summary>python3 as a raw TCP client: it connects to a loopback port, sends bytes in one write, ends its side
/// (so that a <see cref="FirstBytesCapture"/> need not wait for a pause) and waits for the server to close.</summary>
internal static class PythonClient
{
    private const string Script = """
        import socket, sys
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
        s.sendall(bytes.fromhex(sys.argv[2]))
        s.shutdown(socket.SHUT_WR)
        s.settimeout(5)
        while s.recv(4096):
            pass
        """;

    public static async Task SendAsync(int port, byte[] bytes)
    {
        var result = await ExternalProcess.RunAsync("python3",
            ["-c", Script, port.ToString(CultureInfo.InvariantCulture), Convert.ToHexString(bytes)], TimeSpan.FromSeconds(10));
        Assert.True(result.ExitCode == 0, result.ToString());
    }
}
