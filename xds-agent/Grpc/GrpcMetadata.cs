using System.Collections;

namespace Istio.AppSwitch.Grpc;

/// <summary>
/// Custom metadata of a call: request headers, response headers or trailers, as an ordered list of key/value
/// entries in which a key may repeat. Keys ending in <c>-bin</c> carry bytes (base64 on the wire), all others
/// printable ASCII (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md, "Custom-Metadata").
/// </summary>
/// <remarks>
/// <see cref="Add(string, string)"/> validates what the application sends: keys are lowercase
/// <c>[0-9a-z_.-]</c>, and the <c>grpc-</c> prefix and the headers that the transport itself writes are refused.
/// </remarks>
public sealed class GrpcMetadata : IReadOnlyList<GrpcMetadataEntry>
{
    /// <summary>The suffix that marks a binary-valued key.</summary>
    public const string BinarySuffix = "-bin";

    // Headers the transport owns: an application value would clash with the one the library writes.
    private static readonly HashSet<string> ReservedHeaders = new(StringComparer.Ordinal)
    {
        "content-type", "te", "host", "connection", "keep-alive", "proxy-connection", "transfer-encoding",
        "upgrade", "user-agent", "content-length",
    };

    private readonly List<GrpcMetadataEntry> _entries = [];

    /// <inheritdoc />
    public int Count => _entries.Count;

    /// <inheritdoc />
    public GrpcMetadataEntry this[int index] => _entries[index];

    /// <summary>Adds an ASCII entry; the key must not end in <c>-bin</c>.</summary>
    /// <exception cref="ArgumentException">The key is invalid or reserved, or the value is not printable ASCII.</exception>
    public void Add(string key, string value)
    {
        ValidateKey(key);
        _entries.Add(new GrpcMetadataEntry(key, value));
    }

    /// <summary>Adds a binary entry; the key must end in <c>-bin</c>.</summary>
    /// <exception cref="ArgumentException">The key is invalid, reserved, or lacks the <c>-bin</c> suffix.</exception>
    public void Add(string key, byte[] value)
    {
        ValidateKey(key);
        _entries.Add(new GrpcMetadataEntry(key, value));
    }

    /// <summary>Adds every entry of <paramref name="other"/>, in order.</summary>
    public void AddRange(IEnumerable<GrpcMetadataEntry> other)
    {
        ArgumentNullException.ThrowIfNull(other);
        _entries.AddRange(other);
    }

    /// <summary>The last entry with <paramref name="key"/>, or null (Grpc.Core's <c>Metadata.Get</c>).</summary>
    public GrpcMetadataEntry? Get(string key)
    {
        for (var i = _entries.Count - 1; i >= 0; i--)
        {
            if (string.Equals(_entries[i].Key, key, StringComparison.Ordinal))
            {
                return _entries[i];
            }
        }

        return null;
    }

    /// <summary>The ASCII value of the last entry with <paramref name="key"/>, or null.</summary>
    public string? GetValue(string key) => Get(key)?.Value;

    /// <summary>The bytes of the last binary entry with <paramref name="key"/>, or null.</summary>
    public byte[]? GetValueBytes(string key) => Get(key)?.ValueBytes;

    /// <summary>Every entry with <paramref name="key"/>, in order.</summary>
    public IEnumerable<GrpcMetadataEntry> GetAll(string key) =>
        _entries.Where(e => string.Equals(e.Key, key, StringComparison.Ordinal));

