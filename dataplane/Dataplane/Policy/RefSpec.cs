namespace Istio.AppSwitch.Dataplane.Policy;

/// <summary>
/// A service reference as a user or an API client writes it: every field is text, validated as a whole by
/// <see cref="RefStore.Create"/>.
/// </summary>
/// <param name="Name">The ref's name: a lowercase DNS subdomain (<c>redis</c>, <c>reviews.default</c>).</param>
/// <param name="Vip">The VIP (<see cref="VipSpec"/> syntax).</param>
/// <param name="Selector">Which services back the ref (<see cref="LabelSelector"/> syntax); must not be empty.</param>
/// <param name="Clients">Which clients the ref applies to; null or empty means every client.</param>
/// <param name="Dns">An optional DNS name for the VIP.</param>
/// <param name="Wait">How long a connect waits for a backend (<see cref="DurationText"/>); null for the default, 30s.</param>
/// <param name="Nonblocking"><c>hold</c> or <c>eagain</c>; null for the default, <c>hold</c>.</param>
/// <param name="Exclude">Destinations left alone, <c>CIDR[,CIDR]</c>; null for none.</param>
/// <param name="ProxyProtocol"><c>none</c> or <c>v2</c>; null for the default: <c>v2</c> for a catch-all VIP, else <c>none</c>.</param>
/// <param name="NoUnix">Keep the ref's connections on TCP even to a co-located service (docs/unix-switch.md).</param>
public sealed record RefSpec(string? Name, string? Vip, string? Selector, string? Clients = null, string? Dns = null,
    string? Wait = null, string? Nonblocking = null, string? Exclude = null, string? ProxyProtocol = null, bool NoUnix = false);
