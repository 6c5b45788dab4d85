namespace Istio.AppSwitch.Dataplane.Policy;

/// <summary>
/// A validated service reference: connections from matching clients to <see cref="Vip"/> go to a live service
/// whose labels match <see cref="Selector"/>. Immutable; replaced, never changed.
/// </summary>
public sealed class ServiceRef
{
    internal ServiceRef(string name, VipSpec vip, LabelSelector selector, LabelSelector clients, string? dns, DateTimeOffset createdAt)
    {
        Name = name;
        Vip = vip;
        Selector = selector;
        Clients = clients;
        Dns = dns;
        CreatedAt = createdAt;
    }

    /// <summary>The unique name.</summary>
    public string Name { get; }

    /// <summary>The virtual address clients connect to.</summary>
    public VipSpec Vip { get; }

    /// <summary>Selects the backing services by their app's labels; never empty.</summary>
    public LabelSelector Selector { get; }

    /// <summary>Selects the clients the ref applies to; empty means every client.</summary>
    public LabelSelector Clients { get; }

    /// <summary>The DNS name for the VIP, lowercase without a trailing dot, or null.</summary>
    public string? Dns { get; }

    /// <summary>When the ref was created.</summary>
    public DateTimeOffset CreatedAt { get; }

    /// <summary>The name and VIP, for logs.</summary>
    public override string ToString() => $"{Name} ({Vip})";
}
