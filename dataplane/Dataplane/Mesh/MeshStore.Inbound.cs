using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Dataplane.Configuration;
using Istio.AppSwitch.Dataplane.Registry;
using Istio.AppSwitch.Rbac;

namespace Istio.AppSwitch.Dataplane.Mesh;

/// <summary>
/// The inbound half of the mesh rules: per workload port, the RBAC the daemon enforces when it accepts a connection on
/// the application's behalf (docs/inbound-policy.md). Validated with the rest of an update, and swapped under the same
/// lock in the same <see cref="Apply"/>: a batch that fails changes neither half.
/// </summary>
public sealed partial class MeshStore
{
    // Replaced, never mutated, under _gate; the accept path reads the reference without a lock.
    private InboundTable _inbound = InboundTable.Empty;

    /// <summary>The inbound policies in force, by key.</summary>
    public IReadOnlyDictionary<string, InboundPolicy> Inbound => Volatile.Read(ref _inbound).ByKey;

    /// <summary>Whether any inbound policy selects <paramref name="app"/>. Lock-free and allocation-free: the accept fast path.</summary>
    public bool HasInboundFor(AppRecord app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var table = Volatile.Read(ref _inbound);
        return !table.IsEmpty && table.AppliesTo(app.Labels);
    }

    /// <summary>
    /// The policy for a connection accepted on <paramref name="localPort"/> by <paramref name="app"/>: the app's labels
    /// must match the entry's selector, and an entry for the exact port beats one for port 0. Null: no policy, the
    /// kernel accepts. Lock-free and allocation-free.
    /// </summary>
    public InboundPolicy? FindInbound(AppRecord app, ushort localPort)
    {
        ArgumentNullException.ThrowIfNull(app);
        var table = Volatile.Read(ref _inbound);
        return table.IsEmpty ? null : table.Find(app.Labels, localPort);
    }

    /// <summary>Runs both validators, so that one <see cref="ValidationException"/> lists every problem of the batch.</summary>
    private static (MeshUpdate Update, MeshInboundValidator.InboundUpdate Inbound) ValidateWithInbound(MeshUpdateRequest request)
    {
        var errors = new List<FieldError>();
        var inbound = MeshInboundValidator.Validate(request, errors);
        MeshUpdate update;
        try
        {
            update = MeshUpdateValidator.Validate(request);
        }
        catch (ValidationException ex)
        {
            throw new ValidationException([.. ex.Errors, .. errors]);
        }
        ValidationException.ThrowIfAny(errors);
        return (update, inbound);
    }

    /// <summary>Swaps in the inbound table of this update. Caller holds <c>_gate</c>, after everything else validated.</summary>
    private void PublishInbound(MeshInboundValidator.InboundUpdate update, bool replace)
    {
        var current = _inbound.ByKey;
        var next = replace ? current.Clear() : current.RemoveRange(update.Deletes);
        foreach (var policy in update.Upserts)
        {
            next = next.SetItem(policy.Key, policy);
        }
        Volatile.Write(ref _inbound, InboundTable.Create(next));
    }

    /// <summary>The inbound ports in force for <c>GET /v1/mesh</c>, ordered by key, with their RBAC in <see cref="RbacJson"/> form.</summary>
    private List<MeshInboundPortDto> DescribeInbound() =>
        [.. Volatile.Read(ref _inbound).ByKey.Values.Select(p => new MeshInboundPortDto
        {
            Key = p.Key,
            Selector = p.Selector.Text,
            Port = p.Port,
            Mode = p.Mode.ToString().ToLowerInvariant(),
            Reasons = p.Reasons.IsEmpty ? null : [.. p.Reasons],
            Rbac = p.Rbac.Engines.IsEmpty && p.Rbac.ShadowPolicyCount == 0 ? null : RbacJson.ToElement(p.Rbac),
            IstioResources = IstioResourceRef.ToDtos(p.IstioResources),
        })];
}
