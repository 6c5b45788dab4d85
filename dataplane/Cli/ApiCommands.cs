using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Istio.AppSwitch.Dataplane.Api;

namespace Istio.AppSwitch.Cli;

/// <summary>
/// The client commands of <c>ax</c>: <c>get apps|services|refs|mesh</c>, <c>create ref</c> and <c>delete ref</c>. Each is a
/// thin front end to the daemon's REST API; errors from the daemon print as one plain line per problem on stderr
/// with exit code 1.
/// </summary>
public static class ApiCommands
{
    /// <summary>Exit code of a command that ran and failed (the daemon refused, or could not be reached).</summary>
    public const int Failure = 1;

    /// <summary><c>--api PATH</c>: the daemon's socket. Shared by every command that talks to the daemon.</summary>
    public static Option<string> CreateApiOption() => new("--api")
    {
        Description = $"The ax daemon's API socket (default: ${ApiSocketPath.EnvironmentVariable}, else {ApiSocketPath.RootDefault} for root, else $XDG_RUNTIME_DIR/ax/ax.sock).",
        HelpName = "PATH",
    };

    /// <summary><c>ax get apps|services|refs|mesh [-o table|json] [--api PATH]</c>.</summary>
    public static Command CreateGetCommand()
    {
        var command = new Command("get", "List the applications under ax, their services, or the service references.");
        command.Subcommands.Add(CreateGetApps());
        command.Subcommands.Add(CreateGetServices());
        command.Subcommands.Add(CreateGetRefs());
        command.Subcommands.Add(CreateGetMesh());
        command.Subcommands.Add(CreateGetSidecars());
        command.Subcommands.Add(ObservabilityCommands.CreateGetConnections());
        return command;
    }

    /// <summary>
    /// <c>ax create ref NAME --vip ... --selector ... [--clients ...] [--dns NAME] [--wait D] [--nonblocking hold|eagain]
    /// [--exclude CIDR,...] [--proxy-protocol none|v2] [--api PATH]</c>.
    /// </summary>
    public static Command CreateCreateCommand()
    {
        var command = new Command("create", "Create a service reference.");
        var name = RejectOptionLike(new Argument<string>("NAME") { Description = "The ref's name: lowercase letters, digits, '-' and '.'." });
        var vip = new Option<string>("--vip")
        {
            Description = "The virtual address clients connect to: IP:PORT, IP/PREFIX:PORT or IP/PREFIX:* ([v6]:PORT, v6/PREFIX:* for IPv6).",
            HelpName = "IP[/PREFIX]:PORT|*",
            Required = true,
        };
        var selector = new Option<string>("--selector")
        {
            Description = "The services that back the ref, by their app's labels: k=v[,k=v] (also k!=v, k, !k).",
            HelpName = "k=v[,k=v]",
            Required = true,
        };
        var clients = new Option<string?>("--clients")
        {
            Description = "The clients the ref applies to, by their labels (default: every client).",
            HelpName = "k=v[,k=v]",
        };
        var dns = new Option<string?>("--dns") { Description = "A DNS name for the VIP.", HelpName = "NAME" };
        var wait = new Option<string?>("--wait")
        {
            Description = "How long a connect waits for a backend to listen when there is none, e.g. 30s, 2m, 500ms; 0 refuses at once (default 30s).",
            HelpName = "DURATION",
        };
        var nonblocking = new Option<string?>("--nonblocking")
        {
            Description = "What a nonblocking connect gets while there is no backend: hold it like a blocking one, or EAGAIN at once (default hold).",
            HelpName = "hold|eagain",
        };
        var exclude = new Option<string?>("--exclude")
        {
            Description = "Destinations the ref leaves alone although its VIP covers them.",
            HelpName = "CIDR[,CIDR]",
        };
        var proxyProtocol = new Option<string?>("--proxy-protocol")
        {
            Description = "Write a PROXY protocol v2 header with the original destination into each connection (default v2 for 0.0.0.0/0:* and ::/0:*, else none).",
            HelpName = "none|v2",
        };
        var noUnix = new Option<bool>("--no-unix")
        {
            Description = "Keep the ref's connections on TCP even when the backend runs under the same ax daemon (by default they are switched to a Unix socket pair).",
        };
        var api = CreateApiOption();

        var reference = new Command("ref", "Create a service reference: connects to its VIP go to a live service its selector matches.")
        {
            name, vip, selector, clients, dns, wait, nonblocking, exclude, proxyProtocol, noUnix, api,
        };
        reference.SetAction((parse, cancellationToken) => RunAsync(parse, api, async (client, stdout) =>
        {
            var created = await client.CreateRefAsync(
                new CreateRefRequest
                {
                    Name = parse.GetValue(name),
                    Vip = parse.GetValue(vip),
                    Selector = parse.GetValue(selector),
                    Clients = parse.GetValue(clients),
                    Dns = parse.GetValue(dns),
                    Wait = parse.GetValue(wait),
                    Nonblocking = parse.GetValue(nonblocking),
                    Exclude = parse.GetValue(exclude),
                    ProxyProtocol = parse.GetValue(proxyProtocol),
                    NoUnix = parse.GetValue(noUnix) ? true : null,
                },
                cancellationToken).ConfigureAwait(false);
            await stdout.WriteLineAsync($"ref/{created.Name} created").ConfigureAwait(false);
            return 0;
        }));
        command.Subcommands.Add(reference);
        return command;
    }