    /// <summary>
    /// Reads metadata from received HTTP/2 header fields, skipping pseudo-headers and the fields the gRPC
    /// protocol itself uses (<c>grpc-status</c>, <c>grpc-message</c>, <c>content-type</c>, ...). Binary values
    /// are base64-decoded, padded or not, and split on commas as the spec allows; an entry that does not decode
    /// is dropped rather than failing the call.
    /// </summary>
    public static GrpcMetadata FromHeaders(IEnumerable<KeyValuePair<string, IEnumerable<string>>> headers)
    {
        ArgumentNullException.ThrowIfNull(headers);
        var metadata = new GrpcMetadata();
        foreach (var (rawKey, values) in headers)
        {
            var key = rawKey.ToLowerInvariant();
            if (IsProtocolHeader(key) || !IsValidKeySyntax(key))
            {
                continue;
            }

            foreach (var value in values)
            {
                if (!key.EndsWith(BinarySuffix, StringComparison.Ordinal))
                {
                    metadata._entries.Add(new GrpcMetadataEntry(key, value, validate: false));
                    continue;
                }

                foreach (var part in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                {
                    if (TryDecodeBase64(part, out var bytes))
                    {
                        metadata._entries.Add(new GrpcMetadataEntry(key, bytes));
                    }
                }
            }
        }

        return metadata;
    }

    /// <inheritdoc />
    public IEnumerator<GrpcMetadataEntry> GetEnumerator() => _entries.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Whether <paramref name="key"/> may be sent as application metadata.</summary>
    public static bool IsValidKey(string key) =>
        IsValidKeySyntax(key) && !key.StartsWith("grpc-", StringComparison.Ordinal) && !ReservedHeaders.Contains(key);

    private static void ValidateKey(string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (key[0] == ':')
        {
            throw new ArgumentException($"Metadata key '{key}' is a pseudo-header.", nameof(key));
        }

        if (!IsValidKeySyntax(key))
        {
            throw new ArgumentException(
                $"Metadata key '{key}' must be lowercase and contain only 0-9, a-z, '_', '-' and '.'.", nameof(key));
        }

        if (key.StartsWith("grpc-", StringComparison.Ordinal) || ReservedHeaders.Contains(key))
        {
            throw new ArgumentException($"Metadata key '{key}' is reserved for the gRPC transport.", nameof(key));
        }
    }

    private static bool IsValidKeySyntax(string key)
    {
        if (key.Length == 0)
        {
            return false;
        }

        foreach (var c in key)
        {
            if (c is not ((>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_' or '.'))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsProtocolHeader(string key) =>
        key.StartsWith(':') || (ReservedHeaders.Contains(key) && key != "user-agent") ||
        key is GrpcProtocol.StatusHeader or GrpcProtocol.MessageHeader or GrpcProtocol.TimeoutHeader
            or GrpcProtocol.EncodingHeader or GrpcProtocol.AcceptEncodingHeader;

    private static bool TryDecodeBase64(string value, out byte[] bytes)
    {
        // Peers should send unpadded base64 and must accept both; Convert wants the padding back.
        var padded = (value.Length % 4) switch
        {
            2 => value + "==",
            3 => value + "=",
            _ => value,
        };
        bytes = new byte[padded.Length / 4 * 3];
        if (Convert.TryFromBase64String(padded, bytes, out var written))
        {
            Array.Resize(ref bytes, written);
            return true;
        }

        return false;
    }
}

/// <summary>One metadata entry: a key and either an ASCII or (for <c>-bin</c> keys) a binary value.</summary>
public sealed class GrpcMetadataEntry
{
    private readonly string? _value;
    private readonly byte[]? _valueBytes;

    internal GrpcMetadataEntry(string key, string value, bool validate = true)
    {
        if (validate)
        {
            ArgumentNullException.ThrowIfNull(value);
            if (key.EndsWith(GrpcMetadata.BinarySuffix, StringComparison.Ordinal))
            {
                throw new ArgumentException($"Metadata key '{key}' ends in '-bin' and needs a byte[] value.", nameof(key));
            }

            foreach (var c in value)
            {
                if (c is < ' ' or > '~')
                {
                    throw new ArgumentException($"The value of metadata key '{key}' must be printable ASCII.", nameof(value));
                }
            }
        }

        Key = key;
        _value = value;
    }

    internal GrpcMetadataEntry(string key, byte[] value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!key.EndsWith(GrpcMetadata.BinarySuffix, StringComparison.Ordinal))
        {
            throw new ArgumentException($"Metadata key '{key}' carries bytes, so it must end in '-bin'.", nameof(key));
        }

        Key = key;
        _valueBytes = value;
    }

    /// <summary>The lowercase key.</summary>
    public string Key { get; }

    /// <summary>Whether the key ends in <c>-bin</c> and the value is bytes.</summary>
    public bool IsBinary => _valueBytes is not null;

    /// <summary>The ASCII value.</summary>
    /// <exception cref="InvalidOperationException">The entry is binary.</exception>
    public string Value => _value ?? throw new InvalidOperationException($"Metadata entry '{Key}' is binary.");

    /// <summary>The binary value.</summary>
    /// <exception cref="InvalidOperationException">The entry is ASCII.</exception>
    public byte[] ValueBytes => _valueBytes ?? throw new InvalidOperationException($"Metadata entry '{Key}' is not binary.");

    /// <summary>The value as an HTTP/2 header field carries it: ASCII as is, bytes as unpadded base64.</summary>
    public string ToHeaderValue() => _value ?? Convert.ToBase64String(_valueBytes!).TrimEnd('=');

    /// <inheritdoc />
    public override string ToString() => $"{Key}={ToHeaderValue()}";
}
