using Istio.AppSwitch.Functional.Tests.Harness;
using Istio.AppSwitch.Tests.Common.Tools;
using Istio.AppSwitch.Tests.Fuzzing;

namespace Istio.AppSwitch.Functional.Tests.Fuzz;

/// <summary>
/// A real program (python through libc) calls connect, bind and sendto with random sockaddr bytes and lengths, once
/// without ax and once under it: every call gets the same answer, and the daemon stays up.
/// </summary>
[Collection(AxCollection.Name)]
public sealed class SockaddrFuzzTests(AxEnvironment ax)
{
    /// <summary>Calls made by each run (the same seeded calls with and without ax).</summary>
    public const int Calls = 400;

    private static readonly string Program = Path.Combine(AppContext.BaseDirectory, "Programs", "sockaddr_fuzz.py");

    [Fact]
    public async Task ConnectBindSendto_RandomSockaddrs_400Calls_SameAnswersAsWithoutAxAndDaemonStaysUp()
    {
        // Port 1 of the program's addresses is a ref with no backend, so those connects go through ax's own
        // refusal; port 9 and the rest are let through to the kernel.
        await ax.CreateRefAsync("fuzz-sockaddr", "127.96.31.0/24:1", "app=nobody-fuzz-sockaddr", null, "--wait", "0");
        var seed = FuzzDriver.Seed(41).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var calls = FuzzDriver.Cases(Calls).ToString(System.Globalization.CultureInfo.InvariantCulture);

        var direct = await ExternalProcess.RunAsync("python3", [Program, seed, calls], TimeSpan.FromSeconds(120));
        var underAx = await ax.RunUnderAxAsync([], ["python3", Program, seed, calls], TimeSpan.FromSeconds(120));

        Assert.True(direct.ExitCode == 0, direct.ToString());
        Assert.True(underAx.ExitCode == 0, underAx.ToString());
        var expected = direct.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var actual = underAx.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(int.Parse(calls, System.Globalization.CultureInfo.InvariantCulture), expected.Length);
        var differences = expected.Zip(actual).Where(pair => pair.First != pair.Second).Select(pair => $"without ax: {pair.First}\n   under ax: {pair.Second}").ToList();
        Assert.True(differences.Count == 0 && expected.Length == actual.Length,
            $"seed {seed}: {differences.Count} of {expected.Length} calls answered differently under ax ({actual.Length} answers):\n{string.Join('\n', differences.Take(20))}");

        Assert.False(ax.Daemon.HasExited);
        Assert.Equal(0, (await ax.AxAsync("get", "apps")).ExitCode);
    }
}
