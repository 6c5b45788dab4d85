using System.Collections.Immutable;
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Net;
using Istio.AppSwitch.Dataplane.Interception;

namespace Istio.AppSwitch.Ax;

/// <summary>
/// The daemon's chaining flags (docs/envoy-chaining.md): <c>--envoy</c>, <c>--trusted-proxy</c> and
/// <c>--inspect-timeout</c>. Checked at parse time, so a bad address is a usage error (exit 2).
/// </summary>
internal sealed class ChainCommandOptions
{
    private ChainCommandOptions()
    {
        Envoy = new Option<string?>("--envoy")
        {
            Description = "Where connections of chain services go: the local Envoy's listener for ax (IP:PORT), which " +
                "receives a PROXY v2 header with the original destination first.",
            HelpName = "IP:PORT",
        };
        TrustedProxy = new Option<string[]>("--trusted-proxy")
        {
            Description = "A peer (CIDR) whose connections to applications under ax may begin with a PROXY header; ax " +
                "takes it off and the application sees the original client. Istio's inbound passthrough is 127.0.0.6/32. " +
                "May be repeated.",
            HelpName = "CIDR",
            AllowMultipleArgumentsPerToken = false,
        };
        InspectTimeout = new Option<int?>("--inspect-timeout")
        {
            Description = "How long ax waits, in milliseconds, for a trusted proxy's PROXY header or for the first bytes " +
                "an inbound L7 rule needs (default 500).",
            HelpName = "MS",
        };
    }

    public Option<string?> Envoy { get; }

    public Option<string[]> TrustedProxy { get; }

    public Option<int?> InspectTimeout { get; }

    /// <summary>Adds the flags and their checks to <paramref name="command"/>.</summary>
    public static ChainCommandOptions AddTo(Command command)
    {
        var options = new ChainCommandOptions();
        command.Options.Add(options.Envoy);
        command.Options.Add(options.TrustedProxy);
        command.Options.Add(options.InspectTimeout);
        command.Validators.Add(result =>
        {
            if (result.GetValue(options.Envoy) is { } envoy && ParseEnvoy(envoy) is null)
            {
                result.AddError($"--envoy '{envoy}': expected IP:PORT with a port from 1 to 65535 (e.g. 127.0.0.1:15001).");
            }
            foreach (var cidr in result.GetValue(options.TrustedProxy) ?? [])
            {
                if (!IPNetwork.TryParse(cidr, out _) && !IPAddress.TryParse(cidr, out _))
                {
                    result.AddError($"--trusted-proxy '{cidr}': expected an address or a CIDR (e.g. 127.0.0.6/32).");
                }
            }
            if (result.GetValue(options.InspectTimeout) is { } ms && ms is < 1 or > 60_000)
            {
                result.AddError($"--inspect-timeout {ms.ToString(CultureInfo.InvariantCulture)}: expected 1 to 60000 milliseconds.");
            }
        });
        return options;
    }

    /// <summary>The chaining options. Call only on a result without errors.</summary>
    public ChainOptions Build(ParseResult parse)
    {
        var envoy = parse.GetValue(Envoy) is { } text ? ParseEnvoy(text) : null;
        var trusted = (parse.GetValue(TrustedProxy) ?? [])
            .Select(c => IPNetwork.TryParse(c, out var network) ? network : new IPNetwork(IPAddress.Parse(c), IPAddress.Parse(c).GetAddressBytes().Length * 8))
            .ToImmutableArray();
        var timeout = parse.GetValue(InspectTimeout) is { } ms ? TimeSpan.FromMilliseconds(ms) : ChainOptions.None.InspectTimeout;
        return new ChainOptions { Envoy = envoy, TrustedProxies = trusted, InspectTimeout = timeout };
    }

    private static IPEndPoint? ParseEnvoy(string text) =>
        IPEndPoint.TryParse(text, out var endpoint) && endpoint.Port is > 0 and <= 65535 && text.Contains(':', StringComparison.Ordinal)
            && !endpoint.Address.Equals(IPAddress.Any) && !endpoint.Address.Equals(IPAddress.IPv6Any)
            ? endpoint
            : null;
}
