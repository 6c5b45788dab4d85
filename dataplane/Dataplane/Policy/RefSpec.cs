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
public sealed record RefSpec(string? Name, string? Vip, string? Selector, string? Clients = null, string? Dns = null);