    /// <summary><c>ax delete ref NAME [--api PATH]</c>.</summary>
    public static Command CreateDeleteCommand()
    {
        var command = new Command("delete", "Delete a service reference.");
        var name = RejectOptionLike(new Argument<string>("NAME") { Description = "The ref's name." });
        var api = CreateApiOption();
        var reference = new Command("ref", "Delete a service reference; connects to its VIP are no longer redirected.") { name, api };
        reference.SetAction((parse, cancellationToken) => RunAsync(parse, api, async (client, stdout) =>
        {
            var refName = parse.GetRequiredValue(name);
            await client.DeleteRefAsync(refName, cancellationToken).ConfigureAwait(false);
            await stdout.WriteLineAsync($"ref/{refName} deleted").ConfigureAwait(false);
            return 0;
        }));
        command.Subcommands.Add(reference);
        return command;
    }

    private static Command CreateGetApps()
    {
        var id = RejectOptionLike(new Argument<string?>("ID") { Description = "One application's id (app-N).", Arity = ArgumentArity.ZeroOrOne });
        var (output, api) = (CreateOutputOption(), CreateApiOption());
        var command = new Command("apps", "List the applications running under ax.") { id, output, api };
        command.Aliases.Add("app");
        command.SetAction((parse, cancellationToken) => RunAsync(parse, api, async (client, stdout) =>
        {
            var apps = parse.GetValue(id) is { } one
                ? [await client.GetAppAsync(one, cancellationToken).ConfigureAwait(false)]
                : await client.GetAppsAsync(cancellationToken).ConfigureAwait(false);
            if (IsStructured(parse, output))
            {
                var json = parse.GetValue(id) is null
                    ? JsonSerializer.Serialize(apps, ApiJsonContext.Indented.ListAppDto)
                    : JsonSerializer.Serialize(apps[0], ApiJsonContext.Indented.AppDto);
                await WriteStructuredAsync(parse, output, json).ConfigureAwait(false);
                return 0;
            }
            // CHAINED counts what went to a proxy (Envoy or a delegation sidecar); ACCEPTED and DENIED, what ax decided
            // at accept. The JSON has every counter apart.
            // NETNS is the inode of the app's own network namespace (what `ip netns identify` and /proc/PID/ns/net
            // name), blank for the host's.
            var table = new TableWriter("ID", "NAME", "PID", "USER", "IP", "NETNS", "LABELS", "REDIRECTED", "REFUSED", "CHAINED", "ACCEPTED", "DENIED", "AGE");
            var now = DateTimeOffset.UtcNow;
            foreach (var app in apps)
            {
                var connects = app.Connects;
                table.Add(app.Id, app.Name, app.Pid.ToString(CultureInfo.InvariantCulture),
                    app.Labels.GetValueOrDefault("ax.user"), app.Ip, app.Netns?.ToString(CultureInfo.InvariantCulture), UserLabels(app.Labels),
                    connects.Redirected.ToString(CultureInfo.InvariantCulture), connects.Refused.ToString(CultureInfo.InvariantCulture),
                    (connects.Chained + connects.Delegated).ToString(CultureInfo.InvariantCulture),
                    connects.AcceptAllowed.ToString(CultureInfo.InvariantCulture), connects.AcceptDenied.ToString(CultureInfo.InvariantCulture),
                    TableWriter.Age(app.StartedAt, now));
            }
            return Print(parse, table, apps.Count, "apps");
        }));
        return command;
    }

