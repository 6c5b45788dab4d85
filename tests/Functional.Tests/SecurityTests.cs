using System.Net;
using System.Net.Sockets;
using Istio.AppSwitch.Functional.Tests.Harness;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Functional.Tests;

/// <summary>
/// What an application under ax cannot get past (docs/interception.md, "What the filter does not let through"): other
/// syscall ABIs than x86_64's, and a sockaddr rewritten by another thread after ax read it. VIPs in 127.96.78.0/24.
/// </summary>
[Collection(AxCollection.Name)]
public sealed class SecurityTests(AxEnvironment ax)
{
    private const int SigsysExit = 128 + 31;
    private static readonly string Programs = Path.Combine(AppContext.BaseDirectory, "Programs");

    [Fact]
    public async Task X32Connect_UnderAx_KilledBySigsysAndNothingReached()
    {
        var binary = await CPrograms.BuildAsync("archbypass.c", "-static", "-no-pie");
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port.ToString();

        var under = await ax.RunUnderAxAsync([], [binary, "x32", "127.0.0.1", port]);
        var native = await ax.RunUnderAxAsync([], [binary, "native", "127.0.0.1", port]);

        // The filter kills any syscall number with the x32 bit before it looks at the number: no connect happened.
        Assert.True(under.ExitCode == SigsysExit, under.ToString());
        Assert.Equal("", under.Stdout);
        Assert.True(native.ExitCode == 0 && native.Stdout.Trim() == "connected", native.ToString());
        using var accepted = await listener.AcceptSocketAsync(); // the native connect's
        Assert.False(listener.Pending());
    }

    [Theory]
    [InlineData("int80")] // i386's socketcall through int $0x80, from a 64-bit binary
    [InlineData("i386")] // a static 32-bit binary (gcc -m32), whose connect is i386's
    public async Task I386Connect_UnderAx_NeverReachesTheDestination(string mode)
    {
        var binary = mode == "i386"
            ? await CPrograms.BuildAsync("archbypass.c", "-m32", "-static")
            : await CPrograms.BuildAsync("archbypass.c", "-static", "-no-pie");
        var call = mode == "i386" ? "native" : "int80";
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port.ToString();

        // Without ax, to learn whether this kernel runs i386 code at all (IA32 emulation can be off at run time).
        var bare = await ExternalProcess.RunAsync("sh", ["-c", $"exec \"$0\" {call} 127.0.0.1 {port}", binary], TimeSpan.FromSeconds(30));
        var kernelRunsI386 = bare.ExitCode == 0 && bare.Stdout.Trim() == "connected";
        if (kernelRunsI386)
        {
            using var first = await listener.AcceptSocketAsync();
        }

        var under = await ax.RunUnderAxAsync([], [binary, call, "127.0.0.1", port]);

        Assert.Equal("", under.Stdout);
        Assert.False(listener.Pending());
        if (kernelRunsI386)
        {
            Assert.True(under.ExitCode == SigsysExit, under.ToString()); // the filter's architecture check
        }
        else
        {
            // No i386 entry point to bypass the filter with: the kernel fails the program as it did without ax.
            Assert.True(under.ExitCode == bare.ExitCode, $"without ax: {bare}\nunder ax: {under}");
        }
    }

    [Fact]
    public async Task ConnectSockaddrRewrittenDuringTheCall_NeverReachesTheDeniedBackend()
    {
        var portA = AxEnvironment.FreePort();
        var portB = AxEnvironment.FreePort();
        using var allowed = ax.StartUnderAx(["--labels", "app=toctou-a"],
            ["python3", Path.Combine(Programs, "echo_server.py"), "127.0.0.1", portA.ToString(), "allowed"]);
        using var denied = ax.StartUnderAx(["--labels", "app=toctou-b"],
            ["python3", Path.Combine(Programs, "echo_server.py"), "127.0.0.1", portB.ToString(), "denied"]);
        await ax.WaitForServiceAsync(portA, allowed);
        await ax.WaitForServiceAsync(portB, denied);
        await ax.CreateRefAsync("toctou-a", "127.96.78.1:7100", "app=toctou-a");
        await ax.CreateRefAsync("toctou-b", "127.96.78.2:7100", "app=toctou-b", clients: "app=not-the-racer");
        var racer = await CPrograms.BuildAsync("toctou.c", "-pthread");

        // Another thread flips the one sockaddr between the two VIPs while 400 connects use it. ax decides on what it
        // read, and makes that connect itself: it never lets the kernel read the address again.
        var result = await ax.RunUnderAxAsync(["--labels", "app=toctou-racer"], [racer, "127.96.78.1", "127.96.78.2", "7100", "400"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.DoesNotContain(lines, l => l.StartsWith("reached denied", StringComparison.Ordinal));
        var reached = lines.Where(l => l.StartsWith("reached allowed ", StringComparison.Ordinal)).Select(l => int.Parse(l[16..])).SingleOrDefault();
        var refused = int.Parse(lines.Single(l => l.StartsWith("refused ", StringComparison.Ordinal))[8..]);
        Assert.Contains("other 0", lines);
        Assert.Equal(400, reached + refused);
        // Both addresses were read by ax at some point: the race did happen.
        Assert.True(reached > 0 && refused > 0, result.Stdout);
    }
    [Fact]
    public async Task AppUnderAx_RunningAsRoot_MayReadTheApiButNotWriteIt()
    {
        // The test runs as root, as the daemon does: only the daemon's record of the app's connect tells them apart.
        var victim = await ax.AxAsync("create", "ref", "victim", "--vip", "127.96.78.11:80", "--selector", "app=api-victim");
        Assert.True(victim.ExitCode == 0, victim.ToString());
        var create = await ax.RunUnderAxAsync(["--labels", "app=api-writer"],
            [AxEnvironment.AxPath, "create", "ref", "sneaky", "--vip", "127.96.78.9:80", "--selector", "app=api-writer"]);
        var relabel = await ax.RunUnderAxAsync(["--labels", "app=api-writer"],
            ["sh", "-c", $"cd \"$(dirname \"$AX_API\")\" && exec \"$0\" delete ref victim --api \"$(basename \"$AX_API\")\"", AxEnvironment.AxPath]);
        var read = await ax.RunUnderAxAsync(["--labels", "app=api-reader"], [AxEnvironment.AxPath, "get", "refs", "-o", "json"]);
        var outside = await ax.AxAsync("get", "refs", "-o", "json");

        Assert.NotEqual(0, create.ExitCode);
        Assert.Contains("runs under ax", create.Stderr, StringComparison.Ordinal);
        Assert.Contains("applications under ax may read the ax daemon's state, not change it", create.Stderr, StringComparison.Ordinal);
        // A relative socket path is resolved against the app's working directory: no way around the check.
        Assert.NotEqual(0, relabel.ExitCode);
        Assert.Contains("runs under ax", relabel.Stderr, StringComparison.Ordinal);
        Assert.True(read.ExitCode == 0, read.ToString());
        Assert.Contains("victim", read.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("sneaky", outside.Stdout, StringComparison.Ordinal);
        Assert.Contains("victim", outside.Stdout, StringComparison.Ordinal);
        Assert.True((await ax.AxAsync("delete", "ref", "victim")).ExitCode == 0);

        // The same command outside ax, as root, may write.
        var admin = await ax.AxAsync("create", "ref", "admin-made", "--vip", "127.96.78.10:80", "--selector", "app=api-writer");
        Assert.True(admin.ExitCode == 0, admin.ToString());
        Assert.True((await ax.AxAsync("delete", "ref", "admin-made")).ExitCode == 0);
    }
}
