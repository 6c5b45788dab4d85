using System.Text.Json.Serialization;
using Istio.AppSwitch.Delegation;

namespace Istio.AppSwitch.Dataplane.Delegation;

/// <summary>A sidecar as <c>GET /v1/delegation</c> shows it.</summary>
public sealed class SidecarDto
{
    /// <summary>The name it registered with.</summary>
    public required string Name { get; init; }

    /// <summary>"outbound", "inbound" or both.</summary>
    public required List<string> Directions { get; init; }

    /// <summary>Connections delegated to it so far.</summary>
    public long Delegated { get; init; }

    /// <summary>When it registered (UTC, ISO 8601).</summary>
    public DateTimeOffset RegisteredSince { get; init; }

    /// <summary>The DTO of <paramref name="info"/>.</summary>
    public static SidecarDto From(SidecarInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        return new SidecarDto
        {
            Name = info.Name,
            Directions = info.Directions.ToQuery().Split(',').ToList(),
            Delegated = info.Delegated,
            RegisteredSince = info.RegisteredSince,
        };
    }
}

/// <summary>Source-generated JSON for the delegation API (ax ships trimmed), shared by the daemon and the CLI.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(List<SidecarDto>))]
public sealed partial class DelegationJsonContext : JsonSerializerContext;
