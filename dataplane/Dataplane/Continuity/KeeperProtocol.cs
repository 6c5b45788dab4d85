using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Istio.AppSwitch.Interop;

namespace Istio.AppSwitch.Dataplane.Continuity;

/// <summary>
/// The wire between a daemon and its keeper (docs/interception.md, "When the daemon restarts"). The keeper is a
/// key-value store whose values may carry one fd: a frame is a 4-byte little-endian length and a UTF-8 JSON object,
/// and an fd travels as <c>SCM_RIGHTS</c> with the frame's first byte. Operations:
/// <list type="bullet">
/// <item><c>{"op":"put","key":K,"value":V}</c>, with or without an fd: stores V (and the fd, whose previous one is closed).</item>
/// <item><c>{"op":"delete","key":K}</c>: removes K and every key under <c>K/</c>.</item>
/// <item><c>{"op":"sync"}</c>: the keeper answers <c>{"op":"end"}</c> once everything sent before on the connection is applied.</item>
/// <item><c>{"op":"list"}</c>: the keeper answers one <c>{"key":K,"value":V}</c> frame per entry (with its fd), then <c>{"op":"end"}</c>.</item>
/// </list>
/// The keeper reads nothing in the values: what they mean is the daemon's (<see cref="ContinuityKeys"/>).
/// </summary>
public static class KeeperProtocol
{
    /// <summary>Upper bound of one frame: a mesh journal can be a few MB.</summary>
    public const int MaxFrameBytes = 64 * 1024 * 1024;

    /// <summary>The keeper socket that belongs to an API socket.</summary>
    public static string KeeperSocketPath(string apiSocketPath) => apiSocketPath + ".keeper";

    /// <summary>Encodes <c>put</c>: <paramref name="value"/> is written as raw JSON and must be valid JSON.</summary>
    public static byte[] Put(string key, byte[] value) => Frame(writer =>
    {
        writer.WriteString("op", "put");
        writer.WriteString("key", key);
        writer.WritePropertyName("value");
        writer.WriteRawValue(value, skipInputValidation: true);
    });

    /// <summary>Encodes <c>delete</c>.</summary>
    public static byte[] Delete(string key) => Frame(writer =>
    {
        writer.WriteString("op", "delete");
        writer.WriteString("key", key);
    });

    /// <summary>Encodes <c>sync</c>: the keeper answers <c>end</c> once it has applied what came before on the connection.</summary>
    public static byte[] Sync() => Frame(writer => writer.WriteString("op", "sync"));

    /// <summary>Encodes <c>list</c>.</summary>
    public static byte[] List() => Frame(writer => writer.WriteString("op", "list"));

    /// <summary>Encodes <c>end</c>, the last answer to <c>list</c>.</summary>
    public static byte[] End() => Frame(writer => writer.WriteString("op", "end"));

    /// <summary>Encodes one entry of the answer to <c>list</c>.</summary>
    public static byte[] Entry(string key, byte[] value) => Frame(writer =>
    {
        writer.WriteString("key", key);
        writer.WritePropertyName("value");
        writer.WriteRawValue(value, skipInputValidation: true);
    });

    private static byte[] Frame(Action<Utf8JsonWriter> write) => Interception.JsonFrames.Frame(write, MaxFrameBytes, "a keeper frame");
}

/// <summary>One decoded frame: the operation (null in an entry), the key, the raw JSON value, and an fd if one came with it.</summary>
public sealed class KeeperFrame : IDisposable
{
    internal KeeperFrame(string? op, string? key, byte[]? value, SafeFd? fd)
    {
        Op = op;
        Key = key;
        Value = value;
        Fd = fd;
    }

    /// <summary><c>put</c>, <c>delete</c>, <c>list</c>, <c>end</c>; null for an entry of a list.</summary>
    public string? Op { get; }

    /// <summary>The key, when the frame names one.</summary>
    public string? Key { get; }

    /// <summary>The value's JSON, when the frame has one.</summary>
    public byte[]? Value { get; }

    /// <summary>The fd that came with the frame; whoever keeps it takes it (sets this to null by <see cref="TakeFd"/>).</summary>
    public SafeFd? Fd { get; private set; }

