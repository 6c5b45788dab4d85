using System.Net;
using System.Text;
using System.Text.Json;
using Istio.AppSwitch.Delegation;

namespace Istio.AppSwitch.Proxy.Configuration;

/// <summary>
/// Reads <c>ax proxy</c>'s JSON configuration (docs/proxy-chain.md) with <see cref="JsonDocument"/> (no reflection:
/// ax ships trimmed), and validates all of it before reporting: every problem is listed, each with its field path.
/// Unknown fields are errors, since a misspelt condition would otherwise widen a match silently.
/// </summary>
public static class ProxyConfigReader
{
    /// <summary>The plugin types, with the fields each takes besides "type" and "match".</summary>
    private static readonly Dictionary<string, string[]> PluginFields = new(StringComparer.Ordinal)
    {
        ["drop"] = [],
        ["direct"] = ["connectTimeoutMs"],
        ["forward-proxy"] = ["address", "connectTimeoutMs"],
        ["forward-delegation"] = ["path"],
    };

    private static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Reads and validates a configuration file.</summary>
    /// <exception cref="ProxyConfigException">The file is unreadable, not JSON, or invalid.</exception>
    public static ProxyConfig ReadFile(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ProxyConfigException($"{path}: {e.Message}");
        }
        return Parse(text);
    }

    /// <summary>Parses and validates a configuration.</summary>
    /// <exception cref="ProxyConfigException">Not JSON, or invalid.</exception>
    public static ProxyConfig Parse(string json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new ProxyConfigException($"not valid JSON: {e.Message}");
        }

        using (document)
        {
            var errors = new List<string>();
            var plugins = new List<PluginConfig>();
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new ProxyConfigException("the configuration must be a JSON object with \"plugins\"");
            }
            foreach (var property in root.EnumerateObject())
            {
                if (property.Name != "plugins")
                {
                    errors.Add($"{property.Name}: unknown field (the configuration has only \"plugins\")");
                }
            }
            if (!root.TryGetProperty("plugins", out var list) || list.ValueKind != JsonValueKind.Array || list.GetArrayLength() == 0)
            {
                errors.Add("plugins: required, a non-empty array of plugins");
            }
            else
            {
                var index = 0;
                string? catchAll = null;
                foreach (var element in list.EnumerateArray())
                {
                    var path = $"plugins[{index++}]";
                    if (catchAll is not null)
                    {
                        errors.Add($"{path}: unreachable: {catchAll} handles every connection (give it a \"match\")");
                    }
                    if (ReadPlugin(element, path, errors) is { } plugin)
                    {
                        plugins.Add(plugin);
                        if (plugin.Match is null && plugin.Type is "drop" or "direct")
                        {
                            catchAll ??= $"{path} ({plugin.Type})";
                        }
                    }
                }
            }
            if (errors.Count > 0)
            {
                throw new ProxyConfigException(errors);
            }
            return new ProxyConfig(plugins);
        }
    }

    private static PluginConfig? ReadPlugin(JsonElement element, string path, List<string> errors)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            errors.Add($"{path}: must be an object with a \"type\"");
            return null;
        }
        var before = errors.Count;
        if (!element.TryGetProperty("type", out var typeElement) || typeElement.ValueKind != JsonValueKind.String)
        {
            errors.Add($"{path}.type: required, one of {string.Join(", ", PluginFields.Keys)}");
            return null;
        }
        var type = typeElement.GetString()!;
        if (!PluginFields.TryGetValue(type, out var fields))
        {
            errors.Add($"{path}.type: unknown plugin \"{type}\"; known: {string.Join(", ", PluginFields.Keys)}");
            return null;
        }
        foreach (var property in element.EnumerateObject())
        {
            if (property.Name is not ("type" or "match") && !fields.Contains(property.Name))
            {
                errors.Add($"{path}.{property.Name}: unknown field for \"{type}\"" +
                    (fields.Length > 0 ? $" (it takes match, {string.Join(", ", fields)})" : " (it takes match)"));
            }
        }

        ConnectionMatch? match = null;
        if (element.TryGetProperty("match", out var matchElement))
        {
            match = ReadMatch(matchElement, path + ".match", errors);
        }

        IPEndPoint? address = null;
        if (type == "forward-proxy")
        {
            if (!element.TryGetProperty("address", out var addressElement) || addressElement.ValueKind != JsonValueKind.String
                || !IPEndPoint.TryParse(addressElement.GetString()!, out address) || address.Port == 0)
            {
                errors.Add($"{path}.address: required, the next proxy as IP:PORT (\"127.0.0.1:15001\", \"[::1]:15001\")");
            }
        }

        string? socketPath = null;
        if (type == "forward-delegation")
        {
            if (!element.TryGetProperty("path", out var pathElement) || pathElement.ValueKind != JsonValueKind.String
                || pathElement.GetString() is not { Length: > 0 } text || Encoding.UTF8.GetByteCount(text) > 107)
            {
                errors.Add($"{path}.path: required, the Unix socket path of the next ax-aware proxy (1 to 107 bytes)");
            }
            else
            {
                socketPath = pathElement.GetString();
            }
        }

        var timeout = DefaultConnectTimeout;
        if (element.TryGetProperty("connectTimeoutMs", out var timeoutElement))
        {
            if (timeoutElement.ValueKind != JsonValueKind.Number || !timeoutElement.TryGetInt32(out var milliseconds) || milliseconds is < 1 or > 600_000)
            {
                errors.Add($"{path}.connectTimeoutMs: an integer from 1 to 600000");
            }
            else
            {
                timeout = TimeSpan.FromMilliseconds(milliseconds);
            }
        }

        return errors.Count == before ? new PluginConfig(type, match, address, socketPath, timeout) : null;
    }

    private static ConnectionMatch? ReadMatch(JsonElement element, string path, List<string> errors)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            errors.Add($"{path}: must be an object of conditions");
            return null;
        }
        var match = new ConnectionMatch();
        foreach (var property in element.EnumerateObject())
        {
            var field = $"{path}.{property.Name}";
            var value = property.Value;
            switch (property.Name)
            {
                case "destination":
                    var networks = new List<IPNetwork>();
                    foreach (var (item, itemPath) in OneOrMany(value, field))
                    {
                        if (item.ValueKind != JsonValueKind.String || !TryParseNetwork(item.GetString()!, out var network))
                        {
                            errors.Add($"{itemPath}: a CIDR (\"10.0.0.0/8\") or an address");
                        }
                        else
                        {
                            networks.Add(network);
                        }
                    }
                    match = match with { Destinations = networks };
                    break;
                case "port":
                    var ports = new List<int>();
                    foreach (var (item, itemPath) in OneOrMany(value, field))
                    {
                        if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out var port) || port is < 1 or > 65535)
                        {
                            errors.Add($"{itemPath}: a port from 1 to 65535");
                        }
                        else
                        {
                            ports.Add(port);
                        }
                    }
                    match = match with { Ports = ports };
                    break;
                case "direction":
                    var direction = value.ValueKind == JsonValueKind.String ? value.GetString() : null;
                    if (direction is "outbound" or "inbound")
                    {
                        match = match with { Direction = direction == "inbound" ? DelegationKind.Inbound : DelegationKind.Outbound };
                    }
                    else
                    {
                        errors.Add($"{field}: \"outbound\" or \"inbound\"");
                    }
                    break;
                case "protocol":
                case "sni":
                case "identity":
                    if (value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: > 0 } text)
                    {
                        errors.Add($"{field}: a non-empty string");
                        break;
                    }
                    if (property.Name == "identity" && text.Split('/') is not [{ Length: > 0 }, { Length: > 0 }])
                    {
                        errors.Add($"{field}: namespace/serviceaccount");
                        break;
                    }
                    match = property.Name switch
                    {
                        "protocol" => match with { Protocol = text },
                        "sni" => match with { Sni = text },
                        _ => match with { Identity = text },
                    };
                    break;
                case "labels":
                    if (value.ValueKind != JsonValueKind.Object)
                    {
                        errors.Add($"{field}: an object of label names to values");
                        break;
                    }
                    var labels = new Dictionary<string, string>(StringComparer.Ordinal);
                    foreach (var label in value.EnumerateObject())
                    {
                        if (label.Value.ValueKind != JsonValueKind.String)
                        {
                            errors.Add($"{field}.{label.Name}: a string value");
                        }
                        else
                        {
                            labels[label.Name] = label.Value.GetString()!;
                        }
                    }
                    match = match with { Labels = labels };
                    break;
                default:
                    errors.Add($"{field}: unknown condition (known: destination, port, direction, protocol, sni, labels, identity)");
                    break;
            }
        }
        return match;
    }

    private static IEnumerable<(JsonElement Item, string Path)> OneOrMany(JsonElement value, string path)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            yield return (value, path);
            yield break;
        }
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            yield return (item, $"{path}[{index++}]");
        }
    }

    private static bool TryParseNetwork(string text, out IPNetwork network)
    {
        if (IPNetwork.TryParse(text, out network))
        {
            return true;
        }
        if (IPAddress.TryParse(text, out var address))
        {
            network = new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }
        return false;
    }
}