    private static Command CreateGetServices()
    {
        var (output, api) = (CreateOutputOption(), CreateApiOption());
        var command = new Command("services", "List the services the applications under ax listen on.") { output, api };
        command.Aliases.Add("service");
        command.Aliases.Add("svc");
        command.SetAction((parse, cancellationToken) => RunAsync(parse, api, async (client, stdout) =>
        {
            var services = await client.GetServicesAsync(cancellationToken).ConfigureAwait(false);
            if (IsStructured(parse, output))
            {
                await WriteStructuredAsync(parse, output, JsonSerializer.Serialize(services, ApiJsonContext.Indented.ListServiceDto)).ConfigureAwait(false);
                return 0;
            }
            var table = new TableWriter("ID", "APP", "PROTOCOL", "REQUESTED", "BOUND", "ADVERTISED", "SWITCHED", "AGE");
            var now = DateTimeOffset.UtcNow;
            foreach (var s in services)
            {
                table.Add(s.Id, $"{s.AppName} ({s.AppId})", s.Protocol, s.Requested, s.Bound, s.Advertised,
                    s.Switched.ToString(CultureInfo.InvariantCulture), TableWriter.Age(s.CreatedAt, now));
            }
            return Print(parse, table, services.Count, "services");
        }));
        return command;
    }

    private static Command CreateGetRefs()
    {
        var name = RejectOptionLike(new Argument<string?>("NAME") { Description = "One ref's name.", Arity = ArgumentArity.ZeroOrOne });
        var (output, api) = (CreateOutputOption(), CreateApiOption());
        var command = new Command("refs", "List the service references.") { name, output, api };
        command.Aliases.Add("ref");
        command.SetAction((parse, cancellationToken) => RunAsync(parse, api, async (client, stdout) =>
        {
            var refs = parse.GetValue(name) is { } one
                ? [await client.GetRefAsync(one, cancellationToken).ConfigureAwait(false)]
                : await client.GetRefsAsync(cancellationToken).ConfigureAwait(false);
            if (IsStructured(parse, output))
            {
                var json = parse.GetValue(name) is null
                    ? JsonSerializer.Serialize(refs, ApiJsonContext.Indented.ListRefDto)
                    : JsonSerializer.Serialize(refs[0], ApiJsonContext.Indented.RefDto);
                await WriteStructuredAsync(parse, output, json).ConfigureAwait(false);
                return 0;
            }
            var table = new TableWriter("NAME", "VIP", "SELECTOR", "CLIENTS", "DNS", "BACKENDS", "WAIT", "HELD", "AGE");
            var now = DateTimeOffset.UtcNow;
            var culture = System.Globalization.CultureInfo.InvariantCulture;
            foreach (var r in refs)
            {
                // HELD: how many connects wait for a backend, and how long the oldest has waited.
                var held = r.Held == 0 ? "0" : string.Create(culture, $"{r.Held} ({r.HeldLongestSeconds:0.#}s)");
                table.Add(r.Name, r.Vip, r.Selector, r.Clients, r.Dns, r.Backends.ToString(culture), r.Wait, held, TableWriter.Age(r.CreatedAt, now));
            }
            return Print(parse, table, refs.Count, "refs");
        }));
        return command;
    }

