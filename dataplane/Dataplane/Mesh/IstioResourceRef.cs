using System.Collections.Immutable;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Dataplane.Configuration;

namespace Istio.AppSwitch.Dataplane.Mesh;

/// <summary>
/// An Istio resource behind a mesh rule (<c>VirtualService default/bookinfo</c>), as the xds-agent read it from istiod's
/// metadata. Carried for people only: nothing the daemon enforces depends on it.
/// </summary>
/// <param name="Kind">The kind (<c>DestinationRule</c>).</param>
/// <param name="Namespace">The namespace; empty when the source named none.</param>
/// <param name="Name">The name.</param>
/// <param name="Raw">The metadata path or RBAC policy name it was read from; empty when not sent.</param>
public sealed record IstioResourceRef(string Kind, string Namespace, string Name, string Raw)
{
    /// <summary>The form <c>istioctl x describe</c> prints: <c>DestinationRule default/reviews</c>.</summary>
    public override string ToString() => Namespace.Length == 0 ? $"{Kind} {Name}" : $"{Kind} {Namespace}/{Name}";

    /// <summary>The API form.</summary>
    public MeshIstioResourceDto ToDto() => new()
    {
        Kind = Kind,
        Namespace = Namespace.Length == 0 ? null : Namespace,
        Name = Name,
        Raw = Raw.Length == 0 ? null : Raw,
    };

    /// <summary>The API form of <paramref name="resources"/>; null for none, so the field is left out.</summary>
    public static List<MeshIstioResourceDto>? ToDtos(ImmutableArray<IstioResourceRef> resources) =>
        resources.IsDefaultOrEmpty ? null : [.. resources.Select(r => r.ToDto())];

    /// <summary>
    /// Checks the <c>istioResources</c> of a service or inbound port at <paramref name="field"/> and appends every
    /// problem to <paramref name="errors"/>: at most <see cref="MeshIstioResourceDto.MaxPerRule"/> entries, each with a
    /// kind of letters and a name, every text within its length. The result means something only when nothing was added.
    /// </summary>
    internal static ImmutableArray<IstioResourceRef> Validate(List<MeshIstioResourceDto>? resources, string field, List<FieldError> errors)
    {
        if (resources is null)
        {
            return [];
        }
        var at = $"{field}.istioResources";
        if (resources.Count > MeshIstioResourceDto.MaxPerRule)
        {
            errors.Add(new FieldError(at, $"{at}: at most {MeshIstioResourceDto.MaxPerRule} resources, not {resources.Count}"));
            return [];
        }
        var builder = ImmutableArray.CreateBuilder<IstioResourceRef>(resources.Count);
        for (var i = 0; i < resources.Count; i++)
        {
            var item = $"{at}[{i}]";
            if (resources[i] is not { } dto)
            {
                errors.Add(new FieldError(item, $"{item}: a resource is required"));
                continue;
            }
            var count = errors.Count;
            if (string.IsNullOrEmpty(dto.Kind) || dto.Kind.Length > MeshIstioResourceDto.MaxNameLength || !dto.Kind.All(char.IsAsciiLetter))
            {
                errors.Add(new FieldError($"{item}.kind", $"{item}.kind: a kind of 1 to {MeshIstioResourceDto.MaxNameLength} ASCII letters is required (VirtualService)"));
            }
            if (string.IsNullOrEmpty(dto.Name) || dto.Name.Length > MeshIstioResourceDto.MaxNameLength || HasControl(dto.Name))
            {
                errors.Add(new FieldError($"{item}.name", $"{item}.name: a name of 1 to {MeshIstioResourceDto.MaxNameLength} printable characters is required"));
            }
            if (dto.Namespace is { } ns && (ns.Length > MeshIstioResourceDto.MaxNameLength || HasControl(ns)))
            {
                errors.Add(new FieldError($"{item}.namespace", $"{item}.namespace: at most {MeshIstioResourceDto.MaxNameLength} printable characters"));
            }
            if (dto.Raw is { } raw && (raw.Length > MeshIstioResourceDto.MaxRawLength || HasControl(raw)))
            {
                errors.Add(new FieldError($"{item}.raw", $"{item}.raw: at most {MeshIstioResourceDto.MaxRawLength} printable characters"));
            }
            if (errors.Count == count)
            {
                builder.Add(new IstioResourceRef(dto.Kind!, dto.Namespace ?? "", dto.Name!, dto.Raw ?? ""));
            }
        }
        return builder.DrainToImmutable();
    }

    // A control character would reach a terminal through `ax describe` as it is.
    private static bool HasControl(string text) => text.Any(char.IsControl);
}
