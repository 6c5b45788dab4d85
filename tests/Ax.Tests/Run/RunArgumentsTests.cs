using System.CommandLine;
using Istio.AppSwitch.Cli.Run;
using Istio.AppSwitch.Dataplane.Interception;

namespace Istio.AppSwitch.Ax.Tests.Run;

/// <summary>
/// The hand-written parser of <c>ax run</c> (<see cref="RunArguments.TryParse"/>) against System.CommandLine, which
/// parses every form the fast path leaves alone: wherever the fast path answers, both must read the same thing.
/// </summary>
public sealed class RunArgumentsTests
{
    public static TheoryData<string[], string?, string?, string?, string?> EveryOptionForm()
    {
        var data = new TheoryData<string[], string?, string?, string?, string?>();
        foreach (var form in new Func<string, string, string[]>[]
        {
            (option, value) => [option, value],
            (option, value) => [$"{option}={value}"],
            (option, value) => [$"{option}:{value}"],
        })
        {
            data.Add(["run", .. form("--name", "web"), "--", "/bin/true"], "web", null, null, null);
            data.Add(["run", .. form("--labels", "app=web,tier=front"), "--", "/bin/true"], null, "app=web,tier=front", null, null);
            data.Add(["run", .. form("--ip", "127.96.0.1"), "--", "/bin/true"], null, null, "127.96.0.1", null);
            data.Add(["run", .. form("--api", "/tmp/ax.sock"), "--", "/bin/true"], null, null, null, "/tmp/ax.sock");
            data.Add(
                ["run", .. form("--name", "n"), .. form("--labels", "a=b"), .. form("--ip", "::1"), .. form("--api", "rel/ax.sock"), "--", "/bin/true"],
                "n", "a=b", "::1", "rel/ax.sock");
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(EveryOptionForm))]
    public void TryParse_EveryOptionForm_ReadsTheValue(string[] args, string? name, string? labels, string? ip, string? api)
    {
        var parsed = RunArguments.TryParse(args);

        Assert.NotNull(parsed);
        Assert.Equal(["/bin/true"], parsed.Command);
        Assert.Equal((name, labels, ip, api), (parsed.Name, parsed.Labels, parsed.Ip, parsed.Api));
        AssertSameAsSystemCommandLine(args, parsed);
    }

    [Fact]
    public void TryParse_ValueWithBothDelimiters_SplitsAtTheFirst()
    {
        var parsed = RunArguments.TryParse(["run", "--ip:::1", "--api=/tmp/a:b", "--labels=a=b", "--", "x"]);

        Assert.NotNull(parsed);
        Assert.Equal(("::1", "/tmp/a:b", "a=b"), (parsed.Ip, parsed.Api, parsed.Labels));
        AssertSameAsSystemCommandLine(["run", "--ip:::1", "--api=/tmp/a:b", "--labels=a=b", "--", "x"], parsed);
    }

    [Fact]
    public void TryParse_AfterDoubleDash_TakesEveryWordVerbatim()
    {
        string[] args = ["run", "--name", "n", "--", "cmd", "--name", "x", "--", "@file", "", "-h", "/?"];

        var parsed = RunArguments.TryParse(args);

        Assert.NotNull(parsed);
        Assert.Equal(["cmd", "--name", "x", "--", "@file", "", "-h", "/?"], parsed.Command);
        Assert.Equal("n", parsed.Name);
        AssertSameAsSystemCommandLine(args, parsed);
    }

    [Fact]
    public void TryParse_CommandWithoutDoubleDash_TakesThePlainWords()
    {
        string[] args = ["run", "--labels", "app=x", "/usr/bin/env", "A=b", "run", "x:y"];

        var parsed = RunArguments.TryParse(args);

        Assert.NotNull(parsed);
        Assert.Equal(["/usr/bin/env", "A=b", "run", "x:y"], parsed.Command);
        AssertSameAsSystemCommandLine(args, parsed);
    }

