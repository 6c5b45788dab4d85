using System.Buffers;
using System.Buffers.Binary;
using System.Text.Json;
using Istio.AppSwitch.Dataplane.Registry;

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
/// Framing: a 4-byte little-endian length, then a UTF-8 JSON object. The application's pid and uid are not in the request:
/// the daemon takes them from <c>SO_PEERCRED</c>, which the launcher cannot forge, and which names the future
/// application because <c>execve</c> keeps the pid.
/// </remarks>
public static class LaunchProtocol
{
    /// <summary>Upper bound of one message; a registration is a few hundred bytes.</summary>
    public const int MaxMessageBytes = 64 * 1024;

    /// <summary>The launch socket that belongs to an API socket.</summary>
    public static string LaunchSocketPath(string apiSocketPath) => apiSocketPath + ".launch";

    /// <summary>Encodes a request: length prefix and JSON (by hand: it is on the launcher's path, see <see cref="LaunchJson"/>).</summary>
    public static byte[] Encode(LaunchRequest request) => LaunchJson.EncodeRequest(request);

    /// <summary>Encodes a response: length prefix and JSON.</summary>
    public static byte[] Encode(LaunchResponse response) => Frame(writer =>
    {
        if (response.AppId is not null)
        {
            writer.WriteString("appId", response.AppId);
        }
        if (response.Error is not null)
        {
            writer.WriteString("error", response.Error);
        }
    });

    /// <summary>
    /// Reads the length prefix of a frame. Returns the body length, or -1 when it is outside [1, <see cref="MaxMessageBytes"/>].
    /// </summary>
    public static int ReadLength(ReadOnlySpan<byte> prefix)
    {
        var length = BinaryPrimitives.ReadInt32LittleEndian(prefix);
        return length is > 0 and <= MaxMessageBytes ? length : -1;
    }

    /// <summary>Decodes a request body; null when it is not a valid request.</summary>
    public static LaunchRequest? DecodeRequest(ReadOnlyMemory<byte> body) => Decode(body, root =>
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (root.TryGetProperty("labels", out var labelsElement))
        {
            foreach (var label in labelsElement.EnumerateObject())
            {
                labels[label.Name] = label.Value.GetString() ?? throw new FormatException("a label value is not a string");
            }
        }
        var command = new List<string>();
        foreach (var argument in root.GetProperty("command").EnumerateArray())
        {
            command.Add(argument.GetString() ?? throw new FormatException("an argument is not a string"));
        }
        return new LaunchRequest
        {
            Version = root.GetProperty("version").GetInt32(),
            Name = root.TryGetProperty("name", out var name) ? name.GetString() : null,
            Labels = labels,
            Ip = root.TryGetProperty("ip", out var ip) ? ip.GetString() : null,
            NetworkNamespace = root.TryGetProperty("netns", out var netns) ? netns.GetUInt64() : 0,
            Ports = ReadPorts(root),
            Command = command,
            Sidecar = root.TryGetProperty("sidecar", out var sidecar) ? sidecar.GetString() : null,
        };
    });

    private static List<PortMapping> ReadPorts(JsonElement root)
    {
        var ports = new List<PortMapping>();
        if (root.TryGetProperty("ports", out var array))
        {
            foreach (var pair in array.EnumerateArray())
            {
                if (pair.GetArrayLength() != 2)
                {
                    throw new FormatException("a port mapping is not [host, app]");
                }
                ports.Add(new PortMapping(pair[0].GetInt32(), pair[1].GetInt32()));
            }
        }
        return ports;
    }

    /// <summary>Decodes a response body; null when it is not a valid response (by hand: it is on the launcher's path, see <see cref="LaunchJson"/>).</summary>
    public static LaunchResponse? DecodeResponse(ReadOnlyMemory<byte> body) => LaunchJson.DecodeResponse(body.Span);

    // The daemon's half: Utf8JsonWriter and JsonDocument (JsonFrames). The launcher's half does without
    // System.Text.Json (LaunchJson).
    private static byte[] Frame(Action<Utf8JsonWriter> writeProperties) => JsonFrames.Frame(writeProperties, MaxMessageBytes, "launch message");

    private static T? Decode<T>(ReadOnlyMemory<byte> body, Func<JsonElement, T> read) where T : class
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.ValueKind == JsonValueKind.Object ? read(document.RootElement) : null;
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException or KeyNotFoundException)
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

    /// <summary>
    /// The inode of the network namespace the application runs in (<c>--netns</c>, <c>--new-netns</c>), or 0 when it
    /// stays in the launcher's. The daemon then performs its TCP connects and mapped binds in the host's namespace.
    /// </summary>
    public ulong NetworkNamespace { get; init; }

    /// <summary><c>--ports HOST:APP</c>: the application ports bound in the host's namespace, and as which port.</summary>
    public List<PortMapping> Ports { get; init; } = [];

    /// <summary>The command line, as the launcher will <c>execve</c> it.</summary>
    public List<string> Command { get; init; } = [];

    /// <summary>
    /// <c>--sidecar NAME</c>: launch the application as the delegation sidecar NAME, which may then register for socket
    /// delegation under that name from under ax (docs/delegation.md). Null for an ordinary application.
    /// </summary>
    public string? Sidecar { get; init; }
}

/// <summary>The daemon's answer: the app id, or why the application must not start.</summary>
public sealed record LaunchResponse
{
    /// <summary>The registered application's id, when accepted.</summary>
    public string? AppId { get; init; }

    /// <summary>Why the launch was refused; the launcher prints it and does not start the application.</summary>
    public string? Error { get; init; }
}
