using System.CommandLine;
using System.CommandLine.Completions;
using System.Globalization;
using System.Text.Json;
using Istio.AppSwitch.Dataplane.Api;

namespace Istio.AppSwitch.Cli;

/// <summary>
/// The operator's view (docs/metrics.md): <c>ax get conns</c>, <c>ax describe ref|app</c> and <c>ax events</c>, each a thin
/// front end to the daemon's API.
/// </summary>
public static class ObservabilityCommands
{
    /// <summary><c>ax get conns [--app ID] [-o table|json|yaml]</c>.</summary>
    internal static Command CreateGetConnections()
    {
        var app = new Option<string?>("--app") { Description = "Only this application's connects.", HelpName = "ID" };
        var (output, api) = (ApiCommands.CreateOutputOption(), ApiCommands.CreateApiOption());
        var command = new Command("conns",
            $"List the connect decisions ax made recently: the daemon keeps the last {Dataplane.Observability.ConnectionLog.DefaultCapacity} " +
            "in a ring, newest first, whatever became of them (allowed, refused, held, left to the kernel).\n\n" +
            "Examples:\n  ax get conns\n  ax get conns --app app-3 -o yaml")
        {
            app, output, api,
        };
        command.Aliases.Add("connections");
        command.SetAction((parse, cancellationToken) => ApiCommands.RunAsync(parse, api, async (client, _) =>
        {
            var connections = await client.GetConnectionsAsync(parse.GetValue(app), cancellationToken).ConfigureAwait(false);
            if (ApiCommands.IsStructured(parse, output))
            {
                await ApiCommands.WriteStructuredAsync(parse, output, JsonSerializer.Serialize(connections, ApiJsonContext.Indented.ListConnectionDto))
                    .ConfigureAwait(false);
                return 0;
            }
            return ApiCommands.Print(parse, ConnectionTable(connections), connections.Count, "connections");
        }));
        return command;
    }

    private static TableWriter ConnectionTable(List<ConnectionDto> connections)
    {
        // APP is the app that connected (its id and the pid ax started); DESTINATION what it asked for (a VIP);
        // BACKEND where ax connected it.
        var table = new TableWriter("APP", "PID", "DESTINATION", "BACKEND", "MODE", "DECISION", "REF", "AGE");
        var now = DateTimeOffset.UtcNow;
        foreach (var c in connections)
        {
            table.Add($"{c.App} ({c.AppName})", c.Pid.ToString(CultureInfo.InvariantCulture), c.Destination, c.Backend, c.Mode, c.Decision, c.Ref,
                TableWriter.Age(c.Time, now));
        }
        return table;
    }

    /// <summary><c>ax describe ref NAME | app ID [-o table|json|yaml]</c>.</summary>
    public static Command CreateDescribeCommand()
    {
        var command = new Command("describe", "Explain a ref or an application: what it matches, which mode its connects run in, and why.");

        var name = ApiCommands.RejectOptionLike(new Argument<string>("NAME")
        {
            Description = "A ref's name, or a mesh service's key (IP:PORT), route name (mesh/KEY) or host name.",
        });
        var (refOutput, refApi) = (ApiCommands.CreateOutputOption(), ApiCommands.CreateApiOption());
        // Ref names and mesh host names; mesh keys (IP:PORT) are left out: bash splits words at ':'.
        name.CompletionSources.Add(context => LiveNames(context, refApi, async (client, token) =>
        {
            var refs = await client.GetRefsAsync(token).ConfigureAwait(false);
            var mesh = await client.GetMeshAsync(token).ConfigureAwait(false);
            return refs.Select(r => r.Name).Concat(mesh.Services.SelectMany(s => s.DnsNames ?? []));
        }));
        var reference = new Command("ref",
            "Explain a ref: its VIP and selector, the services it matches now, whether its connects are switched to Unix sockets, " +
            "go fast, or are chained (and why), the Istio resources behind a mesh service, the RBAC on its backends, and its " +
            "connection counts.\n\nExamples:\n  ax describe ref redis\n  ax describe ref reviews.default.svc.cluster.local\n  ax describe ref redis -o json")
        {
            name, refOutput, refApi,
        };
        reference.SetAction((parse, cancellationToken) => ApiCommands.RunAsync(parse, refApi, async (client, stdout) =>
        {
            var described = await client.DescribeRefAsync(parse.GetRequiredValue(name), cancellationToken).ConfigureAwait(false);
            if (ApiCommands.IsStructured(parse, refOutput))
            {
                await ApiCommands.WriteStructuredAsync(parse, refOutput, JsonSerializer.Serialize(described, ApiJsonContext.Indented.RefDescriptionDto))
                    .ConfigureAwait(false);
                return 0;
            }
            WriteRef(stdout, described, ApiCommands.TerminalWidth(parse));
            return 0;
        }));
        command.Subcommands.Add(reference);

        var id = ApiCommands.RejectOptionLike(new Argument<string>("ID") { Description = "The application's id (app-N)." });
        var (appOutput, appApi) = (ApiCommands.CreateOutputOption(), ApiCommands.CreateApiOption());
        id.CompletionSources.Add(context => LiveNames(context, appApi, async (client, token) =>
            (await client.GetAppsAsync(token).ConfigureAwait(false)).Select(a => a.Id)));
        var application = new Command("app",
            "Explain an application: its labels and pid, the services it listens on, the refs that apply to its connects, and its " +
            "recent connects with what ax decided.\n\nExamples:\n  ax describe app app-1\n  ax describe app app-1 -o yaml")
        {
            id, appOutput, appApi,
        };
        application.SetAction((parse, cancellationToken) => ApiCommands.RunAsync(parse, appApi, async (client, stdout) =>
        {
            var described = await client.DescribeAppAsync(parse.GetRequiredValue(id), cancellationToken).ConfigureAwait(false);
            if (ApiCommands.IsStructured(parse, appOutput))
            {
                await ApiCommands.WriteStructuredAsync(parse, appOutput, JsonSerializer.Serialize(described, ApiJsonContext.Indented.AppDescriptionDto))
                    .ConfigureAwait(false);
                return 0;
            }
            WriteApp(stdout, described, ApiCommands.TerminalWidth(parse));
            return 0;
        }));
        command.Subcommands.Add(application);
        return command;
    }

