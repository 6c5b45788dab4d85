using System.Text;
using Istio.AppSwitch.Tests.Fuzzing;

namespace Istio.AppSwitch.Ax.Tests.Fuzz;

/// <summary>
/// Random and damaged command lines for <c>ax get|create|delete|run|translate</c> through the real parser, in-process.
/// Every one ends with a documented exit code and, when it fails, a message; none ends in an unhandled exception.
/// No daemon runs at the API socket the tests point at, so commands that parse reach the daemon client's error path,
/// and <c>ax run</c> stops before it would start anything.
/// </summary>
[Collection(CommandLineFuzzCollection.Name)]
public sealed class CommandLineFuzzTests
{
    /// <summary>Command lines tried.</summary>
    public const int Cases = 1500;

    // 0 ran, 1 failed with a message, 2 usage error; ax run's 125 (no daemon), 126 and 127 (cannot run the program)
    // are the shell's conventions, documented in docs/operations.md.
    private static readonly int[] ExitCodes = [0, 1, 2, 125, 126, 127];

    private static readonly string[][] Commands =
    [
        ["get", "apps"], ["get", "services"], ["get", "refs"], ["get", "mesh"], ["get", "sidecars"],
        ["create", "ref"], ["delete", "ref"], ["run"], ["translate"], ["get"], ["create"], ["delete"],
    ];

    private static readonly string[] Options =
    [
        "--api", "--output", "-o", "--vip", "--selector", "--clients", "--dns", "--wait", "--nonblocking", "--exclude",
        "--proxy-protocol", "--no-unix", "--labels", "--name", "--ip", "--ports", "--udp", "--config-dump",
        "--peer-identity-known", "--chain-auto-mtls", "--help", "-h", "--", "--bogus", "-", "--=", "--api=",
    ];

    private static readonly string[] Values =
    [
        "", " ", "json", "table", "yaml", "redis", "app=redis", "a=b,c!=d,!e,f==g", "=", ",,", "127.96.31.1:6379",
        "127.96.31.0/24:*", "[::1]:80", "10.0.0.1/33:80", "1.2.3.4:0", "1.2.3.4:65536", "30s", "-1s", "99999999h", "0",
        "hold", "eagain", "v2", "none", "connect", "sendto", "msg", "true", "nosuch-program-ax-fuzz", "/", "/dev/null",
        "/nonexistent/ax-fuzz", "\0", "\u00e9\u202e", new string('a', 5000), "%s%n", "$(reboot)", "-5", "--",
        "../../../../etc/passwd",
    ];

    [Fact]
    public void Run_RandomAndMutatedArgv_1500Cases_DocumentedExitCodeAndNoUnhandledException()
    {
        var socket = Path.Combine(Path.GetTempPath(), $"ax-fuzz-{Environment.ProcessId}", "absent.sock");
        // Real config dumps for --config-dump, so that translate runs to the end on some of them.
        string[] dumps =
        [
            CorpusFile("sidecar-partial/istio_sidecar_route_retries_and_cluster.configdump.json"),
            CorpusFile("sidecar-partial/istio_sidecar_eds_endpoints.configdump.json"),
        ];
        var previous = Environment.GetEnvironmentVariable("AX_API");
        Environment.SetEnvironmentVariable("AX_API", socket);
        try
        {
            // The first translate loads Envoy's type registry (descriptors of every Envoy type, about 140 MB
            // allocated once); cases are held to what each one costs after that.
            using (var warm = new StringWriter())
            {
                Assert.Equal(0, AxCommandLine.Run(["translate", "--config-dump", dumps[0]], warm, warm));
            }

            var budget = new FuzzBudget(TimeSpan.FromSeconds(10), 64L << 20, 0);
            FuzzDriver.Run("ax argv", FuzzDriver.Seed(31), FuzzDriver.Cases(Cases), budget,
                random => MakeArgv(random, socket, dumps),
                _ => 0,
                argv => string.Join(" ", argv.Select(a => $"[{(a.Length > 80 ? a[..80] + "..." : a)}]")),
                argv =>
                {
                    using var stdout = new StringWriter();
                    using var stderr = new StringWriter();
                    var exitCode = AxCommandLine.Run(argv, stdout, stderr);
                    var error = stderr.ToString();
                    Assert.Contains(exitCode, ExitCodes);
                    Assert.False(error.Contains("Unhandled exception", StringComparison.Ordinal) || error.Contains("   at ", StringComparison.Ordinal), error);
                    if (exitCode != 0)
                    {
                        Assert.False(string.IsNullOrWhiteSpace(error) && string.IsNullOrWhiteSpace(stdout.ToString()), "failed without a message");
                    }
                });
        }
        finally
        {
            Environment.SetEnvironmentVariable("AX_API", previous);
        }
    }

    private static string[] MakeArgv(Random random, string socket, string[] dumps)
    {
        var argv = new List<string>(Commands[random.Next(Commands.Length)]);
        for (var count = random.Next(0, 8); count > 0; count--)
        {
            switch (random.Next(6))
            {
                case 0 or 1:
                    argv.Add(Options[random.Next(Options.Length)]);
                    break;
                case 2 or 3:
                    argv.Add(Values[random.Next(Values.Length)]);
                    break;
                case 4:
                    // A token damaged at the byte level: what a script's quoting mistake or a hostile caller passes.
                    var mutator = new ByteMutator(random, [.. Options.Concat(Values).Where(v => v.Length > 0).Take(40).Select(Encoding.UTF8.GetBytes)]);
                    argv.Add(Encoding.UTF8.GetString(mutator.Next()));
                    break;
                case 5 when random.Next(2) == 0:
                    argv.Add("--config-dump");
                    argv.Add(dumps[random.Next(dumps.Length)]);
                    break;
                default:
                    argv.Add("--api");
                    argv.Add(random.Next(3) == 0 ? "" : socket);
                    break;
            }
        }

        // The command words themselves are damaged now and then (dropped, swapped, repeated).
        if (random.Next(10) == 0 && argv.Count > 1)
        {
            (argv[0], argv[1]) = (argv[1], argv[0]);
        }

        return [.. argv];
    }

    private static string CorpusFile(string relative)
    {
        if (Environment.GetEnvironmentVariable("AX_SHARED_DIR") is { Length: > 0 } shared)
        {
            return Path.Combine(shared, "istio-corpus", relative);
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "istio-corpus", relative);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException($"no shared/istio-corpus/{relative}; set AX_SHARED_DIR");
    }
}

/// <summary>The argv fuzz sets <c>AX_API</c> for the process: nothing else runs beside it.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class CommandLineFuzzCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "ax argv fuzz";
}
