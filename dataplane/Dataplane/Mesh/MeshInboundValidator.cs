using System.Collections.Immutable;
using System.Text.Json;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Dataplane.Configuration;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Rbac;

namespace Istio.AppSwitch.Dataplane.Mesh;

/// <summary>
/// Checks the inbound half of a <see cref="MeshUpdateRequest"/> (<c>inbound</c>, <c>deleteInbound</c>) field by field,
/// without stopping at the first problem, as <see cref="MeshUpdateValidator"/> does for services and clusters. A bad
/// RBAC node is named down to the matcher (<c>inbound[2].rbac.engines[0].policies[1].principals[0].sourceIp</c>).
/// </summary>
internal static class MeshInboundValidator
{
    private const int MaxKeyLength = 512;

    /// <summary>The validated inbound half: policies to upsert, keys to delete.</summary>
    public sealed record InboundUpdate(IReadOnlyList<InboundPolicy> Upserts, IReadOnlyList<string> Deletes);

    /// <summary>Validates and appends every problem to <paramref name="errors"/>; the result is meaningful only when none were added.</summary>
    public static InboundUpdate Validate(MeshUpdateRequest request, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(request);
        var upserts = new List<InboundPolicy>();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        var ports = new HashSet<(string Selector, ushort Port)>();
        var inbound = request.Inbound ?? [];
        for (var i = 0; i < inbound.Count; i++)
        {
            var field = $"inbound[{i}]";
            if (ValidatePort(inbound[i], field, errors) is not { } policy)
            {
                continue;
            }
            if (!keys.Add(policy.Key))
            {
                errors.Add(new FieldError($"{field}.key", $"{field}: inbound port \"{policy.Key}\" appears more than once in the batch"));
            }
            else if (!ports.Add((policy.Selector.Text, policy.Port)))
            {
                // Two entries for the same workload and port would make the enforced rule depend on key order.
                errors.Add(new FieldError($"{field}.port", $"{field}: another inbound port of the batch has selector \"{policy.Selector}\" and port {policy.Port}"));
            }
            upserts.Add(policy);
        }

        var deletes = new List<string>();
        var requestDeletes = request.DeleteInbound ?? [];
        for (var i = 0; i < requestDeletes.Count; i++)
        {
            var key = requestDeletes[i] ?? "";
            if (key.Length == 0)
            {
                errors.Add(new FieldError($"deleteInbound[{i}]", $"deleteInbound[{i}]: an inbound port key is required"));
            }
            else if (keys.Contains(key))
            {
                errors.Add(new FieldError($"deleteInbound[{i}]", $"deleteInbound[{i}]: inbound port \"{key}\" is both upserted and deleted in the batch"));
            }
            deletes.Add(key);
        }
        return new InboundUpdate(upserts, deletes);
    }

    /// <summary>Validates and throws <see cref="ValidationException"/> with every problem.</summary>
    public static InboundUpdate Validate(MeshUpdateRequest request)
    {
        var errors = new List<FieldError>();
        var update = Validate(request, errors);
        ValidationException.ThrowIfAny(errors);
        return update;
    }

    private static InboundPolicy? ValidatePort(MeshInboundPortDto? dto, string field, List<FieldError> errors)
    {
        if (dto is null)
        {
            errors.Add(new FieldError(field, $"{field}: an inbound port is required"));
            return null;
        }
        var count = errors.Count;
        if (string.IsNullOrEmpty(dto.Key) || dto.Key.Length > MaxKeyLength)
        {
            errors.Add(new FieldError($"{field}.key", $"{field}.key: a key of 1 to {MaxKeyLength} characters is required"));
        }
        LabelSelector? selector = null;
        if (string.IsNullOrWhiteSpace(dto.Selector))
        {
            // An empty selector would put the port's RBAC on every application of the node.
            errors.Add(new FieldError($"{field}.selector", $"{field}.selector: a selector of the workload's labels is required"));
        }
        else if (!LabelSelector.TryParse(dto.Selector, out selector, out var problem))
        {
            errors.Add(new FieldError($"{field}.selector", $"{field}.selector: {problem}"));
        }
        if (dto.Port is < 0 or > 65535)
        {
            errors.Add(new FieldError($"{field}.port", $"{field}.port: {dto.Port} is not a port (1 to 65535, or 0 for every other port)"));
        }
        var mode = MeshUpdateValidator.ParseMode(dto.Mode, field, errors);
        var reasons = dto.Reasons ?? [];
        for (var i = 0; i < reasons.Count; i++)
        {
            if (string.IsNullOrEmpty(reasons[i]))
            {
                errors.Add(new FieldError($"{field}.reasons[{i}]", $"{field}.reasons[{i}]: a reason code is required"));
            }
        }
        var rbac = RbacModel.None;
        if (dto.Rbac is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) } json)
        {
            try
            {
                rbac = RbacJson.Read(json);
            }
            catch (RbacJsonException ex)
            {
                var at = ex.Path.Length == 0 ? $"{field}.rbac" : $"{field}.rbac.{ex.Path}";
                errors.Add(new FieldError(at, $"{at}: {ex.Problem}"));
            }
        }
        var resources = IstioResourceRef.Validate(dto.IstioResources, field, errors);
        if (errors.Count != count)
        {
            return null;
        }
        return new InboundPolicy(dto.Key!, selector!, (ushort)dto.Port, mode, [.. reasons], rbac) { IstioResources = resources };
    }
}