    [Theory]
    [InlineData("get", "apps")] // not run
    [InlineData("run")] // no command: System.CommandLine's error
    [InlineData("run", "--")]
    [InlineData("run", "--name", "n")]
    [InlineData("run", "--name", "n", "--")]
    [InlineData("run", "--name")] // a missing value
    [InlineData("run", "--name", "--", "x")]
    [InlineData("run", "--name=", "--", "x")]
    [InlineData("run", "--name:", "--", "x")]
    [InlineData("run", "--name", "--ip", "1", "--", "x")] // a value that looks like an option
    [InlineData("run", "--name", "-x", "--", "x")]
    [InlineData("run", "--name", "@file", "--", "x")] // a response file
    [InlineData("run", "--name", "", "--", "x")] // an empty word
    [InlineData("run", "--name", "/?", "--", "x")]
    [InlineData("run", "--name", "a", "--name", "b", "--", "x")] // a repeated option
    [InlineData("run", "--api=a", "--api:b", "--", "x")]
    [InlineData("run", "--bogus", "--", "x")] // an unknown option
    [InlineData("run", "--bogus=1", "--", "x")]
    [InlineData("run", "-n", "x", "--", "x")]
    [InlineData("run", "-", "x")]
    [InlineData("run", "--NAME", "x", "--", "x")] // options are case-sensitive
    [InlineData("run", "--help")] // help, in each of its aliases
    [InlineData("run", "-h")]
    [InlineData("run", "-?")]
    [InlineData("run", "/?")]
    [InlineData("run", "/h")]
    [InlineData("run", "--version")]
    [InlineData("run", "@args")]
    [InlineData("run", "", "x")]
    [InlineData("run", "ls", "-la")] // option-like words in a command without "--"
    [InlineData("run", "ls", "--", "-la")]
    [InlineData("run", "ls", "@file")]
    [InlineData("run", "ls", "/h")]
    [InlineData("run", "ls", "")]
    public void TryParse_FormsLeftToSystemCommandLine_ReturnsNull(params string[] args)
    {
        Assert.Null(RunArguments.TryParse(args));
    }

    [Fact]
    public void TryParse_RandomCommandLines_AgreesWithSystemCommandLineWhereverItAnswers()
    {
        // Options in every form, mixed with words that are options, help, response files, empty or plain, then
        // a command with or without "--".
        string[] options = ["--name", "--labels", "--ip", "--api"];
        string[] words =
        [
            "--name", "--labels", "--ip", "--api", "--name=a", "--name:b", "--labels=k=v", "--ip:::1", "--api=/x:y",
            "--", "-", "-x", "-h", "--help", "/?", "/h", "@f", "", "run", "get", "x", "/bin/true", "a=b", "--bogus",
            "--name=", "-la", "[d]", "--version", "127.0.0.1", "/tmp/ax.sock",
        ];
        var random = new Random(20261122);
        var answered = 0;
        for (var i = 0; i < 5000; i++)
        {
            var args = new List<string> { "run" };
            for (var n = random.Next(4); n > 0; n--)
            {
                var option = options[random.Next(options.Length)];
                var value = words[random.Next(words.Length)];
                switch (random.Next(5))
                {
                    case 0: args.AddRange([option, value]); break;
                    case 1: args.Add($"{option}={value}"); break;
                    case 2: args.Add($"{option}:{value}"); break;
                    case 3: args.AddRange([option, "v" + value]); break;
                    default: args.Add(value); break;
                }
            }
            if (random.Next(2) == 0)
            {
                args.Add("--");
            }
            for (var n = random.Next(4); n > 0; n--)
            {
                args.Add(random.Next(2) == 0 ? words[random.Next(words.Length)] : "w" + random.Next(10));
            }

            if (RunArguments.TryParse(args) is { } parsed)
            {
                answered++;
                AssertSameAsSystemCommandLine([.. args], parsed);
            }
        }

        // The corpus must exercise the fast path, not only its refusals.
        Assert.True(answered > 1000, $"the fast path answered only {answered} of 5000");
    }

    [Fact]
    public void NamespaceOptions_GoToSystemCommandLine_WhichReadsThemAll()
    {
        string[] args = ["run", "--new-netns", "--ports", "8080:80,8443:443", "--ports=16379:6379", "--name", "n", "--", "redis-server", "--ports", "x"];
        RunArguments? parsed = null;
        var root = new RootCommand();
        root.Subcommands.Add(RunCommand.Create(arguments =>
        {
            parsed = arguments;
            return 0;
        }));

        Assert.Null(RunArguments.TryParse(args));
        Assert.Null(RunArguments.FindUnknownOption(args));
        Assert.Null(RunArguments.FindUnknownOption(["run", "--netns", "/run/netns/x", "--", "x"]));
        Assert.Equal(0, root.Parse(args).Invoke(new InvocationConfiguration { Output = TextWriter.Null, Error = TextWriter.Null }));
        Assert.NotNull(parsed);
        Assert.True(parsed.NewNetns);
        Assert.Null(parsed.Netns);
        Assert.Equal(["8080:80,8443:443", "16379:6379"], parsed.Ports!);
        Assert.Equal(["redis-server", "--ports", "x"], parsed.Command);
    }

