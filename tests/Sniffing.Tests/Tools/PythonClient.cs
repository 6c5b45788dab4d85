using System.Globalization;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Sniffing.Tests.Tools;

/// <summary>python3 as a raw TCP client: it connects to a loopback port, sends bytes in one write, and returns the
/// first reply (empty if the server closes without one).</summary>
internal static class PythonClient
{
    private const string Script = """
        import socket, sys
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
        s.sendall(bytes.fromhex(sys.argv[2]))
        s.settimeout(5)
        reply = b""
        try:
            while not reply.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        except OSError:
            pass
        sys.stdout.write(reply.hex())
        """;

    public static async Task<byte[]> SendAsync(int port, byte[] bytes)
    {
        var result = await ExternalProcess.RunAsync("python3",
            ["-c", Script, port.ToString(CultureInfo.InvariantCulture), Convert.ToHexString(bytes)], TimeSpan.FromSeconds(10));
        Assert.True(result.ExitCode == 0, result.Stderr);
        return Convert.FromHexString(result.Stdout.Trim());
    }
}