    /// <summary>
    /// Names the daemon knows now, for shell completion (<c>[suggest]</c>): asked with a deadline of a second, and none
    /// when the daemon cannot answer, so that a completion never hangs a shell or prints an error into its line.
    /// </summary>
    internal static IEnumerable<CompletionItem> LiveNames(CompletionContext context, Option<string> api,
        Func<AxApiClient, CancellationToken, Task<IEnumerable<string>>> query)
    {
        List<string> names;
        try
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            using var client = new AxApiClient(ApiSocketPath.Resolve(context.ParseResult.GetValue(api)));
            names = [.. query(client, deadline.Token).GetAwaiter().GetResult()];
        }
        catch (Exception e) when (e is AxApiException or DaemonUnreachableException or InvalidOperationException or OperationCanceledException
            or IOException or HttpRequestException or JsonException)
        {
            return [];
        }
        return names.Where(n => n.StartsWith(context.WordToComplete, StringComparison.Ordinal))
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .Select(n => new CompletionItem(n));
    }

    /// <summary><c>ax events [--follow]</c>.</summary>
    public static Command CreateEventsCommand()
    {
        var follow = new Option<bool>("--follow", "-f")
        {
            Description = "Keep the stream open and print each event as it happens, until interrupted.",
        };
        var api = ApiCommands.CreateApiOption();
        var command = new Command("events",
            "Print the daemon's decision events as JSON lines: connect decided, held, released, service up/down, ref created/deleted, " +
            "mesh applied, xDS ACKed/NACKed. Without --follow, prints the recent connect decisions and exits. A reader that falls " +
            "behind loses events and is told so by a \"dropped\" event.\n\n" +
            "Examples:\n  ax events --follow\n  ax events -f | jq 'select(.decision == \"refused\")'")
        {
            follow, api,
        };
        command.SetAction((parse, cancellationToken) => ApiCommands.RunAsync(parse, api, async (client, stdout) =>
        {
            if (!parse.GetValue(follow))
            {
                var recent = await client.GetConnectionsAsync(null, cancellationToken).ConfigureAwait(false);
                recent.Reverse();
                foreach (var c in recent)
                {
                    var e = new EventDto
                    {
                        Time = c.Time,
                        Type = c.Decision == "held" ? "held" : "connect",
                        App = c.App,
                        Ref = c.Ref,
                        Destination = c.Destination,
                        Backend = c.Backend,
                        Mode = c.Mode,
                        Decision = c.Decision,
                    };
                    await stdout.WriteLineAsync(JsonSerializer.Serialize(e, ApiJsonContext.Relaxed.EventDto)).ConfigureAwait(false);
                }
                return 0;
            }
            try
            {
                await foreach (var line in client.StreamEventsAsync(null, cancellationToken).ConfigureAwait(false))
                {
                    await stdout.WriteLineAsync(line).ConfigureAwait(false);
                    await stdout.FlushAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Ctrl-C: the stream ends, which is the normal way out of --follow.
            }
            return 0;
        }));
        return command;
    }

    private static void WriteRef(TextWriter w, RefDescriptionDto d, int? width)
    {
        var r = d.Ref;
        w.WriteLine($"Ref:          {r.Name}");
        w.WriteLine($"Origin:       {(d.Origin == "mesh" ? "mesh (the xds-agent's translation of istiod's configuration)" : "api (ax create ref)")}");
        w.WriteLine($"VIP:          {r.Vip}");
        if (r.Dns is not null)
        {
            w.WriteLine($"DNS:          {r.Dns}");
        }
        if (d.Origin == "api")
        {
            w.WriteLine($"Selector:     {r.Selector}");
            w.WriteLine($"Clients:      {(string.IsNullOrEmpty(r.Clients) ? "every application" : r.Clients)}");
            w.WriteLine($"Wait:         {r.Wait} ({r.Nonblocking} for nonblocking connects)");
        }
        w.WriteLine($"Mode:         {d.Mode}");
        foreach (var reason in d.Reasons)
        {
            w.WriteLine($"   - {reason}");
        }
        w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Backends:     {r.Backends}"));
        if (r.Held > 0)
        {
            w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Held:         {r.Held} connects, the oldest for {r.HeldLongestSeconds:0.#}s"));
        }
        if (d.Origin == "api")
        {
            w.WriteLine("Services:");
            if (d.Services.Count == 0)
            {
                w.WriteLine("   <none>");
            }
            else
            {
                var table = new TableWriter("ID", "APP", "PROTOCOL", "BOUND", "SWITCHED");
                foreach (var s in d.Services)
                {
                    table.Add(s.Id, $"{s.AppName} ({s.AppId})", s.Protocol, s.Bound, s.Switched.ToString(CultureInfo.InvariantCulture));
                }
                WriteIndented(w, table, width);
            }
        }
        if (d.IstioResources is { Count: > 0 } istio)
        {
            // One line, as istioctl x describe prints them; the raw metadata paths are in -o json|yaml.
            w.WriteLine($"Istio resources: {string.Join(", ", istio.Select(IstioResourceText))}");
        }
        WriteList(w, "Clusters:", d.Clusters);
        WriteList(w, "Produced by:", d.Sources);
        WriteList(w, "RBAC:", d.Rbac ?? (d.Origin == "api" ? ["none: no inbound policy applies to its services"] : null));
        w.WriteLine("Connections:");
        if (d.Connections.Count == 0)
        {
            w.WriteLine("   none since the daemon started");
        }
        foreach (var (key, count) in d.Connections.OrderBy(c => c.Key, StringComparer.Ordinal))
        {
            w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"   {key,-22}{count}"));
        }
    }

    private static string IstioResourceText(MeshIstioResourceDto r) =>
        string.IsNullOrEmpty(r.Namespace) ? $"{r.Kind} {r.Name}" : $"{r.Kind} {r.Namespace}/{r.Name}";

    private static void WriteApp(TextWriter w, AppDescriptionDto d, int? width)
    {
        var a = d.App;
        w.WriteLine($"App:          {a.Id} ({a.Name})");
        w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Pid:          {a.Pid} (uid {a.Uid})"));
        w.WriteLine($"Command:      {string.Join(' ', a.Command)}");
        w.WriteLine($"Labels:       {(a.Labels.Count == 0 ? "<none>" : string.Join(',', a.Labels.Select(l => $"{l.Key}={l.Value}")))}");
        if (a.Ip is not null)
        {
            w.WriteLine($"IP:           {a.Ip}");
        }
        w.WriteLine($"Started:      {a.StartedAt:u} ({TableWriter.Age(a.StartedAt, DateTimeOffset.UtcNow)} ago)");
        var c = a.Connects;
        w.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Connects:     {c.Redirected} redirected ({c.Switched} to Unix sockets), {c.Chained + c.Delegated} chained, {c.Refused} refused, {c.Passthrough} left to the kernel"));
        w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Accepts:      {c.AcceptAllowed} allowed, {c.AcceptDenied} denied by inbound policy"));
        w.WriteLine("Services:");
        if (d.Services.Count == 0)
        {
            w.WriteLine("   <none>");
        }
        else
        {
            var services = new TableWriter("ID", "PROTOCOL", "REQUESTED", "BOUND", "SWITCHED");
            foreach (var s in d.Services)
            {
                services.Add(s.Id, s.Protocol, s.Requested, s.Bound, s.Switched.ToString(CultureInfo.InvariantCulture));
            }
            WriteIndented(w, services, width);
        }
        WriteList(w, "Refs:", d.Refs.Count == 0 ? ["<none> (mesh services apply to every application)"] : d.Refs);
        w.WriteLine("Recent connects:");
        if (d.Connections.Count == 0)
        {
            w.WriteLine("   <none> in the daemon's ring of recent decisions");
            return;
        }
        var table = new TableWriter("DESTINATION", "BACKEND", "MODE", "DECISION", "REF", "AGE");
        var now = DateTimeOffset.UtcNow;
        foreach (var conn in d.Connections)
        {
            table.Add(conn.Destination, conn.Backend, conn.Mode, conn.Decision, conn.Ref, TableWriter.Age(conn.Time, now));
        }
        WriteIndented(w, table, width);
    }

    private static void WriteList(TextWriter w, string title, List<string>? items)
    {
        if (items is null || items.Count == 0)
        {
            return;
        }
        w.WriteLine(title);
        foreach (var item in items)
        {
            w.WriteLine($"   {item}");
        }
    }

    private static void WriteIndented(TextWriter w, TableWriter table, int? width)
    {
        var text = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        table.WriteTo(text, width is { } columns ? Math.Max(columns - 3, 20) : null);
        foreach (var line in text.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            w.WriteLine($"   {line}");
        }
    }
}