    private static Command CreateGetSidecars()
    {
        var (output, api) = (CreateOutputOption(), CreateApiOption());
        var command = new Command("sidecars", "List the sidecars registered for socket delegation (docs/delegation.md).") { output, api };
        command.Aliases.Add("sidecar");
        command.SetAction((parse, cancellationToken) => RunAsync(parse, api, async (client, stdout) =>
        {
            var sidecars = await client.GetSidecarsAsync(cancellationToken).ConfigureAwait(false);
            if (IsStructured(parse, output))
            {
                var indented = new Dataplane.Delegation.DelegationJsonContext(
                    new JsonSerializerOptions(Dataplane.Delegation.DelegationJsonContext.Default.Options) { WriteIndented = true, TypeInfoResolver = null });
                await WriteStructuredAsync(parse, output, JsonSerializer.Serialize(sidecars, indented.ListSidecarDto)).ConfigureAwait(false);
                return 0;
            }
            var table = new TableWriter("NAME", "DIRECTIONS", "DELEGATED", "AGE");
            var now = DateTimeOffset.UtcNow;
            foreach (var s in sidecars)
            {
                table.Add(s.Name, string.Join(',', s.Directions), s.Delegated.ToString(CultureInfo.InvariantCulture), TableWriter.Age(s.RegisteredSince, now));
            }
            return Print(parse, table, sidecars.Count, "sidecars");
        }));
        return command;
    }

    private static Command CreateGetMesh()
    {
        var (output, api) = (CreateOutputOption(), CreateApiOption());
        var command = new Command("mesh", "Show the mesh rules the xds-agent programmed: outbound services and their clusters.") { output, api };
        command.SetAction((parse, cancellationToken) => RunAsync(parse, api, async (client, stdout) =>
        {
            var mesh = await client.GetMeshAsync(cancellationToken).ConfigureAwait(false);
            if (IsStructured(parse, output))
            {
                await WriteStructuredAsync(parse, output, JsonSerializer.Serialize(mesh, ApiJsonContext.Indented.MeshStateDto)).ConfigureAwait(false);
                return 0;
            }
            if (mesh.Services.Count == 0 && mesh.Clusters.Count == 0)
            {
                await parse.InvocationConfiguration.Error.WriteLineAsync("No mesh rules found.").ConfigureAwait(false);
                return 0;
            }
            var culture = CultureInfo.InvariantCulture;
            var endpointCounts = mesh.Clusters.ToDictionary(c => c.Name ?? "", c => c.Endpoints?.Count ?? 0, StringComparer.Ordinal);
            var services = new TableWriter("KEY", "VIP", "MODE", "CLUSTERS", "ENDPOINTS");
            foreach (var s in mesh.Services)
            {
                // A cluster's weight is shown only when the service splits its connections.
                var clusters = s.Clusters ?? [];
                var names = string.Join(',', clusters.Select(c => clusters.Count > 1 ? $"{c.Name}({c.Weight ?? 1})" : c.Name));
                var endpoints = clusters.Sum(c => endpointCounts.GetValueOrDefault(c.Name ?? ""));
                services.Add(s.Key, s.Vip, s.Mode ?? "fast", names, endpoints.ToString(culture));
            }
            var table = new TableWriter("NAME", "LB", "ENDPOINTS", "ACTIVE", "EJECTED");
            foreach (var c in mesh.Clusters)
            {
                var endpoints = c.Endpoints ?? [];
                table.Add(c.Name, c.LbPolicy ?? "round_robin", endpoints.Count.ToString(culture),
                    endpoints.Sum(e => e.ActiveConnections ?? 0).ToString(culture), endpoints.Count(e => e.Ejected == true).ToString(culture));
            }
            var writer = parse.InvocationConfiguration.Output;
            services.WriteTo(writer, TerminalWidth(parse));
            await writer.WriteLineAsync().ConfigureAwait(false);
            table.WriteTo(writer, TerminalWidth(parse));
            return 0;
        }));
        return command;
    }

