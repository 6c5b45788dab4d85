using System.Globalization;
using System.Net;

namespace Istio.AppSwitch.Daemon;

/// <summary>Where <c>ax daemon --metrics</c> serves <c>/metrics</c>: a TCP address or a Unix socket.</summary>
public sealed record MetricsAddress
{
    private MetricsAddress(IPEndPoint? tcp, string? unixPath)
    {
        Tcp = tcp;
        UnixPath = unixPath;
    }

    /// <summary>The TCP address, or null for a Unix socket.</summary>
    public IPEndPoint? Tcp { get; }

    /// <summary>The Unix socket's path, or null for TCP.</summary>
    public string? UnixPath { get; }

    /// <inheritdoc />
    public override string ToString() => Tcp is { } tcp ? tcp.ToString() : $"unix:{UnixPath}";

    /// <summary>
    /// Parses <c>IP:PORT</c>, <c>[IPv6]:PORT</c>, <c>:PORT</c> (every address, as Prometheus exporters do),
    /// <c>localhost:PORT</c>, or <c>unix:PATH</c>. Throws <see cref="FormatException"/> with the reason.
    /// </summary>
    public static MetricsAddress Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        const string expected = "expected IP:PORT, [IPv6]:PORT, :PORT, localhost:PORT or unix:PATH";
        if (text.StartsWith("unix:", StringComparison.Ordinal))
        {
            var path = text["unix:".Length..];
            if (path.Length == 0 || !Path.IsPathRooted(path))
            {
                throw new FormatException($"--metrics {text}: a Unix socket needs an absolute path (unix:/run/ax/metrics.sock)");
            }
            return new MetricsAddress(null, path);
        }
        var colon = text.LastIndexOf(':');
        if (colon < 0)
        {
            throw new FormatException($"--metrics {text}: no port; {expected}");
        }
        var host = text[..colon];
        var portText = text[(colon + 1)..];
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            throw new FormatException($"--metrics {text}: \"{portText}\" is not a port (1-65535); {expected}");
        }
        IPAddress? address;
        if (host.Length == 0)
        {
            address = IPAddress.IPv6Any;
        }
        else if (host == "localhost")
        {
            address = IPAddress.Loopback;
        }
        else if (host.StartsWith('[') && host.EndsWith(']'))
        {
            if (!IPAddress.TryParse(host[1..^1], out address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
            {
                throw new FormatException($"--metrics {text}: \"{host}\" is not an IPv6 address; {expected}");
            }
        }
        else if (!IPAddress.TryParse(host, out address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
        {
            throw new FormatException($"--metrics {text}: \"{host}\" is not an IP address (names other than localhost are not resolved); {expected}");
        }
        return new MetricsAddress(new IPEndPoint(address, port), null);
    }
}
