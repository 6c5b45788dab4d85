using System.Globalization;

namespace Istio.AppSwitch.Dataplane.Registry;

/// <summary>
/// One <c>--ports HOST:APP</c> mapping of an application in its own network namespace: when it binds TCP port
/// <see cref="App"/> (on the wildcard or loopback), ax binds <see cref="Host"/> in the host's namespace instead.
/// </summary>
/// <param name="Host">The port bound in the host's namespace, where clients reach it.</param>
/// <param name="App">The port the application binds and believes it has.</param>
public readonly record struct PortMapping(int Host, int App)
{
    /// <summary>"HOST:APP".</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Host}:{App}");

    /// <summary>
    /// Parses <c>--ports</c> values, each one or more comma-separated <c>HOST:APP</c> pairs with ports 1 to 65535,
    /// and no host port or application port given twice. Every problem is reported, not only the first.
    /// </summary>
    public static bool TryParse(IEnumerable<string> values, out List<PortMapping> mappings, out string? error)
    {
        ArgumentNullException.ThrowIfNull(values);
        mappings = [];
        var problems = new List<string>();
        foreach (var value in values)
        {
            foreach (var item in value.Split(','))
            {
                var colon = item.IndexOf(':', StringComparison.Ordinal);
                if (colon < 0)
                {
                    problems.Add($"\"{item}\" is not of the form HOST:APP");
                    continue;
                }
                if (!TryParsePort(item[..colon], out var host) || !TryParsePort(item[(colon + 1)..], out var app))
                {
                    problems.Add($"\"{item}\": ports are numbers from 1 to 65535");
                    continue;
                }
                mappings.Add(new PortMapping(host, app));
            }
        }
        problems.AddRange(Validate(mappings));
        error = problems.Count == 0 ? null : string.Join("; ", problems);
        return error is null;
    }

    /// <summary>What is wrong with a list of mappings (ranges, a port given twice); empty when nothing is.</summary>
    public static IEnumerable<string> Validate(IReadOnlyList<PortMapping> mappings)
    {
        ArgumentNullException.ThrowIfNull(mappings);
        var hosts = new HashSet<int>();
        var apps = new HashSet<int>();
        foreach (var mapping in mappings)
        {
            if (mapping.Host is < 1 or > 65535 || mapping.App is < 1 or > 65535)
            {
                yield return $"\"{mapping}\": ports are numbers from 1 to 65535";
                continue;
            }
            if (!hosts.Add(mapping.Host))
            {
                yield return $"host port {mapping.Host} is mapped twice";
            }
            if (!apps.Add(mapping.App))
            {
                yield return $"application port {mapping.App} is mapped twice";
            }
        }
    }

    private static bool TryParsePort(string text, out int port) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 1 and <= 65535;
}
