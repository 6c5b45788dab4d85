using System.CommandLine;

namespace Istio.AppSwitch.Cli;

/// <summary>
/// <c>ax completion bash|zsh|fish</c>: prints a shell script that completes ax's command line. The script asks ax itself,
/// through System.CommandLine's <c>[suggest:POSITION]</c> directive, so completions always match the binary's commands,
/// options and their accepted values; ax answers without contacting the daemon.
/// </summary>
public static class CompletionCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var shell = new Argument<string>("SHELL") { Description = "bash, zsh or fish." };
        shell.AcceptOnlyFromAmong("bash", "zsh", "fish");
        var command = new Command("completion",
            "Print a shell completion script for ax.\n\nExamples:\n" +
            "  source <(ax completion bash)                       # this bash session\n" +
            "  ax completion bash > /etc/bash_completion.d/ax     # every bash session\n" +
            "  ax completion zsh > \"${fpath[1]}/_ax\"              # zsh (compinit)\n" +
            "  ax completion fish > ~/.config/fish/completions/ax.fish")
        {
            shell,
        };
        command.SetAction(parse =>
        {
            parse.InvocationConfiguration.Output.Write(Script(parse.GetRequiredValue(shell)));
            return 0;
        });
        return command;
    }

    /// <summary>The script for <paramref name="shell"/>.</summary>
    public static string Script(string shell) => shell switch
    {
        "bash" => Bash,
        "zsh" => Zsh,
        "fish" => Fish,
        _ => throw new ArgumentOutOfRangeException(nameof(shell), shell, "bash, zsh or fish"),
    };

    // COMP_LINE up to the cursor is what ax is asked about; the position is its length. Suggestions come one a line.
    private const string Bash = """
        # bash completion for ax (ax completion bash)
        _ax_complete() {
            local line="${COMP_LINE:0:$COMP_POINT}"
            local cur="${COMP_WORDS[COMP_CWORD]}"
            local IFS=$'\n'
            local suggestions
            suggestions=$("${COMP_WORDS[0]}" "[suggest:${#line}]" "$line" 2>/dev/null) || return 0
            COMPREPLY=($(compgen -W "$suggestions" -- "$cur"))
        }
        complete -o default -F _ax_complete ax

        """;

    private const string Zsh = """
        #compdef ax
        # zsh completion for ax (ax completion zsh)
        _ax() {
            local line="${BUFFER[1,$CURSOR]}"
            local -a suggestions
            suggestions=("${(@f)$(${words[1]} "[suggest:${#line}]" "$line" 2>/dev/null)}")
            compadd -a suggestions
        }
        compdef _ax ax

        """;

    private const string Fish = """
        # fish completion for ax (ax completion fish)
        function __ax_complete
            set -l line (commandline -cp)
            ax "[suggest:"(string length -- "$line")"]" "$line" 2>/dev/null
        end
        complete -c ax -f -a '(__ax_complete)'

        """;
}
