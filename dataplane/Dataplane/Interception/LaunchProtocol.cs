using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>
/// The hand-off between <c>ax run</c> and the daemon. The launcher installs its seccomp filter, then sends one
/// request on the daemon's launch socket with the filter's listener fd attached (<c>SCM_RIGHTS</c>), and waits
/// for one response before it <c>execve</c>s the application.
/// </summary>
/// <remarks>
/// This cannot ride on the REST API: Kestrel reads with plain <c>recv</c>, and the kernel discards ancillary data
/// (and closes the fds in it) when the reader does not ask for it. Hence a second socket beside the API socket,
/// named <c>&lt;api&gt;.launch</c> (the way containerd serves <c>containerd.sock.ttrpc</c> beside its main socket).
/// Framing: a 4-byte little-endian length, then UTF-8 JSON. The application's pid and uid are not in the request:
/// the daemon takes them from <c>SO_PEERCRED</c>, which the launcher cannot forge, and which names the future
/// application because <c>execve</c> keeps the pid.
/// </remarks>
public static class LaunchProtocol
{
    /// <summary>Upper bound of one message; a registration is a few hundred bytes.</summary>
    public const int MaxMessageBytes = 64 * 1024;

    /// <summary>The launch socket that belongs to an API socket.</summary>
    public static string LaunchSocketPath(string apiSocketPath) => apiSocketPath + ".launch";

    /// <summary>Encodes a message: length prefix and JSON.</summary>
    public static byte[] Encode<T>(T message, JsonSerializerContext context)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(message, typeof(T), context);
        if (json.Length > MaxMessageBytes)
        {
            throw new ArgumentException($"launch message is {json.Length} bytes; the limit is {MaxMessageBytes}", nameof(message));
        }
        var frame = new byte[4 + json.Length];
        BinaryPrimitives.WriteInt32LittleEndian(frame, json.Length);
        json.CopyTo(frame.AsSpan(4));
        return frame;
    }

    /// <summary>
    /// Reads the length prefix of a frame. Returns the body length, or -1 when it is outside [1, <see cref="MaxMessageBytes"/>].
    /// </summary>
    public static int ReadLength(ReadOnlySpan<byte> prefix)
    {
        var length = BinaryPrimitives.ReadInt32LittleEndian(prefix);
        return length is > 0 and <= MaxMessageBytes ? length : -1;
    }

    /// <summary>Decodes a frame body; returns null when it is not valid JSON of that type.</summary>
    public static T? Decode<T>(ReadOnlySpan<byte> body, JsonSerializerContext context) where T : class
    {
        try
        {
            return JsonSerializer.Deserialize(body, typeof(T), context) as T;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>What <c>ax run</c> asks of the daemon.</summary>
public sealed record LaunchRequest
{
    /// <summary>The protocol version; the daemon rejects versions it does not know.</summary>
    public int Version { get; init; } = 1;

    /// <summary><c>--name</c>, or null for the command's base name.</summary>
    public string? Name { get; init; }

    /// <summary><c>--labels</c>, parsed.</summary>
    public Dictionary<string, string> Labels { get; init; } = [];

    /// <summary><c>--ip</c>, the address the application believes it has, or null.</summary>
    public string? Ip { get; init; }

    /// <summary>The command line, as the launcher will <c>execve</c> it.</summary>
    public List<string> Command { get; init; } = [];
}

/// <summary>The daemon's answer: the app id, or why the application must not start.</summary>
public sealed record LaunchResponse
{
    /// <summary>The registered application's id, when accepted.</summary>
    public string? AppId { get; init; }

    /// <summary>Why the launch was refused; the launcher prints it and does not start the application.</summary>
    public string? Error { get; init; }
}

/// <summary>Source-generated JSON for the launch protocol (ax ships trimmed).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(LaunchRequest))]
[JsonSerializable(typeof(LaunchResponse))]
public sealed partial class LaunchJsonContext : JsonSerializerContext;