    /// <summary>Takes the fd out of the frame.</summary>
    public SafeFd? TakeFd()
    {
        var fd = Fd;
        Fd = null;
        return fd;
    }

    /// <inheritdoc />
    public void Dispose() => Fd?.Dispose();
}

/// <summary>A blocking Unix stream connection that carries keeper frames. One reader and one writer at a time.</summary>
public sealed class KeeperConnection : IDisposable
{
    private readonly Socket _socket;
    private readonly byte[] _prefix = new byte[4];

    /// <summary>Wraps a connected Unix stream socket; the connection owns it.</summary>
    public KeeperConnection(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        _socket = socket;
        _socket.Blocking = true;
    }

    /// <summary>The socket, for SO_PEERCRED and timeouts.</summary>
    public Socket Socket => _socket;

    /// <summary>Sends one frame, with <paramref name="fd"/> attached when given.</summary>
    /// <exception cref="IOException">The peer is gone.</exception>
    public void Send(byte[] frame, SafeHandle? fd = null)
    {
        Errno error;
        if (fd is null)
        {
            error = Sockets.SendWithFds(_socket.SafeHandle, frame, []);
        }
        else
        {
            var added = false;
            try
            {
                fd.DangerousAddRef(ref added);
                error = Sockets.SendWithFds(_socket.SafeHandle, frame, [(int)fd.DangerousGetHandle()]);
            }
            finally
            {
                if (added)
                {
                    fd.DangerousRelease();
                }
            }
        }
        if (error != Errno.Success)
        {
            throw new IOException($"sending to the keeper connection failed: {error}");
        }
    }

    /// <summary>
    /// Receives one frame; null at end of stream. Throws <see cref="InvalidDataException"/> for a frame that is not
    /// a JSON object of the protocol, and <see cref="IOException"/> when the connection fails.
    /// </summary>
    public KeeperFrame? Receive()
    {
        SafeFd? fd = null;
        try
        {
            if (!ReadExactly(_prefix, ref fd, allowEof: true))
            {
                return null;
            }
            var length = BinaryPrimitives.ReadInt32LittleEndian(_prefix);
            if (length is <= 0 or > KeeperProtocol.MaxFrameBytes)
            {
                throw new InvalidDataException($"a keeper frame says it has {length} bytes");
            }
            var body = new byte[length];
            ReadExactly(body, ref fd, allowEof: false);
            var frame = Decode(body, fd);
            fd = null;
            return frame;
        }
        finally
        {
            fd?.Dispose();
        }
    }

    private bool ReadExactly(byte[] buffer, ref SafeFd? fd, bool allowEof)
    {
        Span<int> fds = stackalloc int[Sockets.MaxFdsPerMessage];
        var offset = 0;
        while (offset < buffer.Length)
        {
            var error = Sockets.ReceiveWithFds(_socket.SafeHandle, buffer.AsSpan(offset), fds, out var received, out var fdCount);
            for (var i = 0; i < fdCount; i++)
            {
                if (fd is null)
                {
                    fd = SafeFd.FromOwned(fds[i]);
                }
                else
                {
                    SafeFd.FromOwned(fds[i]).Dispose(); // one fd a frame: extras are closed, not leaked
                }
            }
            if (error != Errno.Success)
            {
                throw new IOException($"receiving from the keeper connection failed: {error}");
            }
            if (received == 0)
            {
                if (offset == 0 && allowEof)
                {
                    return false;
                }
                throw new IOException("the keeper connection closed in the middle of a frame");
            }
            offset += received;
        }
        return true;
    }

    private static KeeperFrame Decode(byte[] body, SafeFd? fd)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException("a keeper frame is not a JSON object");
            }
            var op = root.TryGetProperty("op", out var opElement) ? opElement.GetString() : null;
            var key = root.TryGetProperty("key", out var keyElement) ? keyElement.GetString() : null;
            byte[]? value = null;
            if (root.TryGetProperty("value", out var valueElement))
            {
                value = Encoding.UTF8.GetBytes(valueElement.GetRawText());
            }
            return new KeeperFrame(op, key, value, fd);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            throw new InvalidDataException($"a keeper frame is not valid JSON: {ex.Message}", ex);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _socket.Dispose();
}