    [Theory]
    [InlineData("connect", UdpInterception.Connect)]
    [InlineData("sendto", UdpInterception.SendTo)]
    [InlineData("msg", UdpInterception.Message)]
    public void UdpOption_GoesToSystemCommandLine_AndParsesToItsMode(string value, UdpInterception expected)
    {
        string[] args = ["run", "--udp", value, "--name", "n", "--", "dig", "--udp"];
        RunArguments? parsed = null;
        var root = new RootCommand();
        root.Subcommands.Add(RunCommand.Create(arguments =>
        {
            parsed = arguments;
            return 0;
        }));

        Assert.Null(RunArguments.TryParse(args));
        Assert.Null(RunArguments.FindUnknownOption(args));
        Assert.Equal(0, root.Parse(args).Invoke(new InvocationConfiguration { Output = TextWriter.Null, Error = TextWriter.Null }));
        Assert.NotNull(parsed);
        Assert.Equal(value, parsed.Udp);
        Assert.Equal(["dig", "--udp"], parsed.Command);
        Assert.True(RunCommand.TryParseUdp(parsed.Udp, out var udp));
        Assert.Equal(expected, udp);
        Assert.True(RunCommand.TryParseUdp(null, out udp));
        Assert.Equal(UdpInterception.SendTo, udp);
        Assert.False(RunCommand.TryParseUdp("MSG", out _));
    }

    [Fact]
    public void SidecarOption_GoesToSystemCommandLine_AndAnInvalidNameIsAUsageError()
    {
        string[] args = ["run", "--sidecar", "ax-proxy", "--name", "p", "--", "ax", "proxy", "--sidecar"];
        RunArguments? parsed = null;
        var root = new RootCommand();
        root.Subcommands.Add(RunCommand.Create(arguments =>
        {
            parsed = arguments;
            return 0;
        }));

        Assert.Null(RunArguments.TryParse(args));
        Assert.Null(RunArguments.FindUnknownOption(args));
        Assert.Equal(0, root.Parse(args).Invoke(new InvocationConfiguration { Output = TextWriter.Null, Error = TextWriter.Null }));
        Assert.NotNull(parsed);
        Assert.Equal("ax-proxy", parsed.Sidecar);
        Assert.Equal(["ax", "proxy", "--sidecar"], parsed.Command);

        var stderr = new StringWriter();
        var exitCode = RunCommand.Execute(new RunArguments(["/bin/true"], null, null, null, "/nonexistent/ax.sock", Sidecar: "a/b"), stderr);
        Assert.Equal(RunCommand.UsageError, exitCode);
        Assert.Equal("ax: invalid --sidecar \"a/b\": a sidecar name is 1 to 63 letters, digits, '.', '_' or '-'" + Environment.NewLine, stderr.ToString());
    }

    [Theory]
    [InlineData(new[] { "--netns", "/etc/hostname", "--new-netns" }, "--netns and --new-netns cannot be given together")]
    [InlineData(new[] { "--ports", "1:2" }, "--ports maps the ports of a network namespace: give --netns PATH or --new-netns with it")]
    [InlineData(new[] { "--netns", "/nonexistent/ns" }, "invalid --netns \"/nonexistent/ns\": no such file")]
    [InlineData(new[] { "--new-netns", "--ports", "1:2,3:2" }, "invalid --ports: application port 2 is mapped twice")]
    public void Execute_BadNamespaceOptions_UsageError(string[] options, string message)
    {
        var stderr = new StringWriter();

        var exitCode = RunCommand.Execute(new RunArguments(["/bin/true"], null, null, null, "/nonexistent/ax.sock",
            options.Contains("--netns") ? options[Array.IndexOf(options, "--netns") + 1] : null,
            options.Contains("--new-netns"),
            options.Contains("--ports") ? [options[Array.IndexOf(options, "--ports") + 1]] : null), stderr);

        Assert.Equal(RunCommand.UsageError, exitCode);
        Assert.StartsWith($"ax: {message}", stderr.ToString(), StringComparison.Ordinal);
    }

    private static void AssertSameAsSystemCommandLine(string[] args, RunArguments fast)
    {
        RunArguments? parsed = null;
        var root = new RootCommand();
        root.Subcommands.Add(RunCommand.Create(arguments =>
        {
            parsed = arguments;
            return 0;
        }));
        var result = root.Parse(args);

        Assert.True(result.Errors.Count == 0, $"[{string.Join(", ", args)}]: {string.Join("; ", result.Errors.Select(e => e.Message))}");
        Assert.Equal(0, result.Invoke(new InvocationConfiguration { Output = TextWriter.Null, Error = TextWriter.Null }));
        Assert.NotNull(parsed);
        Assert.Equal(parsed.Command, fast.Command);
        Assert.Equal((parsed.Name, parsed.Labels, parsed.Ip, parsed.Api), (fast.Name, fast.Labels, fast.Ip, fast.Api));
    }
}
