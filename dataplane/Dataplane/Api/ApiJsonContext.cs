using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Istio.AppSwitch.Dataplane.Api;

/// <summary>
/// Source-generated JSON for every type of the REST API. ax ships trimmed, so no reflection-based serialization:
/// the daemon and the CLI both go through this context. camelCase names; absent optional fields are omitted.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(AppDto))]
[JsonSerializable(typeof(List<AppDto>))]
[JsonSerializable(typeof(ServiceDto))]
[JsonSerializable(typeof(List<ServiceDto>))]
[JsonSerializable(typeof(RefDto))]
[JsonSerializable(typeof(List<RefDto>))]
[JsonSerializable(typeof(CreateRefRequest))]
[JsonSerializable(typeof(VersionDto))]
[JsonSerializable(typeof(HealthDto))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(MeshUpdateRequest))]
[JsonSerializable(typeof(MeshUpdateResponse))]
[JsonSerializable(typeof(MeshStateDto))]
[JsonSerializable(typeof(ConnectionDto))]
[JsonSerializable(typeof(List<ConnectionDto>))]
[JsonSerializable(typeof(EventDto))]
[JsonSerializable(typeof(RefDescriptionDto))]
[JsonSerializable(typeof(AppDescriptionDto))]
public sealed partial class ApiJsonContext : JsonSerializerContext
{
    // Lazy, not initialized with the class: the generated half of this class initializes the static fields that
    // Default reads, and the order of static initializers across partial files is unspecified. A race builds
    // two equal contexts, which is harmless.
    private static ApiJsonContext? _relaxed;
    private static ApiJsonContext? _indented;

    /// <summary>
    /// The context the daemon writes with: <see cref="Default"/>'s settings, but quotes and apostrophes in
    /// messages are written as they are, not as <c>\u0022</c>. The API is read by programs and by people with
    /// curl, never embedded in HTML, so the HTML-safe default escaping only hurts.
    /// </summary>
    public static ApiJsonContext Relaxed => _relaxed ??= Create(writeIndented: false);

    /// <summary><see cref="Relaxed"/>, indented: what <c>ax get -o json</c> prints.</summary>
    public static ApiJsonContext Indented => _indented ??= Create(writeIndented: true);

    private static ApiJsonContext Create(bool writeIndented) =>
        new(new JsonSerializerOptions(Default.Options)
        {
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            WriteIndented = writeIndented,
            TypeInfoResolver = null,
        });
}
