using System.Text.RegularExpressions;
using Istio.AppSwitch.Functional.Tests.Harness;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Functional.Tests;

/// <summary>
/// A fact that runs only where <paramref name="shell"/> is installed; elsewhere it is skipped with the reason (xunit 2
/// decides skips when it discovers tests, so the check is made here). <c>scripts/test</c> installs zsh and fish.
/// </summary>
public sealed class ShellFactAttribute : FactAttribute
{
    public ShellFactAttribute(string shell)
    {
        if (ShellCompletionTests.Which(shell) is null)
        {
            Skip = $"{shell} is not installed (apt-get install {shell}); its completion script cannot be run";
        }
    }
}

/// <summary>
/// The zsh and fish completion scripts of <c>ax completion</c>, run by the real shells against a live daemon: zsh through
/// a pseudo-terminal (zpty) with <c>compadd</c> captured, fish through <c>complete -C</c>. VIPs in 127.96.94.0/24.
/// </summary>
[Collection(MetricsCollection.Name)]
public sealed partial class ShellCompletionTests(MetricsEnvironment ax) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("ax-completion-").FullName;

    /// <summary>The full path of <paramref name="program"/> on PATH, or null.</summary>
    public static string? Which(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, program))
            .FirstOrDefault(File.Exists);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    // The shells find `ax` on PATH, as a user's would, and talk to this fixture's daemon through AX_API. HOME is a fresh
    // directory so no user configuration (.zshrc, fish_variables) takes part.
    private Dictionary<string, string> ShellEnvironment() => new()
    {
        ["PATH"] = $"{Path.GetDirectoryName(AxEnvironment.AxPath)}:{Environment.GetEnvironmentVariable("PATH")}",
        ["AX_API"] = ax.ApiSocket,
        ["HOME"] = _directory,
        ["XDG_CONFIG_HOME"] = Path.Combine(_directory, "config"),
        ["XDG_DATA_HOME"] = Path.Combine(_directory, "data"),
        ["TERM"] = "xterm",
    };

    private async Task<string> ScriptAsync(string shell, string fileName)
    {
        var script = await ax.AxAsync("completion", shell);
        Assert.True(script.ExitCode == 0, script.ToString());
        var path = Path.Combine(_directory, fileName);
        await File.WriteAllTextAsync(path, script.Stdout);
        return path;
    }

    private async Task CreateNamedRefAsync()
    {
        var existing = await ax.AxAsync("get", "refs", "cmpl-redis");
        if (existing.ExitCode != 0)
        {
            await ax.CreateRefAsync("cmpl-redis", "127.96.94.1:6379", "app=cmpl-redis");
        }
    }

    [ShellFact("fish")]
    public async Task Fish_CompletesCommandsSubcommandsAndLiveRefNames()
    {
        await CreateNamedRefAsync();
        var script = await ScriptAsync("fish", "ax.fish");
        Directory.CreateDirectory(Path.Combine(_directory, "files"));
        await File.WriteAllTextAsync(Path.Combine(_directory, "files", "bookinfo.yaml"), "");

        var candidates = await FishAsync(script, "ax ge", "ax get ", "ax describe ref cmpl-", "ax get refs -o ", $"ax inject -f {_directory}/files/book");

        Assert.Equal(["get"], candidates["ax ge"]);
        Assert.Equal(["app", "apps", "connections", "conns", "mesh", "ref", "refs", "service", "services", "sidecar", "sidecars", "svc"],
            candidates["ax get "].Where(c => !c.StartsWith('-')).Order(StringComparer.Ordinal));
        Assert.DoesNotContain("/?", candidates["ax get "]);
        Assert.Equal(["cmpl-redis"], candidates["ax describe ref cmpl-"]);
        Assert.Equal(["json", "table", "yaml"], candidates["ax get refs -o "]);
        // ax has nothing to offer for a file: fish completes the path.
        Assert.Equal([$"{_directory}/files/bookinfo.yaml"], candidates[$"ax inject -f {_directory}/files/book"]);
    }

    [ShellFact("zsh")]
    public async Task Zsh_CompletesCommandsSubcommandsAndLiveRefNames()
    {
        await CreateNamedRefAsync();
        var script = await ScriptAsync("zsh", "_ax");

        var candidates = await ZshAsync(script, "ax ge", "ax get ", "ax describe ref cmpl-", "ax get refs -o ");

        Assert.Equal(["get"], candidates["ax ge"]);
        Assert.Equal(["app", "apps", "connections", "conns", "mesh", "ref", "refs", "service", "services", "sidecar", "sidecars", "svc"],
            candidates["ax get "].Where(c => !c.StartsWith('-')).Order(StringComparer.Ordinal));
        Assert.Contains("--help", candidates["ax get "]);
        Assert.DoesNotContain("/?", candidates["ax get "]);
        Assert.Equal(["cmpl-redis"], candidates["ax describe ref cmpl-"]);
        Assert.Equal(["json", "table", "yaml"], candidates["ax get refs -o "]);
    }

    [ShellFact("zsh")]
    public async Task Zsh_NoDaemon_StaticCompletionsStillWorkAndNoNamesNoErrors()
    {
        var script = await ScriptAsync("zsh", "_ax");
        var environment = ShellEnvironment();
        environment["AX_API"] = Path.Combine(_directory, "nobody-listens.sock");

        var candidates = await ZshAsync(script, environment, "ax describe ", "ax describe ref cmpl-");

        Assert.Equal(["app", "ref"], candidates["ax describe "].Where(c => !c.StartsWith('-')).Order(StringComparer.Ordinal));
        // No names, and no error text in the line: the script falls back to file names, of which there are none here.
        Assert.Empty(candidates["ax describe ref cmpl-"]);
    }

    /// <summary>What fish offers for each line (<c>complete -C</c>), candidates without their descriptions.</summary>
    private async Task<Dictionary<string, List<string>>> FishAsync(string script, params string[] lines)
    {
        var commands = string.Join('\n', lines.Select((line, i) => $"echo '== {i}'; complete -C '{line}'"));
        var result = await ExternalProcess.RunAsync("fish", ["--no-config", "-c", $"source '{script}'\n{commands}"], TimeSpan.FromSeconds(120),
            environment: ShellEnvironment());
        Assert.True(result.ExitCode == 0, result.ToString());
        return Sections(result.Stdout.Split('\n').Select(l => l.Split('\t')[0]), lines);
    }

    private Task<Dictionary<string, List<string>>> ZshAsync(string script, params string[] lines) => ZshAsync(script, ShellEnvironment(), lines);

    /// <summary>
    /// What zsh offers for each line: an interactive zsh in a pseudo-terminal (zsh/zpty) with compinit and the script
    /// loaded, each line typed and followed by TAB, with <c>compadd</c> wrapped to print the matches it would add.
    /// </summary>
    private async Task<Dictionary<string, List<string>>> ZshAsync(string script, Dictionary<string, string> environment, params string[] lines)
    {
        var init = Path.Combine(_directory, "init.zsh");
        await File.WriteAllTextAsync(init, $$"""
            # The prompt is the sign that zle is reading: typed ahead of it, keys may be lost.
            PS1='AXREADY> ' RPS1=''
            unset zle_bracketed_paste
            autoload -Uz compinit && compinit -u -D
            source '{{script}}'
            # The matches zsh would add, after its own filtering by the word under the cursor; -O/-A/-D calls only fill arrays.
            compadd() {
              if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi
              local -a hits
              builtin compadd -A hits "$@"
              local h; for h in $hits; do print -r -- "<cand:$h>"; done
            }
            bindkey '^I' complete-word
            """);
        var driver = Path.Combine(_directory, "drive.zsh");
        await File.WriteAllTextAsync(driver, $$"""
            zmodload zsh/zpty
            zpty z zsh -f -i
            zpty -r z out '*[%#] *'
            zpty -w z "source '{{init}}'; print INIT\$((1))DONE"
            zpty -r z out '*INIT1DONE*'
            zpty -r z out '*AXREADY>*'
            i=0
            for input in "$@"; do
              i=$((i+1))
              zpty -n -w z "$input"$'\t'
              # Ctrl-U clears what the completion left in the line; the marker is printed, not typed, so it appears once.
              zpty -w z $'\C-u'"print END\$((0+$i))MARK"
              zpty -r z out "*END${i}MARK*"
              print -r -- "== $((i-1))"
              print -r -- "$out"
              zpty -r z ready '*AXREADY>*'
            done
            zpty -d z
            """);
        var result = await ExternalProcess.RunAsync("zsh", ["-f", driver, .. lines], TimeSpan.FromSeconds(120), environment: environment);
        Assert.True(result.ExitCode == 0, result.ToString());
        var output = new List<string>();
        foreach (var line in result.Stdout.Split('\n'))
        {
            if (line.StartsWith("== ", StringComparison.Ordinal))
            {
                output.Add(line.TrimEnd('\r'));
                continue;
            }
            // zsh quotes what it would insert (-\?): the candidates are compared unquoted.
            output.AddRange(Candidate().Matches(line).Select(m => m.Groups[1].Value.Replace("\\", "", StringComparison.Ordinal)));
        }
        return Sections(output, lines);
    }

    // Splits "== N" sections into the candidates of each line.
    private static Dictionary<string, List<string>> Sections(IEnumerable<string> output, string[] lines)
    {
        var sections = lines.ToDictionary(l => l, _ => new List<string>(), StringComparer.Ordinal);
        List<string>? current = null;
        foreach (var line in output)
        {
            if (line.StartsWith("== ", StringComparison.Ordinal) && int.TryParse(line[3..], out var index))
            {
                current = sections[lines[index]];
            }
            else if (current is not null && line.Length > 0)
            {
                current.Add(line);
            }
        }
        return sections;
    }

    [GeneratedRegex("<cand:([^>]*)>")]
    private static partial Regex Candidate();
}
