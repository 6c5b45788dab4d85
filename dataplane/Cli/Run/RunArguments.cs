namespace Istio.AppSwitch.Cli.Run;

/// <summary>The options and the command of <c>ax run</c>, as given on the command line (not yet validated).</summary>
/// <param name="Command">The program and its arguments.</param>
/// <param name="Name"><c>--name</c>.</param>
/// <param name="Labels"><c>--labels</c>, unparsed.</param>
/// <param name="Ip"><c>--ip</c>.</param>
/// <param name="Api"><c>--api</c>.</param>
/// <param name="Netns"><c>--netns</c>: the path of a network namespace to run in.</param>
/// <param name="NewNetns"><c>--new-netns</c>: run in a new network namespace that holds only <c>lo</c>.</param>
/// <param name="Ports"><c>--ports</c>, each value unparsed (<c>HOST:APP[,HOST:APP]</c>).</param>
/// <param name="Udp"><c>--udp</c>, unparsed: <c>connect</c>, <c>sendto</c> or <c>msg</c>.</param>
/// <param name="Sidecar"><c>--sidecar</c>: the delegation sidecar name the application is launched as.</param>
public sealed record RunArguments(IReadOnlyList<string> Command, string? Name, string? Labels, string? Ip, string? Api,
    string? Netns = null, bool NewNetns = false, IReadOnlyList<string>? Ports = null, string? Udp = null, string? Sidecar = null)
{
    /// <summary>
    /// The fast path of <c>ax run</c>: parses <paramref name="args"/> (<c>run</c> first) by hand, so that
    /// System.CommandLine is not loaded on every application's start-up path (building and parsing its command
    /// tree cost about 9 ms). It accepts only the plain forms, whose meaning is not in doubt, and returns null for
    /// anything else, which then goes to System.CommandLine: help, errors and their messages, response files,
    /// unknown options, and every corner of its grammar stay its own. The tests hold the two parsers to the same
    /// result wherever this one answers.
    /// </summary>
    /// <remarks>
    /// Accepted: <c>--name</c>, <c>--labels</c>, <c>--ip</c> and <c>--api</c>, each at most once (the namespace options
    /// <c>--netns</c>, <c>--new-netns</c>, <c>--ports</c>, <c>--udp</c> and <c>--sidecar</c> go to System.CommandLine), as
    /// <c>--opt VALUE</c>, <c>--opt=VALUE</c> or <c>--opt:VALUE</c>; then either <c>--</c> and a non-empty command
    /// (taken verbatim), or a command whose words do not look like options or response files. A separate VALUE must
    /// not start with <c>-</c> or <c>@</c> nor be empty or <c>/?</c> or <c>/h</c> (System.CommandLine may read
    /// those as an option, a response file or help).
    /// </remarks>
    public static RunArguments? TryParse(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Count < 2 || args[0] != "run")
        {
            return null;
        }

        string? name = null, labels = null, ip = null, api = null;
        for (var i = 1; i < args.Count; i++)
        {
            var token = args[i];
            if (token == "--")
            {
                return i + 1 < args.Count ? new RunArguments(Slice(args, i + 1), name, labels, ip, api) : null;
            }
            if (token.StartsWith('-'))
            {
                string option, value;
                var delimiter = token.IndexOfAny([':', '=']);
                if (delimiter >= 0)
                {
                    option = token[..delimiter];
                    value = token[(delimiter + 1)..];
                    if (value.Length == 0)
                    {
                        return null;
                    }
                }
                else
                {
                    if (i + 1 >= args.Count || !IsPlainValue(args[i + 1]))
                    {
                        return null;
                    }
                    option = token;
                    value = args[++i];
                }
                var known = option switch
                {
                    "--name" => TrySet(ref name, value),
                    "--labels" => TrySet(ref labels, value),
                    "--ip" => TrySet(ref ip, value),
                    "--api" => TrySet(ref api, value),
                    _ => false,
                };
                if (!known)
                {
                    return null;
                }
                continue;
            }

            // The command without "--": System.CommandLine still reads options among its words, so take it only
            // when none of them could be one.
            for (var j = i; j < args.Count; j++)
            {
                if (!IsPlainValue(args[j]))
                {
                    return null;
                }
            }
            return new RunArguments(Slice(args, i), name, labels, ip, api);
        }
        return null;
    }

    /// <summary>
    /// The first word before the command that looks like an option but is none of <c>ax run</c>'s. System.CommandLine
    /// would take it for the program's name (<c>ax run --bogus -- x</c> would try to run "--bogus"), so the caller
    /// reports it as a usage error instead. Null when there is none.
    /// </summary>
    public static string? FindUnknownOption(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        for (var i = 1; i < args.Count; i++)
        {
            var token = args[i];
            if (token == "--" || !token.StartsWith('-') || token is "-h" or "--help" or "-?")
            {
                return null;
            }
            var delimiter = token.IndexOfAny([':', '=']);
            var option = delimiter >= 0 ? token[..delimiter] : token;
            if (option == "--new-netns")
            {
                continue; // a flag: no value follows
            }
            if (option is not ("--name" or "--labels" or "--ip" or "--api" or "--netns" or "--ports" or "--udp" or "--sidecar"))
            {
                return token;
            }
            if (delimiter < 0)
            {
                i++; // its value
            }
        }
        return null;
    }

    // Not an option, "--", a response file (@file) or a help alias, and not empty (which System.CommandLine drops).
    private static bool IsPlainValue(string token) =>
        token.Length > 0 && token[0] is not ('-' or '@') && token is not ("/?" or "/h");

    // A repeated option is System.CommandLine's to report.
    private static bool TrySet(ref string? slot, string value)
    {
        if (slot is not null)
        {
            return false;
        }
        slot = value;
        return true;
    }

    private static string[] Slice(IReadOnlyList<string> args, int start)
    {
        var slice = new string[args.Count - start];
        for (var i = 0; i < slice.Length; i++)
        {
            slice[i] = args[start + i];
        }
        return slice;
    }
}