    /// <summary>
    /// Makes an unknown flag in an argument's place a usage error: System.CommandLine would otherwise take
    /// <c>ax get refs --bogus</c> as a request for the ref named "--bogus". No name or id starts with '-'.
    /// </summary>
    internal static Argument<T> RejectOptionLike<T>(Argument<T> argument)
    {
        argument.Validators.Add(result =>
        {
            foreach (var token in result.Tokens)
            {
                if (token.Value.StartsWith('-'))
                {
                    result.AddError($"Unrecognized command or argument '{token.Value}'.");
                }
            }
        });
        return argument;
    }

    internal static Option<string> CreateOutputOption()
    {
        var option = new Option<string>("--output", "-o")
        {
            Description = "The output format: a table, the API's JSON, or the same as YAML.",
            HelpName = "table|json|yaml",
            DefaultValueFactory = _ => "table",
        };
        option.AcceptOnlyFromAmong(StructuredOutput.Formats);
        return option;
    }

    internal static bool IsStructured(ParseResult parse, Option<string> output) => parse.GetValue(output) is "json" or "yaml";

    /// <summary>Writes a JSON document as <c>-o</c> asks: as it is, or as YAML.</summary>
    internal static Task WriteStructuredAsync(ParseResult parse, Option<string> output, string json)
    {
        var stdout = parse.InvocationConfiguration.Output;
        return parse.GetValue(output) == "yaml" ? stdout.WriteAsync(StructuredOutput.ToYaml(json)) : stdout.WriteLineAsync(json);
    }

    /// <summary>
    /// The width tables must fit: <c>$COLUMNS</c> when set, else the terminal's when stdout is one; null (whole cells)
    /// when stdout is a pipe or a file, so scripts see everything.
    /// </summary>
    internal static int? TerminalWidth(ParseResult parse)
    {
        if (int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), NumberStyles.None, CultureInfo.InvariantCulture, out var columns) && columns > 0)
        {
            return columns;
        }
        if (!ReferenceEquals(parse.InvocationConfiguration.Output, Console.Out) || Console.IsOutputRedirected)
        {
            return null;
        }
        try
        {
            return Console.WindowWidth is > 0 and var width ? width : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    internal static int Print(ParseResult parse, TableWriter table, int count, string what)
    {
        if (count == 0)
        {
            // As kubectl: nothing on stdout (scripts see an empty list), a note for the person on stderr.
            parse.InvocationConfiguration.Error.WriteLine($"No {what} found.");
            return 0;
        }
        table.WriteTo(parse.InvocationConfiguration.Output, TerminalWidth(parse));
        return 0;
    }

    private static string UserLabels(Dictionary<string, string> labels) =>
        string.Join(',', labels.Where(l => !l.Key.StartsWith("ax.", StringComparison.Ordinal)).Select(l => $"{l.Key}={l.Value}"));

    /// <summary>
    /// Resolves the socket, runs <paramref name="action"/> with a client, and turns the failures into plain
    /// messages on stderr and exit code 1.
    /// </summary>
    internal static async Task<int> RunAsync(ParseResult parse, Option<string> api, Func<AxApiClient, TextWriter, Task<int>> action)
    {
        var stderr = parse.InvocationConfiguration.Error;
        try
        {
            using var client = new AxApiClient(ApiSocketPath.Resolve(parse.GetValue(api)));
            return await action(client, parse.InvocationConfiguration.Output).ConfigureAwait(false);
        }
        catch (AxApiException e)
        {
            if (e.Details.Count > 1)
            {
                foreach (var detail in e.Details)
                {
                    await stderr.WriteLineAsync($"ax: {detail.Message}").ConfigureAwait(false);
                }
            }
            else
            {
                await stderr.WriteLineAsync($"ax: {e.Message}").ConfigureAwait(false);
            }
            return Failure;
        }
        catch (Exception e) when (e is DaemonUnreachableException or InvalidOperationException)
        {
            await stderr.WriteLineAsync($"ax: {e.Message}").ConfigureAwait(false);
            return Failure;
        }
    }
}
