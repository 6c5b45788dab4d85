using System.CommandLine;

namespace Istio.AppSwitch.Cli;

/// <summary>
/// <c>ax completion bash|zsh|fish</c>: prints a shell script that completes ax's command line. The script asks ax itself,
/// through System.CommandLine's <c>[suggest:POSITION]</c> directive, so completions always match the binary's commands,
/// options and their accepted values. Only the names of <c>ax describe ref|app</c> come from the daemon (its refs, mesh
/// host names and app ids), asked with a one-second deadline; without a daemon there are none.
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
    // System.CommandLine also offers the DOS-style help aliases /? and /h, noise on Linux: every script drops them, and
    // the empty line ax prints when it has nothing. When ax has nothing to offer (a file argument, the program after
    // `ax run --`), the shell completes file names.
    private const string Bash = """
        # bash completion for ax (ax completion bash)
        _ax_complete() {
            local line="${COMP_LINE:0:$COMP_POINT}"
            local cur="${COMP_WORDS[COMP_CWORD]}"
            local IFS=$'\n'
            local suggestions s
            local -a kept=()
            suggestions=$("${COMP_WORDS[0]}" "[suggest:${#line}]" "$line" 2>/dev/null) || return 0
            for s in $suggestions; do [[ $s == /[?h] ]] || kept+=("$s"); done
            COMPREPLY=($(compgen -W "${kept[*]}" -- "$cur"))
        }
        complete -o default -F _ax_complete ax

        """;

    private const string Zsh = """
        #compdef ax
        # zsh completion for ax (ax completion zsh)
        _ax() {
            local line="${BUFFER[1,$CURSOR]}"
            local -a suggestions
            suggestions=(${(f)"$(${words[1]} "[suggest:${#line}]" "$line" 2>/dev/null)"})
            suggestions=(${suggestions:#/[?h]})
            if (( ${#suggestions} )); then
                compadd -a suggestions
            else
                _files
            fi
        }
        compdef _ax ax

        """;

    private const string Fish = """
        # fish completion for ax (ax completion fish)
        function __ax_complete
            set -l line (commandline -cp)
            set -l suggestions (ax "[suggest:"(string length -- "$line")"]" "$line" 2>/dev/null | string match -v -r '^(/[?h])?$')
            if set -q suggestions[1]
                printf '%s\n' $suggestions
            else
                __fish_complete_path (commandline -ct)
            end
        end
        complete -c ax -f -a '(__ax_complete)'

        """;
}
