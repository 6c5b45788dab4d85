using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Injection.Tests;

/// <summary>The real <c>ax</c> executable built beside the tests, run as a user would.</summary>
public sealed class InjectCommandTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly string _directory = Directory.CreateTempSubdirectory("ax-inject-").FullName;

    private static string Ax => Path.Combine(AppContext.BaseDirectory, "ax");

    private static string ManifestPath(string name) => RepositoryPaths.Combine("tests", "Injection.Tests", "manifests", name);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task File_ToOutputFile_SameBytesAsTheLibrary()
    {
        var target = Path.Combine(_directory, "bookinfo-injected.yaml");
        var run = await ExternalProcess.RunAsync(Ax, ["inject", "-f", ManifestPath("bookinfo.yaml"), "-o", target], Timeout);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("", run.Stdout);
        Assert.Equal("", run.Stderr);
        var expected = ManifestInjector.Inject(File.ReadAllText(ManifestPath("bookinfo.yaml")), new InjectionOptions(), "bookinfo.yaml").Output;
        Assert.Equal(expected, await File.ReadAllTextAsync(target));
        Assert.Equal([Path.GetFileName(target)], Directory.GetFiles(_directory).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Stdin_ToStdout_AndAgain_Idempotent()
    {
        var once = Path.Combine(_directory, "once.yaml");
        var twice = Path.Combine(_directory, "twice.yaml");
        var first = await ExternalProcess.RunAsync("sh", ["-c", $"'{Ax}' inject -f - --image registry.example/ax:9.9.9 < '{ManifestPath("redis.yaml")}' > '{once}'"], Timeout);
        var second = await ExternalProcess.RunAsync("sh", ["-c", $"'{Ax}' inject --filename=- < '{once}' > '{twice}'"], Timeout);

        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.True(second.ExitCode == 0, second.ToString());
        var injected = await File.ReadAllTextAsync(once);
        Assert.Contains("image: registry.example/ax:9.9.9", injected, StringComparison.Ordinal);
        Assert.Contains("- /ax/ax", injected, StringComparison.Ordinal);
        Assert.Equal(injected, await File.ReadAllTextAsync(twice));
    }

    [Fact]
    public async Task NoCommand_Exit1_NamesTheContainer_WritesNothing()
    {
        var input = Path.Combine(_directory, "redis.yaml");
        await File.WriteAllTextAsync(input, """
            apiVersion: apps/v1
            kind: StatefulSet
            metadata: {name: cache}
            spec:
              template:
                metadata: {labels: {app: cache}}
                spec:
                  containers:
                  - {name: redis, image: "redis:7"}
            """);
        var target = Path.Combine(_directory, "out.yaml");

        var run = await ExternalProcess.RunAsync(Ax, ["inject", "-f", input, "-o", target], Timeout);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains($"ax: {input}: document 1 (line 1), StatefulSet cache, container \"redis\": has no command", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("ax: nothing was written", run.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(target));
        Assert.Equal("", run.Stdout);
    }

    [Fact]
    public async Task NotYaml_Exit1_OnStdin()
    {
        var run = await ExternalProcess.RunAsync("sh", ["-c", $"printf 'kind: [\\n' | '{Ax}' inject -f -"], Timeout);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("ax: <stdin>: line 2, column 1: not valid YAML:", run.Stderr, StringComparison.Ordinal);
        Assert.Equal("", run.Stdout);
    }

    [Fact]
    public async Task MissingFile_Exit1_UsageErrors_Exit2()
    {
        var missing = await ExternalProcess.RunAsync(Ax, ["inject", "-f", Path.Combine(_directory, "nope.yaml")], Timeout);
        Assert.Equal(1, missing.ExitCode);
        Assert.Equal($"ax: cannot read {Path.Combine(_directory, "nope.yaml")}: no such file", missing.Stderr.Trim());

        var directory = await ExternalProcess.RunAsync(Ax, ["inject", "-f", _directory], Timeout);
        Assert.Equal(1, directory.ExitCode);
        Assert.Contains("it is a directory", directory.Stderr, StringComparison.Ordinal);

        var noFile = await ExternalProcess.RunAsync(Ax, ["inject"], Timeout);
        Assert.Equal(2, noFile.ExitCode);
        Assert.Contains("--filename", noFile.Stderr, StringComparison.Ordinal);

        var badGroup = await ExternalProcess.RunAsync(Ax, ["inject", "-f", "-", "--socket-group", "wheel"], Timeout);
        Assert.Equal(2, badGroup.ExitCode);

        var badDirectory = await ExternalProcess.RunAsync(Ax, ["inject", "-f", ManifestPath("redis.yaml"), "--socket-dir", "run/ax"], Timeout);
        Assert.Equal(1, badDirectory.ExitCode);
        Assert.Contains("the socket directory \"run/ax\" must be an absolute path", badDirectory.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_HasExamplesAndTheAnnotations()
    {
        var help = await ExternalProcess.RunAsync(Ax, ["inject", "--help"], Timeout);

        Assert.Equal(0, help.ExitCode);
        Assert.Contains("ax inject -f bookinfo.yaml | kubectl apply -f -", help.Stdout, StringComparison.Ordinal);
        Assert.Contains(AxAnnotations.Inject, help.Stdout, StringComparison.Ordinal);
        Assert.Contains(AxAnnotations.Command, help.Stdout, StringComparison.Ordinal);
        Assert.Contains("--socket-group", help.Stdout, StringComparison.Ordinal);
    }
}
