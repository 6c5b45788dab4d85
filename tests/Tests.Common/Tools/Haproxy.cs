using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Istio.AppSwitch.Tests.Common.Tools;

/// <summary>
/// A real HAProxy in the foreground (<c>-db</c>), with a generated configuration in a temporary directory, listening
/// only on 127.0.0.1. Its log goes to standard output (<c>log stdout format raw</c>), where the tests read it.
/// Disposing kills it and deletes the directory.
/// </summary>
public sealed class Haproxy : IDisposable
{
    /// <summary>Where Debian installs it.</summary>
    public const string DefaultPath = "/usr/sbin/haproxy";

    /// <summary>What every configuration starts with: logs on standard output, TCP mode, generous timeouts (the
    /// machine may be busy).</summary>
    public const string Preamble = """
        global
            log stdout format raw local0
            maxconn 100
        defaults
            mode tcp
            log global
            timeout connect 10s
            timeout client 60s
            timeout server 60s
        """;

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly ExternalProcess _process;
    private readonly string _directory;

    private Haproxy(ExternalProcess process, string directory)
    {
        _process = process;
        _directory = directory;
    }

    /// <summary>The HAProxy executable.</summary>
    /// <exception cref="InvalidOperationException">It is not installed: the tests need it and say so.</exception>
    public static string Executable
    {
        get
        {
            if (File.Exists(DefaultPath))
            {
                return DefaultPath;
            }
            foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
            {
                var candidate = Path.Combine(directory, "haproxy");
                if (directory.Length > 0 && File.Exists(candidate))
                {
                    return candidate;
                }
            }

            throw new InvalidOperationException(
                "HAProxy is not installed (no /usr/sbin/haproxy and none on PATH). The PROXY protocol interop tests need it: " +
                "`apt-get install haproxy` (scripts/test installs it).");
        }
    }

    /// <summary>Its log so far.</summary>
    public string Log => _process.Stdout;

    /// <summary>Everything it wrote, for assertion messages.</summary>
    public string Output => _process.Output;

    /// <summary>
    /// Starts HAProxy with the configuration that <paramref name="configure"/> writes for fresh loopback ports (the
    /// preamble is added in front), and waits until every port accepts connections. A port taken by someone else
    /// between choosing and binding makes it try again with new ports.
    /// </summary>
    /// <param name="portCount">How many ports the configuration listens on.</param>
    /// <param name="configure">Writes the frontends and backends for those ports.</param>
    public static async Task<(Haproxy Haproxy, int[] Ports)> StartAsync(int portCount, Func<int[], string> configure)
    {
        var executable = Executable;
        for (var attempt = 1; ; attempt++)
        {
            var ports = Enumerable.Range(0, portCount).Select(_ => FreePort()).ToArray();
            var directory = Directory.CreateTempSubdirectory("ax-haproxy-").FullName;
            var config = Path.Combine(directory, "haproxy.cfg");
            await File.WriteAllTextAsync(config, Preamble + "\n" + configure(ports) + "\n");

            var check = await ExternalProcess.RunAsync(executable, ["-c", "-f", config], StartTimeout);
            if (check.ExitCode != 0)
            {
                Directory.Delete(directory, recursive: true);
                throw new InvalidOperationException($"HAProxy rejects the generated configuration:\n{await File.ReadAllTextAsync(config)}\n{check}");
            }

            var process = ExternalProcess.Start(executable, ["-db", "-f", config], directory);
            var haproxy = new Haproxy(process, directory);
            try
            {
                await WaitForPortsAsync(process, ports);
                return (haproxy, ports);
            }
            catch (Exception) when (attempt < 3 && process.HasExited)
            {
                haproxy.Dispose();
            }
            catch
            {
                haproxy.Dispose();
                throw;
            }
        }
    }

    /// <summary>Waits for a log line that contains <paramref name="text"/> and returns it.</summary>
    public async Task<string> WaitForLogLineAsync(string text, TimeSpan timeout)
    {
        await _process.WaitForOutputAsync(text, timeout);
        return Log.Split('\n').First(line => line.Contains(text, StringComparison.Ordinal)).TrimEnd('\r');
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temporary directory is harmless.
        }
    }

    /// <summary>A port that was free on 127.0.0.1 a moment ago.</summary>
    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <summary>The <c>ip:port</c> form HAProxy takes.</summary>
    public static string Loopback(int port) => "127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture);

    private static async Task WaitForPortsAsync(ExternalProcess process, int[] ports)
    {
        // Read the kernel's socket table rather than connecting: a probe connection would reach the backends and the
        // log, and the tests count both.
        var deadline = DateTime.UtcNow + StartTimeout;
        while (!ports.All(IsListening))
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"HAProxy exited before listening on {string.Join(", ", ports)}.\n{process.Output}");
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"HAProxy did not listen on {string.Join(", ", ports)} within {StartTimeout}.\n{process.Output}");
            }
            await Task.Delay(50);
        }
    }

    // /proc/net/tcp: "sl local_address rem_address st ...", addresses as hex "0100007F:1F90", state 0A = LISTEN.
    private static bool IsListening(int port)
    {
        var local = "0100007F:" + port.ToString("X4", CultureInfo.InvariantCulture);
        return File.ReadLines("/proc/net/tcp").Skip(1)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Any(fields => fields.Length > 3 && fields[1] == local && fields[3] == "0A");
    }
}
